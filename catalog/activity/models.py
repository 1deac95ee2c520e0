"""The activity stream: who created, changed or deleted what, and when."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow


class Activity(Base):
    """One change to a department, dataset or resource, with the fields that changed."""

    __tablename__ = "activity"
    __table_args__ = (sa.Index("ix_activity_object_timestamp", "object_id", "timestamp"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[str | None] = mapped_column(sa.String(36))
    object_id: Mapped[str] = mapped_column(sa.String(36))
    # The department concerned, so a department's stream includes its datasets' activity.
    department_id: Mapped[str | None] = mapped_column(sa.String(36), index=True)
    activity_type: Mapped[str] = mapped_column(sa.String(50))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
