"""DataStore field indexes hold the key; keys_seq (issue 17): (resource, field text, key) instead of (resource, field text)

A filtered page in key order (``filters`` town, limit 100) read every match of the value through the old
index and sorted them (90,910 records for one town at 1,000,000); with the key as the index's last column
the matches come out of the index in key order and the page stops after its 100 (docs/PERFORMANCE.md,
"DataStore reads", fifth pass). For every field an existing table's schema marks ``x-index`` the new
index (``ix_datastore_record_fkey_…``, ``query.field_index_ddl``) is made, then every old one
(``ix_datastore_record_field_…``) dropped. On PostgreSQL each ``CREATE INDEX`` reads the records table once
and keeps writes to it waiting until the migration commits (tens of seconds at a million records).
Downgrade makes the old indexes again and drops the new ones.

``datastore_table.keys_seq``: the change number of the last write that added or removed live keys (set to
``last_seq`` for existing tables); the positions a deep ``offset`` starts from are kept per set of live
keys, so a write that only updates records no longer makes the next deep page walk every key again.

Revision ID: 0025_datastore_field_key_indexes
Revises: 0024_search_changes
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

from catalog.datastore.query import FIELD_INDEX_PREFIX, field_index_ddl
from catalog.datastore.record_schemas import indexed_fields

revision = "0025_datastore_field_key_indexes"
down_revision = "0024_search_changes"
branch_labels = None
depends_on = None

#: the names of the indexes of migration 0019 (without the key)
_OLD_PREFIX = "ix_datastore_record_field_"


def _marked(conn) -> list[str]:
    """Every field name some existing table's stored schema marks ``x-index``, in first-seen order."""
    names: dict[str, None] = {}
    for stored in conn.scalars(sa.text("SELECT schema_document FROM datastore_table")).all():
        document = json.loads(stored) if isinstance(stored, str) else stored
        names.update(dict.fromkeys(indexed_fields(document)))
    return list(names)


def _indexes(conn) -> list[str]:
    if conn.dialect.name == "postgresql":
        return conn.scalars(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'datastore_record'")).all()
    return conn.scalars(sa.text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                "AND tbl_name = 'datastore_record'")).all()


def _old_ddl(name: str, dialect: str) -> str:
    """Migration 0019's index on field ``name`` (resource, the field's text), as it was made then."""
    index = _OLD_PREFIX + hashlib.sha1(name.encode()).hexdigest()[:16]
    literal = "'" + name.replace("'", "''") + "'"
    if dialect == "postgresql":
        return (f"CREATE INDEX IF NOT EXISTS {index} ON datastore_record "
                f"(resource_id, (data ->> {literal})) WHERE data ? {literal}")
    extract = "json_extract(data, '$.\"" + name.replace("'", "''") + "\"')"
    return (f"CREATE INDEX IF NOT EXISTS {index} ON datastore_record "
            f"(resource_id, {extract}) WHERE {extract} IS NOT NULL")


def upgrade() -> None:
    op.add_column("datastore_table", sa.Column("keys_seq", sa.BigInteger(), nullable=True))
    op.execute("UPDATE datastore_table SET keys_seq = last_seq")
    conn = op.get_bind()
    for name in _marked(conn):
        conn.execute(sa.text(field_index_ddl(name, conn.dialect.name)))
    for index in _indexes(conn):
        if index.startswith(_OLD_PREFIX):
            op.execute(f"DROP INDEX IF EXISTS {index}")


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN on both (SQLite 3.35 and later): a batch copy of the table would drop and
    # make it again, deleting every record through the records' ON DELETE CASCADE
    op.execute("ALTER TABLE datastore_table DROP COLUMN keys_seq")
    conn = op.get_bind()
    for name in _marked(conn):
        conn.execute(sa.text(_old_ddl(name, conn.dialect.name)))
    for index in _indexes(conn):
        if index.startswith(FIELD_INDEX_PREFIX):
            op.execute(f"DROP INDEX IF EXISTS {index}")
