"""connections: named data sources registered by sysadmins (source_connection)

Revision ID: 0009_connections
Revises: 0008_sync_push
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import catalog.db

revision = "0009_connections"
down_revision = "0008_sync_push"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "source_connection",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("organizations", JSON, nullable=False),
        sa.Column("creator_user_id", sa.String(length=36), nullable=True),
        sa.Column("created", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("modified", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["creator_user_id"], ["user.id"],
                                name=op.f("fk_source_connection_creator_user_id_user"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_source_connection")),
        sa.UniqueConstraint("name", name=op.f("uq_source_connection_name")),
    )


def downgrade() -> None:
    op.drop_table("source_connection")
