"""webhooks and freshness: subscriptions, deliveries (outbox and log), last notified freshness state

Revision ID: 0007_webhooks_freshness
Revises: 0006_dataset_filter_index
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

import catalog.db

revision = "0007_webhooks_freshness"
down_revision = "0006_dataset_filter_index"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "webhook_subscription",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("creator_user_id", sa.String(length=36), nullable=True),
        sa.Column("created", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_user_id"], ["user.id"],
                                name=op.f("fk_webhook_subscription_creator_user_id_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["package_id"], ["dataset.id"],
                                name=op.f("fk_webhook_subscription_package_id_dataset"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_subscription")),
    )
    op.create_index(op.f("ix_webhook_subscription_package_id"), "webhook_subscription", ["package_id"])
    op.create_table(
        "webhook_delivery",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("subscription_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=50), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=True),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", catalog.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("log", JSON, nullable=False),
        sa.Column("created", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished", catalog.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["subscription_id"], ["webhook_subscription.id"],
                                name=op.f("fk_webhook_delivery_subscription_id_webhook_subscription"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_delivery")),
    )
    op.create_index("ix_webhook_delivery_status_next", "webhook_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_delivery_subscription_created", "webhook_delivery", ["subscription_id", "created"])
    op.create_table(
        "freshness_state",
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", catalog.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("changed", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["dataset.id"],
                                name=op.f("fk_freshness_state_package_id_dataset"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("package_id", name=op.f("pk_freshness_state")),
    )


def downgrade() -> None:
    op.drop_table("freshness_state")
    op.drop_index("ix_webhook_delivery_subscription_created", table_name="webhook_delivery")
    op.drop_index("ix_webhook_delivery_status_next", table_name="webhook_delivery")
    op.drop_table("webhook_delivery")
    op.drop_index(op.f("ix_webhook_subscription_package_id"), table_name="webhook_subscription")
    op.drop_table("webhook_subscription")
