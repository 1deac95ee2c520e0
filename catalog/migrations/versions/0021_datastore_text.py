"""DataStore record text index (issue 17) — placeholder, owned by the DataStore-reads helper

Revision ID: 0021_datastore_text
Revises: 0020_sync_merge
"""

revision = "0021_datastore_text"
down_revision = "0020_sync_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
