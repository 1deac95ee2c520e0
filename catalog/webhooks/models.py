"""Webhook subscriptions of systems to a dataset's events, and the deliveries (the outbox and its log)."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow

EVENTS = ("records.changed", "metadata.changed", "freshness.overdue",
          # correction requests (catalog/objections) and the demand list (catalog/demands)
          "objection.created", "objection.accepted", "objection.resolved",
          "demand.created", "demand.assigned", "demand.fulfilled", "demand.refused",
          # catalog review (catalog/review/policy.py; to those who may read the dataset under review)
          "package.submitted", "package.approved", "package.returned", "package.revision_submitted",
          "package.revision_approved", "package.revision_returned",
          # share requests and grants (catalog/sharing; only to the two departments and the authority)
          "request.returned", "request.resubmitted", "request.extension_requested", "request.extension_decided",
          "grant.delivered", "grant.suspended", "grant.resumed", "usage.recorded", "sharing.narrowed",
          # a sync run that ended succeeded_with_errors or failed (catalog/sync; only to the department)
          "sync.run_with_errors")
#: what a subscription that names no events receives (the workflow events above are asked for by name)
DEFAULT_EVENTS = ("records.changed", "metadata.changed", "freshness.overdue")
DELIVERY_STATES = ("pending", "delivered", "failed", "cancelled")


def new_message_id() -> str:
    """A delivery's id, sent as ``webhook-id`` (the same on every retry, so receivers can de-duplicate)."""
    return f"msg_{uuid.uuid4().hex}"


class WebhookSubscription(Base):
    """A URL that receives a dataset's events, signed with the subscription's secret."""

    __tablename__ = "webhook_subscription"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(sa.String(2000))
    events: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # The signing secret (whsec_…), encrypted with a key derived from SECRET_KEY (Fernet): it must
    # be recoverable to sign, unlike an API token, of which only a digest is kept.
    secret_encrypted: Mapped[str] = mapped_column(sa.Text)
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(sa.Text)
    creator_user_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship()


class WebhookDelivery(Base):
    """One event for one subscription: written with the change (outbox), sent after commit, logged."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (sa.Index("ix_webhook_delivery_status_next", "status", "next_attempt_at"),
                      sa.Index("ix_webhook_delivery_subscription_created", "subscription_id", "created"))

    id: Mapped[str] = mapped_column(sa.String(40), primary_key=True, default=new_message_id)
    subscription_id: Mapped[str] = mapped_column(sa.ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(sa.String(50))
    #: records.changed of one resource are merged into one waiting delivery (a sync writes many batches)
    resource_id: Mapped[str | None] = mapped_column(sa.String(36))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(sa.Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: a sender holds the delivery until then (a crashed sender's claim lapses)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(sa.Integer)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    #: every try: {at, status_code, error, duration_ms}
    log: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[WebhookSubscription] = relationship()
