"""sync_job.target: a push job's destination (another catalog's DataStore resource)

Revision ID: 0008_sync_push
Revises: 0007_webhooks_freshness
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008_sync_push"
down_revision = "0007_webhooks_freshness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_job") as batch:
        batch.add_column(sa.Column("target", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                                   nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sync_job") as batch:
        batch.drop_column("target")
