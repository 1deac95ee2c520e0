"""set-based sync writes, record content hash (issue 18) (placeholder: filled in by that work)

Revision ID: 0020_sync_merge
Revises: 0019_datastore_reads
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0020_sync_merge"
down_revision = "0019_datastore_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
