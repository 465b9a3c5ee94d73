"""OpenLineage run events for dataset builds, so Marquez or DataHub users see them.

Where OpenLineage is configured the usual way (``OPENLINEAGE_URL`` or
``OPENLINEAGE_CONFIG`` or an ``openlineage.yml``), events go there; otherwise they go to
the file transport, into ``openlineage.jsonl`` beside the manifest. A custom run facet,
``consentgate``, carries the consent summary of the build.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attr

NAMESPACE = "consentgate"
PRODUCER = "https://github.com/consentgate/consentgate"
FACET_SCHEMA = "https://github.com/consentgate/consentgate/blob/main/docs/lineage.md#consentgate-run-facet"


def _configured_elsewhere() -> bool:
    return bool(
        os.environ.get("OPENLINEAGE_URL")
        or os.environ.get("OPENLINEAGE_CONFIG")
        or Path("openlineage.yml").exists()
    )


def _import_client() -> None:
    # Only ahead of time: a module that cannot be imported is reported by emit_build.
    with contextlib.suppress(ImportError):
        import openlineage.client  # noqa: F401
        import openlineage.client.event_v2  # noqa: F401
        import openlineage.client.transport.file  # noqa: F401


def import_in_background() -> threading.Thread:
    """Start importing openlineage-python (a few tenths of a second of CPU) on a thread,
    so that :func:`emit_build` finds it loaded: a build calls this as it starts writing
    its manifest, which leaves a core partly idle."""
    thread = threading.Thread(target=_import_client, name="consentgate-lineage-import")
    thread.start()
    return thread


def emit_build(description: dict[str, Any], out: Path, inputs: list[str]) -> Path | None:
    """Emit a COMPLETE run event for a dataset build; return the file written, if any."""
    from openlineage.client import OpenLineageClient
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import RunFacet
    from openlineage.client.transport.file import FileConfig, FileTransport

    @attr.define
    class ConsentgateRunFacet(RunFacet):
        """What the build selected and why the rest was left out."""

        purpose: str
        at: str
        count: int
        excluded: dict[str, int]
        policy: str
        logHead: dict[str, Any]
        dataset: str

    facet = ConsentgateRunFacet(
        purpose=description["purpose"], at=description["at"], count=description["count"],
        excluded=description["excluded"], policy=description["policy"], logHead=description["log_head"],
        dataset=description["id"],
    )
    facet._schemaURL = FACET_SCHEMA  # noqa: SLF001 - where the facet's fields are documented
    event = RunEvent(
        eventType=RunState.COMPLETE,
        eventTime=datetime.now(UTC).isoformat(),
        run=Run(runId=str(uuid.uuid4()), facets={"consentgate": facet}),
        job=Job(namespace=NAMESPACE, name=f"dataset_build.{description['name']}"),
        inputs=[InputDataset(namespace=NAMESPACE, name=name) for name in inputs],
        outputs=[OutputDataset(namespace=NAMESPACE, name=str(out / "manifest.parquet"))],
        producer=PRODUCER,
    )
    if _configured_elsewhere():
        OpenLineageClient().emit(event)
        return None
    path = out / "openlineage.jsonl"
    OpenLineageClient(transport=FileTransport(FileConfig(log_file_path=str(path), append=True))).emit(event)
    return path
