"""The ``consentgate`` command line."""

from .app import main

__all__ = ["main"]
