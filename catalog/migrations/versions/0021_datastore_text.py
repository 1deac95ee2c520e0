"""DataStore record text index (issue 17): `q` through a trigram index kept behind the writes

``datastore_text`` holds, per record, the lower-cased text of its values (``body``), indexed for substring
search: PostgreSQL a GIN ``gin_trgm_ops`` index (the ``pg_trgm`` extension, trusted since PostgreSQL 13), SQLite
an external-content FTS5 table with the ``trigram`` tokenizer kept by triggers. ``datastore_text_position``
holds the change number up to which a resource's records are in it. Nothing here is written by the record
writes: :mod:`catalog.datastore.text_index` catches the index up from the change feed.

Revision ID: 0021_datastore_text
Revises: 0020_sync_merge
"""
import sqlalchemy as sa
from alembic import op

revision = "0021_datastore_text"
down_revision = "0020_sync_merge"
branch_labels = None
depends_on = None


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.create_table(
            "datastore_text",
            sa.Column("resource_id", sa.String(36),
                      sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"), nullable=False),
            sa.Column("key", sa.String(500), nullable=False),
            sa.Column("body", sa.Text(), nullable=False),
            sa.PrimaryKeyConstraint("resource_id", "key"))
        op.execute("CREATE INDEX ix_datastore_text_body ON datastore_text USING gin (body gin_trgm_ops)")
    else:
        op.execute("CREATE TABLE datastore_text (id INTEGER PRIMARY KEY, "
                   "resource_id VARCHAR(36) NOT NULL REFERENCES datastore_table (resource_id) ON DELETE CASCADE, "
                   "key VARCHAR(500) NOT NULL, body TEXT NOT NULL, UNIQUE (resource_id, key))")
        op.execute("CREATE VIRTUAL TABLE datastore_text_fts USING fts5(body, content='datastore_text', "
                   "content_rowid='id', tokenize='trigram')")
        op.execute("CREATE TRIGGER datastore_text_ai AFTER INSERT ON datastore_text BEGIN "
                   "INSERT INTO datastore_text_fts (rowid, body) VALUES (new.id, new.body); END")
        op.execute("CREATE TRIGGER datastore_text_ad AFTER DELETE ON datastore_text BEGIN "
                   "INSERT INTO datastore_text_fts (datastore_text_fts, rowid, body) VALUES ('delete', old.id, old.body); "
                   "END")
        op.execute("CREATE TRIGGER datastore_text_au AFTER UPDATE ON datastore_text BEGIN "
                   "INSERT INTO datastore_text_fts (datastore_text_fts, rowid, body) VALUES ('delete', old.id, old.body); "
                   "INSERT INTO datastore_text_fts (rowid, body) VALUES (new.id, new.body); END")
    op.create_table(
        "datastore_text_position",
        sa.Column("resource_id", sa.String(36), sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("seq", sa.BigInteger(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.drop_table("datastore_text_position")
    if op.get_bind().dialect.name == "postgresql":
        op.drop_table("datastore_text")  # the pg_trgm extension stays: other objects may use it
    else:
        for trigger in ("datastore_text_ai", "datastore_text_ad", "datastore_text_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE datastore_text_fts")
        op.execute("DROP TABLE datastore_text")
