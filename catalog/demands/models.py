"""Demands: data a department needs that the catalog does not offer yet."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow
from ..departments.models import Department

#: open: registered; assigned: the authority named the source department; fulfilled / refused: answered
DEMAND_STATES = ("open", "assigned", "fulfilled", "refused")


class Demand(Base):
    """A need for data registered by a department (需求清单), assigned to its source department (数源部门)."""

    __tablename__ = "demand"
    __table_args__ = (sa.Index("ix_demand_status_deadline", "status", "deadline"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    fields: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    basis: Mapped[str] = mapped_column(sa.Text)
    purpose: Mapped[str] = mapped_column(sa.Text)
    #: the department that needs the data
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    #: the source department the authority assigned it to
    assignee_id: Mapped[str | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"), index=True)
    assigned_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    assigned: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: CATALOG_DEMAND_DAYS working days after assignment
    deadline: Mapped[dt.date | None] = mapped_column(sa.Date)
    #: the dataset that fulfilled it
    package_id: Mapped[str | None] = mapped_column(sa.ForeignKey("dataset.id", ondelete="SET NULL"), index=True)
    #: the answer's note, or the legal basis of a refusal
    answer: Mapped[str | None] = mapped_column(sa.Text)
    answered_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    answered: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    organization: Mapped[Department] = relationship(foreign_keys=[organization_id])
    assignee: Mapped[Department | None] = relationship(foreign_keys=[assignee_id])
    dataset: Mapped[Dataset | None] = relationship()
