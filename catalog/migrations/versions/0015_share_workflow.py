"""share request return, extension, delivery, suspension, use records (issue 15)

Share requests gain basis and scenario (existing rows: empty, shown "未填写"), the 补正 return and its
stopped clock, one extension and the cited share condition; grants gain delivery and suspension;
new tables: use records (share_usage_record) and notices to departments (share_notice).

Revision ID: 0015_share_workflow
Revises: 0014_catalog_review
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import catalog.db

revision = "0015_share_workflow"
down_revision = "0014_catalog_review"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("share_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("basis", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("scenario", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("cited_condition", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("missing", _JSON, nullable=True))
        batch_op.add_column(sa.Column("returned_at", catalog.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("resubmitted_at", catalog.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("paused_days", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("extension_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("extension_status", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("extension_requested_at", catalog.db.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column("extension_decided_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("extension_decided_at", catalog.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("extension_note", sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_share_request_extension_decided_by_user"), "user",
                                    ["extension_decided_by"], ["id"], ondelete="SET NULL")

    with op.batch_alter_table("share_grant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("delivery_due", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", catalog.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("suspended_at", catalog.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("suspended_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("suspended_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f("fk_share_grant_suspended_by_user"), "user",
                                    ["suspended_by"], ["id"], ondelete="SET NULL")

    op.create_table(
        "share_usage_record",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("grant_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("retain_until", sa.Date(), nullable=False),
        sa.Column("created_by", sa.String(length=36), nullable=True),
        sa.Column("created", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name=op.f("fk_share_usage_record_created_by_user"),
                                ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["grant_id"], ["share_grant.id"],
                                name=op.f("fk_share_usage_record_grant_id_share_grant"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_usage_record")),
    )
    with op.batch_alter_table("share_usage_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_share_usage_record_grant_id"), ["grant_id"], unique=False)

    op.create_table(
        "share_notice",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("grant_id", sa.String(length=36), nullable=True),
        sa.Column("data", _JSON, nullable=False),
        sa.Column("created", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["grant_id"], ["share_grant.id"], name=op.f("fk_share_notice_grant_id_share_grant"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["organization_id"], ["department.id"],
                                name=op.f("fk_share_notice_organization_id_department"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["package_id"], ["dataset.id"], name=op.f("fk_share_notice_package_id_dataset"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["request_id"], ["share_request.id"],
                                name=op.f("fk_share_notice_request_id_share_request"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_share_notice")),
    )
    with op.batch_alter_table("share_notice", schema=None) as batch_op:
        batch_op.create_index("ix_share_notice_org_created", ["organization_id", "created"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("share_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_share_notice_org_created")
    op.drop_table("share_notice")
    with op.batch_alter_table("share_usage_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_share_usage_record_grant_id"))
    op.drop_table("share_usage_record")
    with op.batch_alter_table("share_grant", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_share_grant_suspended_by_user"), type_="foreignkey")
        for column in ("suspended_reason", "suspended_by", "suspended_at", "delivered_at", "delivery_due"):
            batch_op.drop_column(column)
    with op.batch_alter_table("share_request", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_share_request_extension_decided_by_user"), type_="foreignkey")
        for column in ("extension_note", "extension_decided_at", "extension_decided_by", "extension_requested_at",
                       "extension_status", "extension_reason", "extension_days", "paused_days", "resubmitted_at",
                       "returned_at", "missing", "cited_condition", "scenario", "basis"):
            batch_op.drop_column(column)
