"""Grants after approval: delivery within 20 working days (decree art. 22), suspension by the data
authority (art. 29), and the lists of undelivered and late grants.

- ``delivery_due``: 20 working days after approval (``SHARE_DELIVERY_DAYS``); a grant is delivered at the
  grantee's first read of records or files (every read path, its sync pulls included, logs through
  :mod:`catalog.sharing.reading`, which calls :func:`mark_delivered`). Undelivered and past that day: late.
- a grant that ended (expired, or revoked) needs a destruction record (:mod:`catalog.sharing.usage`) within
  10 working days after its last day (``SHARE_DESTRUCTION_DAYS``), else it is listed late.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..db import utcnow
from ..departments.service import get_department
from ..errors import Conflict, NotAuthorized, NotFound, ValidationError
from .models import Grant, UsageRecord
from .notices import announce
from .service import departments_of_actor
from .workdays import Calendar

DESTRUCTION_DAYS = 10


def last_day(grant: Grant) -> dt.date | None:
    """The last day the grant allowed reads, once it has ended (revoked, or past its expiry); else ``None``."""
    now = utcnow()
    if grant.revoked_at is not None:
        return grant.revoked_at.date()
    if grant.expires_at is not None and grant.expires_at <= now:
        return (grant.expires_at - dt.timedelta(days=1)).date()
    return None


def grant_status(grant: Grant) -> str:
    """``revoked``, ``expired``, ``suspended`` or ``active``."""
    if grant.revoked_at is not None:
        return "revoked"
    if last_day(grant) is not None:
        return "expired"
    return "suspended" if grant.suspended_at is not None else "active"


def delivery_overdue(grant: Grant, today: dt.date | None = None) -> bool:
    """Approved data that has not reached a live grant's holder by its delivery day."""
    today = today or utcnow().date()
    return (grant.delivered_at is None and grant.delivery_due is not None and grant.revoked_at is None
            and today > grant.delivery_due)


def has_destruction_record(session: Session, grant: Grant) -> bool:
    """Whether the grantee recorded the destruction of the data."""
    return session.scalar(sa.select(sa.exists().where(UsageRecord.grant_id == grant.id,
                                                      UsageRecord.kind == "destruction"))) is True


def destruction_due(grant: Grant, config: dict[str, Any]) -> dt.date | None:
    """The day a destruction record is due: 10 working days after an ended grant's last day."""
    ended = last_day(grant)
    if ended is None:
        return None
    return Calendar.from_config(config).add(ended, int(config.get("SHARE_DESTRUCTION_DAYS", DESTRUCTION_DAYS)))


def destruction_overdue(session: Session, grant: Grant, config: dict[str, Any],
                        today: dt.date | None = None) -> bool:
    """An ended grant without a destruction record after its destruction day."""
    due = destruction_due(grant, config)
    today = today or utcnow().date()
    return due is not None and today > due and not has_destruction_record(session, grant)


def mark_delivered(session: Session, actor: User | None, grant_ids: Iterable[str]) -> None:
    """Record the first read under these grants as their delivery (later reads change nothing)."""
    ids = list(grant_ids)
    if not ids:
        return
    for grant in session.scalars(sa.select(Grant).where(Grant.id.in_(ids), Grant.delivered_at.is_(None))):
        grant.delivered_at = utcnow()
        announce(session, actor, dataset=grant.dataset, event="grant.delivered", activity_type="delivered share grant",
                 organization_id=grant.organization_id, notify=[grant.dataset.owner_org],
                 data={"delivered_at": grant.delivered_at.isoformat(),
                       "delivery_due": grant.delivery_due.isoformat() if grant.delivery_due else None},
                 request_id=grant.request_id, grant_id=grant.id)


def get_grant(session: Session, actor: User | None, grant_id: str, config: dict[str, Any]) -> Grant:
    """A grant, seen by the two departments' members and the data authority; others get NotFound."""
    grant = session.get(Grant, grant_id) if grant_id else None
    if grant is None or not rules.can_see_grant(session, actor, config.get("AUTHORITY_DEPARTMENT"),
                                                 provider_id=grant.dataset.owner_org,
                                                 grantee_id=grant.organization_id):
        raise NotFound(f"Share grant not found: {grant_id}")
    return grant


