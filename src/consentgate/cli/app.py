"""Typer commands: each parses its arguments and calls one function of the service.

Heavy libraries are imported inside the commands that use them, so ``--help`` and the
light commands start fast.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

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
dataset_app = typer.Typer(help="Training datasets built only from eligible items.", no_args_is_help=True)
app.add_typer(dataset_app, name="dataset")
model_app = typer.Typer(help="Models trained on datasets, split into shards.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@dataclass
class Options:
    """Global options, shared by every command."""

    db: str | None = None
    policy: Path | None = None
    debug: bool = False


OPTIONS = Options()


def _store() -> Any:
    import atexit

    from ..store import Store

    store = Store(OPTIONS.db)
    # Closed before the process ends (and before the collector is frozen, see main):
    # closing SQLite's last connection folds its write-ahead log into the file.
    atexit.register(store.dispose)
    return store


@app.callback()
def _global(
    db: Annotated[
        str | None,
        typer.Option("--db", envvar="CONSENTGATE_DB", help="Store URL: a SQLite file or postgresql://…"),
    ] = None,
    policy: Annotated[
        Path | None,
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
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Parquet content catalog outside the store, whose items "
                                  "erasures (delete) may name.")
    ] = None,
) -> None:
    """Import events, all or nothing; print what was stored per type."""
    from .. import service
    from ._progress import reading

    store = _store()
    with reading(file) as (stream, progress):
        result = service.load_events(store, stream, "<stdin>" if file == "-" else file, progress, catalog,
                                     keep=False)
    per_type = ", ".join(f"{type_} {count}" for type_, count in sorted(result.stored.items()))
    _echo(f"loaded {result.total} new event(s) from {file}" + (f": {per_type}" if per_type else ""))
    if result.unchanged:
        _echo(f"{result.unchanged} line(s) were already stored and left as they were")
    _echo(f"log head {result.head_seq} {result.head_hash}")
    # Reported first: the events are stored, keeping their columns is for the next build.
    service.keep_loaded_columns(store, result.total)


@app.command()
def decide(
    item: Annotated[str | None, typer.Argument(help="The item's id.")] = None,
    purpose: Annotated[str | None, typer.Argument(help="The purpose, e.g. ai.training.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Decide as of this time (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    batch: Annotated[
        str | None, typer.Option("--batch", help="JSON lines of {item, purpose, at}; - reads stdin.")
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


def _policy() -> Any:
    from .. import service

    return service.load_policy(OPTIONS.policy)


def _when(text: str | None, option: str = "--at") -> Any:
    from ._decide import parse_at

    return parse_at(text, option)


def _print_json(document: Any) -> None:
    import orjson

    sys.stdout.buffer.write(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")


@dataset_app.command("build")
def dataset_build(
    name: Annotated[str, typer.Argument(help="The dataset's name.")],
    purpose: Annotated[str, typer.Option("--purpose", help="What the data will be used for, e.g. ai.training.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to write manifest.parquet and dataset.json into.")],
    kinds: Annotated[str | None, typer.Option("--kinds", help="Data kinds, comma separated.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Select as of this time (default: now).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")] = "duckdb",
    catalog: Annotated[
        Path | None, typer.Option("--catalog", help="Parquet content catalog outside the store.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print dataset.json.")] = False,
) -> None:
    """Select every eligible item into a registered dataset."""
    from .. import service

    kind_list = [kind.strip() for kind in kinds.split(",") if kind.strip()] if kinds else None
    description = service.build_dataset(_store(), name, purpose, out, _policy(), kind_list, _when(at), engine, catalog)
    if as_json:
        _print_json(description)
        return
    excluded = ", ".join(f"{code} {count}" for code, count in description["excluded"].items()) or "none"
    _echo(f"dataset {description['id']}: {description['count']} item(s) for {purpose} as of {description['at']}")
    _echo(f"excluded: {excluded}")
    _echo(f"written to {out}")


@dataset_app.command("rebuild")
def dataset_rebuild(
    name: Annotated[str, typer.Argument(help="The dataset to rebuild (its newest version).")],
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the new version.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="Re-check as of this time (default: now).")] = None,
    engine: Annotated[str, typer.Option("--engine", help="duckdb (default) or spark.")] = "duckdb",
    as_json: Annotated[bool, typer.Option("--json", help="Print dataset.json.")] = False,
) -> None:
    """A new version without the items that lost eligibility, linked to the one it replaces."""
    from .. import service

    description = service.rebuild_dataset(_store(), name, _policy(), out, _when(at), engine)
    if as_json:
        _print_json(description)
        return
    _echo(f"dataset {description['id']} replaces {description['replaces']}: {description['count']} item(s)")
    _echo(f"written to {description['manifest']}")


@dataset_app.command("list")
def dataset_list(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Every registered dataset version."""
    from .. import service

    records = service.list_datasets(_store())
    if as_json:
        _print_json(records)
        return
    for record in records:
        _echo(
            "\t".join((record["id"], record["purpose"], record["at"], f"{record['count']} item(s)",
                       record.get("manifest", "")))
        )


@model_app.command("register")
def model_register(
    name: Annotated[str, typer.Argument(help="The model's name.")],
    dataset: Annotated[str, typer.Option("--dataset", help="NAME or NAME@VERSION of the training dataset.")],
    shards: Annotated[int, typer.Option("--shards", help="Number of shards the items are split into.")] = 1,
) -> None:
    """Record a model trained on a dataset, its items split into shards."""
    from .. import service

    model = service.register_model(_store(), name, dataset, shards)
    _echo(
        f"model {model['name']} on {model['dataset']}: {model['shards']} shard(s) of "
        + ", ".join(str(count) for count in model["shard_counts"])
        + " item(s)"
    )


@app.command()
def impact(
    subject: Annotated[str | None, typer.Option("--subject", help="Only items of this person.")] = None,
    item: Annotated[str | None, typer.Option("--item", help="Only this item.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="As of this time (default: now).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Dataset items no longer eligible, and the model shards to retrain."""
    from .. import service

    result = service.impact(_store(), _policy(), subject, item, _when(at))
    if as_json:
        _print_json(result)
        return
    _echo(f"as of {result['at']}:")
    for dataset in result["datasets"]:
        _echo(
            f"  dataset {dataset['name']}@{dataset['version']}: {dataset['count']} item(s) no longer eligible: "
            + ", ".join(dataset["items"][:20])
            + (" …" if dataset["count"] > 20 else "")
        )
    for model in result["models"]:
        _echo(
            f"  model {model['name']} ({model['dataset_version']}): retrain shard(s) "
            + ", ".join(map(str, model["shards"]))
        )
    if not result["datasets"]:
        _echo("  nothing registered is affected")


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
    # One line, always: a driver's message can carry SQL and context on further lines.
    message = message.strip().splitlines()[0] if message.strip() else "failed"
    print(f"consentgate: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> None:
    """Run the command line; errors become one line on stderr and an exit code."""
    from ..runtime import no_last_collection, return_freed_memory

    return_freed_memory()
    no_last_collection()
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
