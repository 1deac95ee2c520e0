"""set-based sync writes, record content hash (issue 18)

``datastore_record.content_hash``: the blake2b hash of each record's canonical JSON
(:mod:`catalog.datastore.hashing`), so a write skips unchanged records by comparing hashes. Existing
records get theirs here, in batches of 1,000 (keyset by resource and key), computed by the same function
the write path uses; a record whose hash stays NULL would only be rewritten once, never skipped wrongly.

Revision ID: 0020_sync_merge
Revises: 0019_datastore_reads
"""
import json

import sqlalchemy as sa
from alembic import op

from catalog.datastore.hashing import content_hash

revision = "0020_sync_merge"
down_revision = "0019_datastore_reads"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    op.add_column("datastore_record", sa.Column("content_hash", sa.String(32), nullable=True))
    conn = op.get_bind()
    records = sa.table("datastore_record", sa.column("resource_id"), sa.column("key"), sa.column("data"),
                       sa.column("content_hash"))
    update = sa.text("UPDATE datastore_record SET content_hash = :hash WHERE resource_id = :resource AND key = :key")
    after = None
    while True:
        query = sa.select(records.c.resource_id, records.c.key, records.c.data).order_by(
            records.c.resource_id, records.c.key).limit(BATCH)
        if after is not None:
            query = query.where(sa.tuple_(records.c.resource_id, records.c.key) > sa.tuple_(*after))
        rows = conn.execute(query).all()
        if not rows:
            break
        changes = []
        for resource_id, key, data in rows:
            document = json.loads(data) if isinstance(data, str) else data
            try:
                digest = content_hash(document)
            except (TypeError, ValueError):
                continue  # left NULL: rewritten (once) by the next write of this key
            changes.append({"hash": digest, "resource": resource_id, "key": key})
        if changes:
            conn.execute(update, changes)
        after = (rows[-1][0], rows[-1][1])


def downgrade() -> None:
    with op.batch_alter_table("datastore_record") as batch:
        batch.drop_column("content_hash")
