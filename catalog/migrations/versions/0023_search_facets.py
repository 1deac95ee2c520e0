"""search facet counts (issue 17) — placeholder, owned by the search helper

Revision ID: 0023_search_facets
Revises: 0022_sync_source_hash
"""

revision = "0023_search_facets"
down_revision = "0022_sync_source_hash"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
