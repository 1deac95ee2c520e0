"""A dataset filed under a theme (CKAN group membership); the themes themselves are shipped data."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, UTCDateTime, utcnow


class DatasetGroup(Base):
    """One dataset in one theme (``group_name`` is a GB/T 21063.4 theme item code, e.g. ``218``)."""

    __tablename__ = "dataset_group"

    dataset_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True)
    group_name: Mapped[str] = mapped_column(sa.String(32), primary_key=True, index=True)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
