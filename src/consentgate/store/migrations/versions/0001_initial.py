"""The event tables and the log.

Revision ID: 0001
Revises:
"""

from alembic import op

from consentgate.store.schema import metadata

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The first revision creates the tables as schema.py declares them at this revision;
# later revisions alter them step by step.
TABLES = (
    "accounts", "groups", "users", "settings", "terms", "terms_acceptances", "consents",
    "meetings", "participants", "contents", "service_data", "erasures", "log",
)


def upgrade() -> None:
    bind = op.get_bind()
    metadata.create_all(bind, tables=[metadata.tables[name] for name in TABLES])


def downgrade() -> None:
    bind = op.get_bind()
    metadata.drop_all(bind, tables=[metadata.tables[name] for name in TABLES])
