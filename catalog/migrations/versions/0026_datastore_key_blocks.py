"""DataStore key blocks (issue 17): live records counted per key range, for deep offsets after writes

``datastore_key_block`` (``catalog.datastore.key_blocks``): per DataStore table, key ranges (each from its
``low_key`` up to the next block's) with the number of live records in each, kept by every write that adds
or removes a live key in its own transaction. A page at a deep ``offset`` finds its block by a running sum
over the blocks and skips fewer than 2,000 records by the primary key: the first deep page after a write
that added keys no longer walks every key (docs/PERFORMANCE.md, "Sixth pass").

Upgrade fills the blocks of every existing table from its records: the live keys in key order, numbered,
cut every 1,000 (the first block of each table starts at ``''``, below every key); a table without live
records gets its first block alone. One walk of the records (ordered by the database's collation, as
every key comparison of the blocks is). Downgrade drops the table.

Revision ID: 0026_datastore_key_blocks
Revises: 0025_datastore_field_key_indexes
"""
import sqlalchemy as sa
from alembic import op

revision = "0026_datastore_key_blocks"
down_revision = "0025_datastore_field_key_indexes"
branch_labels = None
depends_on = None

#: live records of each block made here (catalog.datastore.key_blocks.BLOCK when this was written)
BLOCK = 1000


def upgrade() -> None:
    op.create_table(
        "datastore_key_block",
        sa.Column("resource_id", sa.String(36), sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("low_key", sa.String(500), nullable=False),
        sa.Column("live", sa.BigInteger(), nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("resource_id", "low_key"))
    if op.get_bind().dialect.name == "postgresql":
        # every write that adds a key updates a few of these rows: room on the page for the new version
        # keeps the update beside the old one (a heap-only tuple, no new index entry)
        op.execute("ALTER TABLE datastore_key_block SET (fillfactor = 50)")
    op.execute(f"""
        INSERT INTO datastore_key_block (resource_id, low_key, live)
        SELECT resource_id, CASE WHEN block = 0 THEN '' ELSE min(key) END, count(*)
        FROM (SELECT resource_id, key, (row_number() OVER (PARTITION BY resource_id ORDER BY key) - 1) / {BLOCK}
                     AS block
              FROM datastore_record WHERE NOT deleted) AS numbered
        GROUP BY resource_id, block""")
    op.execute("""
        INSERT INTO datastore_key_block (resource_id, low_key, live)
        SELECT t.resource_id, '', 0 FROM datastore_table AS t
        WHERE NOT EXISTS (SELECT 1 FROM datastore_key_block AS b WHERE b.resource_id = t.resource_id)""")


def downgrade() -> None:
    op.drop_table("datastore_key_block")
