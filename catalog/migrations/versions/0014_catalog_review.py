"""catalog review and dataset revisions (issue 15): dataset_review, one row per submission and its decision

Revision ID: 0014_catalog_review
Revises: 0013_run_status
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import catalog.db

revision = "0014_catalog_review"
down_revision = "0013_run_status"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")


def upgrade() -> None:
    op.create_table(
        "dataset_review",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("package_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("submitted_by", sa.String(length=36), nullable=True),
        sa.Column("submitted_at", catalog.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("due", sa.Date(), nullable=False),
        sa.Column("reviewer_id", sa.String(length=36), nullable=True),
        sa.Column("decided_at", catalog.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("field_reasons", JSON, nullable=False),
        sa.ForeignKeyConstraint(["package_id"], ["dataset.id"],
                                name=op.f("fk_dataset_review_package_id_dataset"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["submitted_by"], ["user.id"],
                                name=op.f("fk_dataset_review_submitted_by_user"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["reviewer_id"], ["user.id"],
                                name=op.f("fk_dataset_review_reviewer_id_user"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dataset_review")),
    )
    op.create_index(op.f("ix_dataset_review_package_id"), "dataset_review", ["package_id"])
    op.create_index("ix_dataset_review_status_due", "dataset_review", ["status", "due"])


def downgrade() -> None:
    op.drop_index("ix_dataset_review_status_due", table_name="dataset_review")
    op.drop_index(op.f("ix_dataset_review_package_id"), table_name="dataset_review")
    op.drop_table("dataset_review")
