"""Stores made at an earlier schema move to the newest one and keep every event."""

from __future__ import annotations

import io
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

import consentgate.store.migrate as migrate
from consentgate import Store, init_store, load_events
from consentgate.store.engine import SCHEMA_HEAD


def _consent_indexes(store: Store) -> set[str]:
    with store.read() as connection:
        # PostgreSQL lists the indexes behind unique constraints too; only ix_ ones are ours.
        names = {index["name"] for index in inspect(connection).get_indexes("consents")}
    return {name for name in names if name and name.startswith("ix_")}


def test_a_store_at_0002_moves_to_the_consent_group_index(store, examples):
    load_events(store, io.BytesIO((examples / "seed-story.jsonl").read_bytes()), "seed")
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    with store.write() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
    assert store.schema_version() == "0002"
    assert _consent_indexes(store) == {"ix_consents_subject_purpose_at"}
    assert init_store(store) == SCHEMA_HEAD == "0003"
    assert _consent_indexes(store) == {"ix_consents_subject_purpose_meeting_kinds_at_seq"}
    with store.read() as connection:
        count = connection.exec_driver_sql("SELECT count(*) FROM consents").scalar()
    assert count == sum(b'"type": "consent"' in line or b'"type":"consent"' in line
                        for line in (examples / "seed-story.jsonl").read_bytes().splitlines())
    assert count > 0
