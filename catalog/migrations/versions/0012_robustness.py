"""robustness (placeholder)

Revision ID: 0012_robustness
Revises: 0011_records
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0012_robustness"
down_revision = "0011_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