def list_grants(session: Session, actor: User | None, *, config: dict[str, Any], direction: str | None,
                organization_id: str | None, package_id: str | None, undelivered: bool | None,
                overdue: bool | None, destruction_overdue_only: bool | None, status: str | None,
                offset: int, limit: int) -> list[Grant]:
    """Grants of (``incoming``: provided by) or to (``outgoing``) my departments, all of them for the data
    authority; ``undelivered``: not read yet; ``overdue``: undelivered past the delivery day;
    ``destruction_overdue_only``: ended without a destruction record in time."""
    if actor is None:
        raise NotAuthorized("Log in or give an API token")
    query = sa.select(Grant).join(Grant.dataset)
    mine = departments_of_actor(session, actor)
    if organization_id:
        department = get_department(session, organization_id)
        rules.require(department.id in mine or rules.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT")),
                      f"You are not a member of {department.name}")
        mine = [department.id]
    if organization_id or not rules.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT")):
        if direction == "incoming":
            query = query.where(Dataset.owner_org.in_(mine))
        elif direction == "outgoing":
            query = query.where(Grant.organization_id.in_(mine))
        else:
            query = query.where(sa.or_(Dataset.owner_org.in_(mine), Grant.organization_id.in_(mine)))
    if package_id:
        query = query.where(sa.or_(Dataset.id == package_id, Dataset.name == package_id))
    if undelivered is not None:
        pending = sa.and_(Grant.delivered_at.is_(None), Grant.revoked_at.is_(None))
        query = query.where(pending if undelivered else sa.not_(pending))
    if overdue is not None:
        late = sa.and_(Grant.delivered_at.is_(None), Grant.revoked_at.is_(None), Grant.delivery_due.is_not(None),
                       Grant.delivery_due < utcnow().date())
        query = query.where(late if overdue else sa.not_(late))
    query = query.order_by(Grant.delivery_due, Grant.created, Grant.id)
    if destruction_overdue_only is None and status is None:
        return list(session.scalars(query.offset(offset).limit(limit)))
    found = [g for g in session.scalars(query)
             if (status is None or grant_status(g) == status)
             and (destruction_overdue_only is None
                  or destruction_overdue(session, g, config) == destruction_overdue_only)]
    return found[offset:offset + limit]


def _authority(session: Session, actor: User | None, config: dict[str, Any]) -> None:
    rules.require(rules.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT")),
                  "Only the data authority suspends and resumes grants")


def _reason(reason: str | None) -> str:
    if not reason or not reason.strip():
        raise ValidationError.single("reason", "Missing value: say why")
    return reason.strip()


def suspend_grant(session: Session, actor: User | None, grant: Grant, *, reason: str | None,
                  config: dict[str, Any]) -> None:
    """Stop a grant for misuse: every read under it is refused from now until it is resumed."""
    _authority(session, actor, config)
    if grant_status(grant) != "active":
        raise Conflict.single("id", f"Only active grants can be suspended; this one is {grant_status(grant)}")
    grant.suspended_reason = _reason(reason)
    grant.suspended_at, grant.suspended_by = utcnow(), actor.id
    announce(session, actor, dataset=grant.dataset, event="grant.suspended", activity_type="suspended share grant",
             organization_id=grant.organization_id, notify=[grant.organization_id, grant.dataset.owner_org],
             data={"reason": grant.suspended_reason}, request_id=grant.request_id, grant_id=grant.id)


def resume_grant(session: Session, actor: User | None, grant: Grant, *, reason: str | None,
                 config: dict[str, Any]) -> None:
    """Lift a suspension: reads under the grant work again."""
    _authority(session, actor, config)
    if grant_status(grant) != "suspended":
        raise Conflict.single("id", f"Only suspended grants can be resumed; this one is {grant_status(grant)}")
    why = _reason(reason)
    grant.suspended_at = grant.suspended_by = grant.suspended_reason = None
    announce(session, actor, dataset=grant.dataset, event="grant.resumed", activity_type="resumed share grant",
             organization_id=grant.organization_id, notify=[grant.organization_id, grant.dataset.owner_org],
             data={"reason": why}, request_id=grant.request_id, grant_id=grant.id)
