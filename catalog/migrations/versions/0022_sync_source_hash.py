"""sync source-row hash (issue 18) — placeholder, owned by the sync helper

Revision ID: 0022_sync_source_hash
Revises: 0021_datastore_text
"""

revision = "0022_sync_source_hash"
down_revision = "0021_datastore_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
