"""share request return, extension, delivery, suspension, use records (issue 15) (placeholder: filled in by that work)

Revision ID: 0015_share_workflow
Revises: 0014_catalog_review
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0015_share_workflow"
down_revision = "0014_catalog_review"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
