"""Typer commands: each parses its arguments and calls one function of the service.

Heavy libraries are imported inside the commands that use them, so ``--help`` and the
light commands start fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer

from ..errors import ConsentgateError, InvalidInput

app = typer.Typer(
    name="consentgate",
    help="Executable data-use promises: consent, settings and terms as events; decisions, "
    "training datasets and a tamper-evident log.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
audit_app = typer.Typer(help="The tamper-evident log.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


@dataclass
class Options:
    """Global options, shared by every command."""

    db: str | None = None
    policy: Path | None = None
    debug: bool = False


OPTIONS = Options()


def _store() -> Any:
    from ..store import Store

    return Store(OPTIONS.db)


@app.callback()
def _global(
    db: Annotated[
        Optional[str],
        typer.Option("--db", envvar="CONSENTGATE_DB", help="Store URL: a SQLite file or postgresql://…"),
    ] = None,
    policy: Annotated[
        Optional[Path],
        typer.Option("--policy", envvar="CONSENTGATE_POLICY", help="Policy TOML replacing the shipped one."),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show a traceback on errors.")] = False,
) -> None:
    OPTIONS.db, OPTIONS.policy, OPTIONS.debug = db, policy, debug


def _echo(text: str) -> None:
    typer.echo(text)


@app.command()
def init() -> None:
    """Create or migrate the store (idempotent)."""
    from .. import service

    store = _store()
    version = service.init_store(store)
    _echo(f"store {store.display_url} is ready (schema {version})")


@app.command()
def load(
    file: Annotated[str, typer.Argument(help="JSON Lines of events; - reads standard input.")],
) -> None:
    """Import events, all or nothing; print what was stored per type."""
    from .. import service
    from ._progress import reading

    with reading(file) as (stream, progress):
        result = service.load_events(_store(), stream, "<stdin>" if file == "-" else file, progress)
    per_type = ", ".join(f"{type_} {count}" for type_, count in sorted(result.stored.items()))
    _echo(f"loaded {result.total} new event(s) from {file}" + (f": {per_type}" if per_type else ""))
    if result.unchanged:
        _echo(f"{result.unchanged} line(s) were already stored and left as they were")
    _echo(f"log head {result.head_seq} {result.head_hash}")


@app.command()
def decide(
    item: Annotated[Optional[str], typer.Argument(help="The item's id.")] = None,
    purpose: Annotated[Optional[str], typer.Argument(help="The purpose, e.g. ai.training.")] = None,
    at: Annotated[Optional[str], typer.Option("--at", help="Decide as of this time (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    batch: Annotated[
        Optional[str], typer.Option("--batch", help="JSON lines of {item, purpose, at}; - reads stdin.")
    ] = None,
) -> None:
    """May this item be used for this purpose, as of this time, and why.

    Exit 0 when allowed, 1 when denied (the decision is printed either way).
    `--batch` prints one JSON decision per line and exits 0.
    """
    from ._decide import run_batch, run_single

    if batch is not None:
        if item or purpose:
            raise typer.BadParameter("give ITEM PURPOSE or --batch FILE, not both")
        run_batch(_store(), OPTIONS.policy, batch)
        return
    if not item or not purpose:
        raise typer.BadParameter("decide needs ITEM and PURPOSE (or --batch FILE)")
    allowed = run_single(_store(), OPTIONS.policy, item, purpose, at, as_json)
    if not allowed:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every log entry against the stored rows and the hash chain."""
    from .. import service

    report = service.verify_log(_store())
    _echo(f"log verified: {report.entries} entries, head {report.head_seq} {report.head_hash}")


@audit_app.command("head")
def audit_head() -> None:
    """Print the log's head: sequence number and hash."""
    from .. import service

    seq, head = service.log_head(_store())
    _echo(f"{seq} {head}")


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="End after the story.")] = False,
) -> None:
    """The product's main job on an embedded store: load a story, decide, verify."""
    from ._demo import run

    run(_store(), serve=not no_serve)


@app.command()
def synth(
    out: Annotated[str, typer.Option("--out", help="File to write; - for standard output.")] = "-",
    subjects: Annotated[int, typer.Option(min=1, help="People (users).")] = 1_000,
    items: Annotated[int, typer.Option(min=0, help="Content items.")] = 10_000,
    consents: Annotated[int, typer.Option(min=0, help="Consent events.")] = 20_000,
    meetings: Annotated[int, typer.Option(min=0, help="Meetings.")] = 2_000,
    participants: Annotated[int, typer.Option(min=2, help="Participants per meeting.")] = 3,
    seed: Annotated[int, typer.Option(help="Same seed, same file.")] = 7,
) -> None:
    """Write a synthetic world as JSON Lines of events (loads as it is)."""
    from ..synth import WorldSize, write_world

    size = WorldSize(subjects, items, consents, meetings, participants, seed=seed)
    if out == "-":
        count = write_world(size, sys.stdout.buffer)
    else:
        try:
            with open(out, "wb") as stream:
                count = write_world(size, stream)
        except OSError as exc:
            raise InvalidInput(f"cannot write {out}: {exc.strerror}") from None
    print(f"wrote {count} events", file=sys.stderr)


def _fail(message: str, code: int = 1) -> NoReturn:
    print(f"consentgate: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; errors become one line on stderr and an exit code."""
    try:
        app(args=argv)
    except ConsentgateError as exc:
        if OPTIONS.debug:
            raise
        _fail(str(exc))
    except BrokenPipeError:
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:  # a bug: still one line, with the traceback behind --debug
        if OPTIONS.debug:
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)")
