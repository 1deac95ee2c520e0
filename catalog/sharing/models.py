"""Share requests, grants and the access log."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow
from ..departments.models import Department

#: ``returned``: sent back for completion (补正); its clock stands still until the requester resubmits
REQUEST_STATES = ("pending", "returned", "approved", "rejected", "revoked")
EXTENSION_STATES = ("requested", "approved", "refused")
USAGE_KINDS = ("use", "storage", "destruction")


class ShareRequest(Base):
    """A department's request to use another department's dataset (有条件共享申请)."""

    __tablename__ = "share_request"
    __table_args__ = (sa.Index("ix_share_request_package_status", "package_id", "status"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"))
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    requester_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    purpose: Mapped[str] = mapped_column(sa.Text)
    #: 使用依据 and 应用场景 (decree art. 20); rows older than migration 0015 have ``""`` (shown "未填写")
    basis: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    scenario: Mapped[str] = mapped_column(sa.Text, default="", server_default="")
    fields: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    expires: Mapped[dt.date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    #: the day the answer is due: 10 working days after filing, moved on by the working days the request
    #: spent returned (补正) and by an approved extension; "answered in time" is ``decided_at`` on or before it
    deadline: Mapped[dt.date] = mapped_column(sa.Date)
    decided_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    #: when the request was approved or rejected (the answer); ``None`` while pending or returned
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(sa.Text)
    #: the dataset's share condition a refusal cited, as it read then
    cited_condition: Mapped[str | None] = mapped_column(sa.Text)
    #: 补正: what is missing, field by field (one consolidated list, once per request)
    missing: Mapped[dict[str, str] | None] = mapped_column(JSONDocument)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    resubmitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: working days the clock stood still while the request was returned
    paused_days: Mapped[int] = mapped_column(sa.Integer, default=0, server_default="0")
    extension_days: Mapped[int | None] = mapped_column(sa.Integer)
    extension_reason: Mapped[str | None] = mapped_column(sa.Text)
    extension_status: Mapped[str | None] = mapped_column(sa.String(20))
    extension_requested_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extension_decided_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    extension_decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    extension_note: Mapped[str | None] = mapped_column(sa.Text)
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
    #: the data must reach the requester by then (20 working days after approval); ``None``: granted
    #: before migration 0015, not tracked
    delivery_due: Mapped[dt.date | None] = mapped_column(sa.Date)
    #: the grantee's first read of records or files (API, web, dump, its sync pulls)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: suspended by the data authority: no read on any path until resumed
    suspended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    suspended_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    suspended_reason: Mapped[str | None] = mapped_column(sa.Text)

    dataset: Mapped[Dataset] = relationship()
    organization: Mapped[Department] = relationship()


class UsageRecord(Base):
    """The requesting department's record of using, storing or destroying granted data (decree art. 27)."""

    __tablename__ = "share_usage_record"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    grant_id: Mapped[str] = mapped_column(sa.ForeignKey("share_grant.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    description: Mapped[str] = mapped_column(sa.Text)
    occurred_on: Mapped[dt.date] = mapped_column(sa.Date)
    #: deleting is refused before this day (kept at least 3 years)
    retain_until: Mapped[dt.date] = mapped_column(sa.Date)
    created_by: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    grant: Mapped[Grant] = relationship()


class ShareNotice(Base):
    """A notice to a department about a request or grant of its own (shown on its officers' dashboard)."""

    __tablename__ = "share_notice"
    __table_args__ = (sa.Index("ix_share_notice_org_created", "organization_id", "created"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"))
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(sa.String(50))
    request_id: Mapped[str | None] = mapped_column(sa.ForeignKey("share_request.id", ondelete="CASCADE"))
    grant_id: Mapped[str | None] = mapped_column(sa.ForeignKey("share_grant.id", ondelete="CASCADE"))
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship()


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
