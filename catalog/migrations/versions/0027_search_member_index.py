"""Search facet members indexed by (dataset, facet, value) (issue 17, fifth pass: cold word searches)

A word search's first computation reads, for each of its hits, the hit's tags, formats and themes from
``search_facet_member`` (migration 0023). Through the index on ``dataset_id`` alone every probe also read
the member rows' heap pages (about ten rows per dataset, spread over the pages their writes filled): 1.3 s
for 58,380 hits at 300,000 datasets. With ``(dataset_id, facet, value)`` the probe is an index-only scan,
0.5 s (docs/PERFORMANCE.md, "fifth pass"). It replaces the index on ``dataset_id``, its prefix, which the
triggers' lookups by dataset use as well.

Revision ID: 0027_search_member_index
Revises: 0026_datastore_key_blocks
"""
from alembic import op

revision = "0027_search_member_index"
down_revision = "0026_datastore_key_blocks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_search_facet_member_dataset_facet_value", "search_facet_member",
                    ["dataset_id", "facet", "value"])
    op.drop_index("ix_search_facet_member_dataset_id", table_name="search_facet_member")


def downgrade() -> None:
    op.create_index("ix_search_facet_member_dataset_id", "search_facet_member", ["dataset_id"])
    op.drop_index("ix_search_facet_member_dataset_facet_value", table_name="search_facet_member")
