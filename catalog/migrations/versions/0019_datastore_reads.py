"""DataStore read indexes, record text search (issue 17) (placeholder: filled in by that work)

Revision ID: 0019_datastore_reads
Revises: 0018_report
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0019_datastore_reads"
down_revision = "0018_report"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
