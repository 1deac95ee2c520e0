"""search index: FTS5 on SQLite, tsvector with a GIN index on PostgreSQL

Revision ID: 0002_search_index
Revises: 39efd116d8c9
"""
from alembic import op

revision = "0002_search_index"
down_revision = "39efd116d8c9"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE TABLE dataset_search (
                dataset_id VARCHAR(36) PRIMARY KEY REFERENCES dataset(id) ON DELETE CASCADE,
                title_tokens TEXT NOT NULL,
                body_tokens TEXT NOT NULL,
                document TSVECTOR NOT NULL
            )""")
        op.execute("CREATE INDEX ix_dataset_search_document ON dataset_search USING GIN (document)")
    else:
        # Tokens are pre-segmented and space separated; keep "_" inside a token (codes).
        op.execute("""
            CREATE VIRTUAL TABLE dataset_search USING fts5(
                dataset_id UNINDEXED, title_tokens, body_tokens,
                tokenize = "unicode61 tokenchars '_'"
            )""")


def downgrade() -> None:
    op.execute("DROP TABLE dataset_search")
