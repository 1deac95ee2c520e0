"""robustness: sync runs record when their message was sent (outbox) and their heartbeat

Revision ID: 0012_robustness
Revises: 0011_records
"""
import sqlalchemy as sa
from alembic import op

revision = "0012_robustness"
down_revision = "0011_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.add_column(sa.Column("sent", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("heartbeat", sa.DateTime(timezone=True), nullable=True))
    # runs queued before this revision were sent by the code that queued them
    op.execute(sa.text("UPDATE sync_run SET sent = started WHERE status = 'queued'"))


def downgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.drop_column("heartbeat")
        batch.drop_column("sent")
