"""Correction requests on shared data and the records each one covers."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow
from ..departments.models import Department

#: open: filed, waiting for the provider; accepted: the provider is verifying; resolved: settled
OBJECTION_STATES = ("open", "accepted", "resolved")
#: the states in which the records carry the flag (标注)
FLAGGED_STATES = ("open", "accepted")
OUTCOMES = ("corrected", "confirmed_correct", "rejected")
#: records: by key; filter: the records a filter matched when filed; dataset: the whole dataset
SCOPES = ("records", "filter", "dataset")


class Objection(Base):
    """A department's request that the provider verify and correct data it uses (数据异议).

    Settled in time when ``resolved`` falls on or before ``deadline`` (10 working days after ``created``).
    """

    __tablename__ = "objection"
    __table_args__ = (sa.Index("ix_objection_package_status", "package_id", "status"),
                      sa.Index("ix_objection_provider_status", "provider_id", "status"))

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"))
    #: the DataStore resource whose records are doubted (none for an objection to the whole dataset)
    resource_id: Mapped[str | None] = mapped_column(sa.ForeignKey("resource.id", ondelete="CASCADE"))
    #: the providing department (the dataset's owner when filed), who must verify and correct
    provider_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"))
    #: the department that filed it
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    filer_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    scope: Mapped[str] = mapped_column(sa.String(20))
    keys: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    filters: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    #: the fields whose values are doubted
    fields: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    reason: Mapped[str] = mapped_column(sa.Text)
    evidence: Mapped[str | None] = mapped_column(sa.Text)
    evidence_url: Mapped[str | None] = mapped_column(sa.String(2000))
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    outcome: Mapped[str | None] = mapped_column(sa.String(30))
    note: Mapped[str | None] = mapped_column(sa.Text)
    #: the record changes that corrected the data (outcome corrected): [{resource_id, key, seq}]
    corrections: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[dt.date] = mapped_column(sa.Date)
    #: the resource's last change number when filed: corrections are changes after it
    filed_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    accepted: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    accepted_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    resolved: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))

    dataset: Mapped[Dataset] = relationship()
    provider: Mapped[Department] = relationship(foreign_keys=[provider_id])
    organization: Mapped[Department] = relationship(foreign_keys=[organization_id])


class ObjectionRecord(Base):
    """One record (by its stored key) covered by an objection filed by key or by filter.

    The primary key leads with the key: the flags of a page of records are found by the page's keys
    through it (PostgreSQL without statistics took the resource alone as selective enough and read
    every covered key of the resource), whatever the number of records the objections cover.
    """

    __tablename__ = "objection_record"

    key: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    resource_id: Mapped[str] = mapped_column(sa.String(36), primary_key=True)
    # no index of its own: with one, PostgreSQL without statistics drove the flags' query from the open
    # objections through it and read every key they cover (deleting an objection, rare, scans instead)
    objection_id: Mapped[str] = mapped_column(sa.ForeignKey("objection.id", ondelete="CASCADE"), primary_key=True)
