"""correction requests (objection, objection_record) and the demand list (demand) (issue 15)

Revision ID: 0016_objections_demands
Revises: 0015_share_workflow
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import catalog.db

revision = "0016_objections_demands"
down_revision = "0015_share_workflow"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
TIME = catalog.db.UTCDateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"),
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "objection",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=True),
        sa.Column("provider_id", sa.String(length=36), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("filer_id", sa.String(length=36), nullable=True),
        sa.Column("scope", sa.String(length=20), nullable=False),
        sa.Column("keys", JSON, nullable=False),
        sa.Column("filters", JSON, nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("evidence_url", sa.String(length=2000), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("corrections", JSON, nullable=False),
        sa.Column("created", TIME, nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("filed_seq", sa.BigInteger(), nullable=False),
        sa.Column("accepted", TIME, nullable=True),
        sa.Column("accepted_by", sa.String(length=36), nullable=True),
        sa.Column("resolved", TIME, nullable=True),
        sa.Column("resolved_by", sa.String(length=36), nullable=True),
        _fk("objection", "package_id", "dataset", "CASCADE"),
        _fk("objection", "resource_id", "resource", "CASCADE"),
        _fk("objection", "provider_id", "department", "CASCADE"),
        _fk("objection", "organization_id", "department", "CASCADE"),
        _fk("objection", "filer_id", "user", "SET NULL"),
        _fk("objection", "accepted_by", "user", "SET NULL"),
        _fk("objection", "resolved_by", "user", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_objection")),
    )
    op.create_index("ix_objection_package_status", "objection", ["package_id", "status"])
    op.create_index("ix_objection_provider_status", "objection", ["provider_id", "status"])
    op.create_index(op.f("ix_objection_organization_id"), "objection", ["organization_id"])
    op.create_table(
        "objection_record",
        sa.Column("key", sa.String(length=500), nullable=False),
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("objection_id", sa.String(length=36), nullable=False),
        sa.ForeignKeyConstraint(["objection_id"], ["objection.id"],
                                name=op.f("fk_objection_record_objection_id_objection"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", "resource_id", "objection_id", name=op.f("pk_objection_record")),
    )
    op.create_table(
        "demand",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("fields", JSON, nullable=False),
        sa.Column("basis", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("organization_id", sa.String(length=36), nullable=False),
        sa.Column("requester_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("assigned_by", sa.String(length=36), nullable=True),
        sa.Column("assigned", TIME, nullable=True),
        sa.Column("deadline", sa.Date(), nullable=True),
        sa.Column("package_id", sa.String(length=36), nullable=True),
        sa.Column("answer", sa.Text(), nullable=True),
        sa.Column("answered_by", sa.String(length=36), nullable=True),
        sa.Column("answered", TIME, nullable=True),
        sa.Column("created", TIME, nullable=False),
        _fk("demand", "organization_id", "department", "CASCADE"),
        _fk("demand", "requester_id", "user", "SET NULL"),
        _fk("demand", "assignee_id", "department", "SET NULL"),
        _fk("demand", "assigned_by", "user", "SET NULL"),
        _fk("demand", "package_id", "dataset", "SET NULL"),
        _fk("demand", "answered_by", "user", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demand")),
    )
    op.create_index("ix_demand_status_deadline", "demand", ["status", "deadline"])
    op.create_index(op.f("ix_demand_organization_id"), "demand", ["organization_id"])
    op.create_index(op.f("ix_demand_assignee_id"), "demand", ["assignee_id"])
    op.create_index(op.f("ix_demand_package_id"), "demand", ["package_id"])


def downgrade() -> None:
    op.drop_table("demand")
    op.drop_table("objection_record")
    op.drop_table("objection")
