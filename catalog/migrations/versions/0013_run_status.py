"""sync_run.status holds the engine's words: widened to 32 characters for succeeded_with_errors

Revision ID: 0013_run_status
Revises: 0012_robustness
"""
import sqlalchemy as sa
from alembic import op

revision = "0013_run_status"
down_revision = "0012_robustness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sync_run") as batch:
        batch.alter_column("status", type_=sa.String(32), existing_type=sa.String(20), existing_nullable=False)
    op.execute(sa.text("UPDATE sync_run SET status = 'succeeded_with_errors' WHERE status = 'with_errors'"))


def downgrade() -> None:
    op.execute(sa.text("UPDATE sync_run SET status = 'with_errors' WHERE status = 'succeeded_with_errors'"))
    with op.batch_alter_table("sync_run") as batch:
        batch.alter_column("status", type_=sa.String(20), existing_type=sa.String(32), existing_nullable=False)
