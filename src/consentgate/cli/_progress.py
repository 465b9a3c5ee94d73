"""Reading an input file with a progress bar when standard error is a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from ..errors import InvalidInput


@contextmanager
def reading(path: str) -> Iterator[tuple[BinaryIO, Callable[[int], None] | None]]:
    """Open ``path`` (``-`` for stdin) and maybe a Rich progress bar fed with bytes read."""
    if path == "-":
        yield sys.stdin.buffer, None
        return
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        if not sys.stderr.isatty():
            yield stream, None
            return
        from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

        with Progress(
            "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task(f"loading {os.path.basename(path)}", total=os.path.getsize(path))
            yield stream, lambda size: bar.advance(task, size)
