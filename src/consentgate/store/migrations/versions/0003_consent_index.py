"""Consents indexed by subject, purpose, meeting, kinds, time and line.

The index answers "the latest consent of each group at or before T" without reading the
table, which is how a partial view finds the consents that can decide a question.

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = "ix_consents_subject_purpose_at"
NEW = "ix_consents_subject_purpose_meeting_kinds_at_seq"


def upgrade() -> None:
    # A store created at this revision already has the new index (0001 creates the tables
    # as schema.py declares them now); one created earlier has the old one.
    op.execute(f"DROP INDEX IF EXISTS {OLD}")
    op.execute(f"CREATE INDEX IF NOT EXISTS {NEW} ON consents (subject, purpose, meeting, kinds, at, seq)")


def downgrade() -> None:
    op.execute(f"DROP INDEX IF EXISTS {NEW}")
    op.execute(f"CREATE INDEX IF NOT EXISTS {OLD} ON consents (subject, purpose, at)")
