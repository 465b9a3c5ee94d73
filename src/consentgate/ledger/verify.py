"""Re-derive every log entry from the stored records and check the chain.

The verifier walks two streams ordered by sequence number: the log entries, and the
records re-derived from the tables the decisions read. Any edit, deletion, insertion or
reordering of either shows as the first entry where they disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ..errors import LogTampered
from .chain import GENESIS, LogEntry, link

Record = tuple[int, str, str, str]  # seq, type, key, digest of the canonical JSON


@dataclass(frozen=True)
class VerifyReport:
    """What a successful verification saw."""

    entries: int
    head_seq: int
    head_hash: str


def _next(stream: Iterator[Record]) -> Record | None:
    return next(stream, None)


def verify_entries(
    entries: Iterable[LogEntry],
    records: Iterable[Record],
    find_digest: Callable[[str], int | None] = lambda _digest: None,
) -> VerifyReport:
    """Check the log against the records; raise :class:`LogTampered` at the first fault.

    Args:
        entries: the log, ordered by sequence number.
        records: every logged record re-derived from its row, as (seq, type, key, digest of
            its canonical JSON), ordered by sequence number.
        find_digest: finds the entry that logged a digest, to tell a reordering from an edit.
    """
    previous = GENESIS
    expected_seq = 1
    rows = iter(records)
    row = _next(rows)
    count = 0
    for entry in entries:
        seq = entry.seq
        where = f"entry {seq} ({entry.type} {entry.key})"
        if seq != expected_seq:
            if seq < expected_seq:
                raise LogTampered(f"entry {seq}: out of order or duplicated in the log", seq)
            raise LogTampered(f"entry {expected_seq}: missing from the log", expected_seq)
        if row is not None and row[0] < seq:
            raise LogTampered(
                f"entry {row[0]}: the {row[1]} row {row[2]} has no log entry (inserted outside the log)",
                row[0],
            )
        if row is None or row[0] != seq:
            raise LogTampered(f"{where}: its row is missing (deleted)", seq)
        digest = row[3]
        if digest != entry.digest:
            following = _next(rows)
            if following is not None and following[0] == seq:
                # Two rows claim this entry: the one the log does not hold was inserted.
                intruder = row if following[3] == entry.digest else following
                raise LogTampered(
                    f"{where}: the {intruder[1]} row {intruder[2]} claims this entry too "
                    "(inserted outside the log)",
                    seq,
                )
            logged_at = find_digest(digest)
            if logged_at is not None and logged_at != seq:
                raise LogTampered(
                    f"{where}: out of order: its row holds the record logged as entry {logged_at}", seq
                )
            raise LogTampered(f"{where}: the row was edited (its content no longer matches the log)", seq)
        if row[1] != entry.type or row[2] != entry.key:
            raise LogTampered(f"{where}: the log entry was edited (it names another record)", seq)
        expected_hash = link(previous, seq, digest)
        if expected_hash != entry.hash:
            raise LogTampered(f"{where}: the hash does not follow from the chain (the log was edited)", seq)
        previous = expected_hash
        expected_seq += 1
        count += 1
        row = _next(rows)
    if row is not None:
        # Past the head nothing tells an inserted row from one whose entry was cut off the
        # end of the log; a checkpoint of `audit head` does.
        raise LogTampered(
            f"entry {row[0]}: the {row[1]} row {row[2]} has no log entry "
            "(inserted outside the log, or its entry deleted from the end of the log)",
            row[0],
        )
    return VerifyReport(entries=count, head_seq=expected_seq - 1, head_hash=previous)
