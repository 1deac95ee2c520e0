"""catalog review and dataset revisions (issue 15) (placeholder: filled in by that work)

Revision ID: 0014_catalog_review
Revises: 0013_run_status
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0014_catalog_review"
down_revision = "0013_run_status"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
