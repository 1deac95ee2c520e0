"""connections: named data sources registered by sysadmins (placeholder, filled by the connections work)

Revision ID: 0009_connections
Revises: 0008_sync_push
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0009_connections"
down_revision = "0008_sync_push"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
