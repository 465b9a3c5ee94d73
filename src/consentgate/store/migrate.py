"""Creating and migrating a store with Alembic."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from .engine import Store


def upgrade(store: Store) -> str:
    """Bring the store to the newest schema (idempotent); return the schema version."""
    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with store.write() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    version = store.schema_version()
    assert version is not None
    return version
