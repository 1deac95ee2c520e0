"""dataset: composite index for package_search's department + share type filter

Revision ID: 0006_dataset_filter_index
Revises: 0005_sync
"""
from alembic import op

revision = "0006_dataset_filter_index"
down_revision = "0005_sync"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_dataset_owner_share", "dataset", ["owner_org", "share_type", "state", "private"])


def downgrade() -> None:
    op.drop_index("ix_dataset_owner_share", table_name="dataset")
