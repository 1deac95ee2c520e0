"""A review by the data authority: of a dataset submitted for publication, or of a revision of a published one."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow

KINDS = ("publication", "revision")
#: superseded: a later revision of the same dataset replaced this one before it was reviewed
STATUSES = ("submitted", "approved", "returned", "superseded")
DECISIONS = ("approve", "return")


class DatasetReview(Base):
    """One submission to the data authority and its decision (due within CATALOG_REVIEW_DAYS working days)."""

    __tablename__ = "dataset_review"
    __table_args__ = (sa.Index("ix_dataset_review_status_due", "status", "due"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    #: 1, 2, … per dataset, in the order of submission
    number: Mapped[int] = mapped_column(sa.Integer)
    status: Mapped[str] = mapped_column(sa.String(20), default="submitted")
    #: a revision's core metadata changes: [{field, old, new}] (old: the published value when proposed)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    submitted_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    submitted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    due: Mapped[dt.date] = mapped_column(sa.Date)
    reviewer_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    #: a return's list of what to fix: {field: message}
    field_reasons: Mapped[dict[str, str]] = mapped_column(JSONDocument, default=dict)

    dataset: Mapped[Dataset] = relationship()
