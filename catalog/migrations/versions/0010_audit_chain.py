"""access log: keyed chain (placeholder, filled by the audit work)

Revision ID: 0010_audit_chain
Revises: 0009_connections
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0010_audit_chain"
down_revision = "0009_connections"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
