"""The freshness state last seen for a dataset, so that ``freshness.overdue`` fires once per lapse."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class FreshnessState(Base):
    """The last status the overdue check recorded for a dataset (a row exists once it was overdue)."""

    __tablename__ = "freshness_state"

    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(20))
    #: the due date of the lapse that was notified (a later lapse has a later one)
    due_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    changed: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
