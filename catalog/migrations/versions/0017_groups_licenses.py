"""CKAN groups (themes) and licences (issue 16) (placeholder: filled in by that work)

Revision ID: 0017_groups_licenses
Revises: 0016_objections_demands
"""
import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision = "0017_groups_licenses"
down_revision = "0016_objections_demands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
