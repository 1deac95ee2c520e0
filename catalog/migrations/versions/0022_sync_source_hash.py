"""sync source-row hash (issue 18)

``datastore_record.source_hash``: written by a sync for each record it writes, the hash of the source row
the record was made from (with the fingerprints of the job's mapping and of the table's schema) bound to
the record's ``content_hash`` (:func:`catalog.datastore.hashing.source_hash`). A rerun compares it before
mapping and validating a row, so unchanged rows skip both. Existing records get NULL (no backfill: the
source rows are not here); each is transformed once more by the next sync, which then stores its hash.

Revision ID: 0022_sync_source_hash
Revises: 0021_datastore_text
"""
import sqlalchemy as sa
from alembic import op

revision = "0022_sync_source_hash"
down_revision = "0021_datastore_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("datastore_record", sa.Column("source_hash", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datastore_record") as batch:
        batch.drop_column("source_hash")
