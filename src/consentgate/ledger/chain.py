"""The hash chain: each entry's hash covers the previous hash, its sequence and its digest.

``hash(n) = SHA-256(hash(n-1) || seq(n) as 8 bytes big-endian || digest(n))`` where
``digest(n)`` is the SHA-256 of the record's canonical JSON. A party holding only the log
can check the chain; with the stored rows it can check every record too.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

GENESIS = "0" * 64


class LogEntry(NamedTuple):
    """One entry of the log as stored."""

    seq: int
    type: str
    key: str
    digest: str
    hash: str


def digest_of(canonical: bytes) -> str:
    """The hex SHA-256 of a record's canonical JSON."""
    return hashlib.sha256(canonical).hexdigest()


def link(previous_hash: str, seq: int, digest: str) -> str:
    """The hash of entry ``seq`` given the previous entry's hash and this entry's digest."""
    return hashlib.sha256(
        bytes.fromhex(previous_hash) + seq.to_bytes(8, "big") + bytes.fromhex(digest)
    ).hexdigest()
