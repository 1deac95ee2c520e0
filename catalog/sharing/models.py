"""Share requests, grants and the access log."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow
from ..departments.models import Department

REQUEST_STATES = ("pending", "approved", "rejected", "revoked")


class ShareRequest(Base):
    """A department's request to use another department's dataset (有条件共享申请)."""

    __tablename__ = "share_request"
    __table_args__ = (sa.Index("ix_share_request_package_status", "package_id", "status"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(sa.Text)
    fields: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    expires: Mapped[dt.date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    deadline: Mapped[dt.date] = mapped_column(sa.Date)
    decided_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship()
    organization: Mapped[Department] = relationship()


class Grant(Base):
    """The right of one department to read a dataset's records (and the sensitive fields named)."""

    __tablename__ = "share_grant"
    __table_args__ = (sa.Index("ix_share_grant_package_org", "package_id", "organization_id"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"))
    request_id: Mapped[str | None] = mapped_column(sa.ForeignKey("share_request.id", ondelete="SET NULL"))
    fields: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class AccessLogEntry(Base):
    """One read of records; ``hash`` is its HMAC (under the audit key ``key_id``), chaining it to the one before.

    ``seq`` numbers the chain without gaps (ids may skip on PostgreSQL); entries with no ``key_id``
    were chained by plain SHA-256 before migration 0010 and wait for ``catalog audit rekey``.
    """

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                    autoincrement=True)
    timestamp: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    action: Mapped[str] = mapped_column(sa.String(50))
    user_id: Mapped[str | None] = mapped_column(sa.String(36))
    user_name: Mapped[str | None] = mapped_column(sa.String(100))
    departments: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    package_id: Mapped[str] = mapped_column(sa.String(36), index=True)
    owner_org: Mapped[str] = mapped_column(sa.String(36), index=True)
    resource_id: Mapped[str | None] = mapped_column(sa.String(36))
    params: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    record_count: Mapped[int] = mapped_column(sa.Integer, default=0)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    hash: Mapped[str] = mapped_column(sa.String(64))
    seq: Mapped[int | None] = mapped_column(sa.BigInteger, unique=True, index=True)
    key_id: Mapped[str | None] = mapped_column(sa.String(16))


class AccessLogHead(Base):
    """The single row writers lock to append to the chain in order."""

    __tablename__ = "access_log_head"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    last_hash: Mapped[str] = mapped_column(sa.String(64))
    seq: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
