"""Fixtures for the bulk tests: one local Spark session for the whole test run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The shared local SparkSession (started once: it takes several seconds)."""
    pytest.importorskip("pyspark")
    if shutil.which("java") is None:
        pytest.skip("Spark needs a Java runtime")
    from consentgate.bulk import spark_session

    session = spark_session()
    yield session
    session.stop()


# PySpark closes the socket it collects Arrow results through only when the socket is
# garbage-collected (pyspark.util._load_from_socket says so), and Python's finalizer then
# warns "unclosed <socket.socket ...>". That is PySpark's design, not a leak of ours; with
# warnings as errors it would fail whichever bulk test happens to be running.
_PYSPARK_SOCKET_WARNINGS = (
    "ignore:unclosed <socket.socket:ResourceWarning",
    "ignore:Exception ignored in. <socket.socket:pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here):
            for spec in _PYSPARK_SOCKET_WARNINGS:
                item.add_marker(pytest.mark.filterwarnings(spec))
