"""The tamper-evident log: canonical form, hash chain, verification."""

from .canonical import canonical_json
from .chain import GENESIS, LogEntry, digest_of, link
from .verify import VerifyReport, verify_entries

__all__ = ["GENESIS", "LogEntry", "VerifyReport", "canonical_json", "digest_of", "link", "verify_entries"]
