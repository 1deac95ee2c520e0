"""CKAN groups as themes (GB/T 21063.4's theme class): which dataset is filed under which theme (issue 16)

The themes are shipped data (schemas/labels/classification.json) and licences too (catalog/licenses),
so the only table is the membership.

Revision ID: 0017_groups_licenses
Revises: 0016_objections_demands
"""
import sqlalchemy as sa
from alembic import op

from catalog.db import UTCDateTime

revision = "0017_groups_licenses"
down_revision = "0016_objections_demands"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset_group",
        sa.Column("dataset_id", sa.String(36), sa.ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("group_name", sa.String(32), primary_key=True),
        sa.Column("created", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dataset_group_group_name", "dataset_group", ["group_name"])


def downgrade() -> None:
    op.drop_index("ix_dataset_group_group_name", table_name="dataset_group")
    op.drop_table("dataset_group")
