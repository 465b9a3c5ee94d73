"""The one exception tree of consentgate.

Adapters turn any of these into one clear line (CLI, exit 1) or a 4xx JSON body (API);
nothing else should reach a user.

    ConsentgateError
    ├── InvalidInput        bad input: a line, a field, a query (names where)
    ├── NotFound            a named thing (dataset, model, item) does not exist
    ├── StoreError          the store cannot be opened, is not initialized, or is busy
    └── LogTampered         the tamper-evident log does not verify
"""

from __future__ import annotations


class ConsentgateError(Exception):
    """Base of every error consentgate raises on purpose."""


class InvalidInput(ConsentgateError):
    """Input that cannot be accepted; the message names where and what was expected."""


class NotFound(ConsentgateError):
    """A named thing does not exist."""


class StoreError(ConsentgateError):
    """The store cannot be used as asked."""


class LogTampered(ConsentgateError):
    """The log does not verify; the message names the first bad entry."""

    def __init__(self, message: str, seq: int | None = None) -> None:
        super().__init__(message)
        self.seq = seq
