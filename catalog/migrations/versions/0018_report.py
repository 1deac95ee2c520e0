"""the quarterly performance report (issue 15) (placeholder: filled in by that work)

Revision ID: 0018_report
Revises: 0017_groups_licenses
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0018_report"
down_revision = "0017_groups_licenses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
