"""correction requests and the demand list (issue 15) (placeholder: filled in by that work)

Revision ID: 0016_objections_demands
Revises: 0015_share_workflow
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0016_objections_demands"
down_revision = "0015_share_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
