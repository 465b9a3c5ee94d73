"""consentgate: may this item be used for this purpose, as of this time, and why.

The names below are imported on first use, so that the command line starts fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .errors import ConsentgateError, InvalidInput, LogTampered, NotFound, StoreError

_LAZY = {
    "Decider": "consentgate.decider",
    "Decision": "consentgate.core",
    "LoadResult": "consentgate.store",
    "Policy": "consentgate.core",
    "Reason": "consentgate.core",
    "Store": "consentgate.store",
    "World": "consentgate.core",
    "decide": "consentgate.decider",
    "decide_questions": "consentgate.service",
    "init_store": "consentgate.service",
    "load_events": "consentgate.service",
    "load_policy": "consentgate.service",
    "verify_log": "consentgate.service",
}

__all__ = sorted(["ConsentgateError", "InvalidInput", "LogTampered", "NotFound", "StoreError", *_LAZY])


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'consentgate' has no attribute {name!r}")
