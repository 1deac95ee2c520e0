"""Use records (decree 809 art. 27): the requesting department records each use, storage and destruction of
the data a grant gave it; records are kept at least 3 years (``USAGE_RECORD_RETENTION_YEARS``) from the day
they are written, and deleting one before then is refused."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..db import utcnow
from ..errors import Conflict, NotFound, ValidationError
from .grants import get_grant
from .models import USAGE_KINDS, Grant, UsageRecord
from .notices import announce

RETENTION_YEARS = 3


def retained_until(written: dt.date, years: int) -> dt.date:
    """The first day a record written on ``written`` may be deleted: the same date ``years`` later
    (29 February: 1 March)."""
    try:
        return written.replace(year=written.year + years)
    except ValueError:
        return dt.date(written.year + years, 3, 1)


def create_usage_record(session: Session, actor: User | None, grant: Grant, *, kind: str, description: str | None,
                        occurred_on: dt.date | None, config: dict[str, Any]) -> UsageRecord:
    """Record a use, the storage or the destruction of a grant's data, by the grantee department."""
    rules.require(rules.can_record_use(session, actor, grant.organization_id),
                  "Only editors and admins of the department holding the grant record its use")
    if kind not in USAGE_KINDS:
        raise ValidationError.single("kind", f"must be one of: {', '.join(USAGE_KINDS)}")
    if not description or not description.strip():
        raise ValidationError.single("description", "Missing value: say what was done with the data")
    today = utcnow().date()
    occurred_on = occurred_on or today
    if occurred_on > today:
        raise ValidationError.single("occurred_on", "must not be in the future")
    if occurred_on < grant.created.date():
        raise ValidationError.single("occurred_on", f"is before the grant ({grant.created.date().isoformat()})")
    years = int(config.get("USAGE_RECORD_RETENTION_YEARS", RETENTION_YEARS))
    record = UsageRecord(grant_id=grant.id, kind=kind, description=description.strip(), occurred_on=occurred_on,
                         retain_until=retained_until(today, years), created_by=actor.id)
    session.add(record)
    session.flush()
    announce(session, actor, dataset=grant.dataset, event="usage.recorded", activity_type="recorded share use",
             organization_id=grant.organization_id, notify=[grant.dataset.owner_org],
             data={"usage_record_id": record.id, "kind": kind, "occurred_on": occurred_on.isoformat()},
             request_id=grant.request_id, grant_id=grant.id)
    return record


def list_usage_records(session: Session, grant: Grant) -> list[UsageRecord]:
    """A grant's use records, oldest first (the caller has checked the grant is visible)."""
    return list(session.scalars(sa.select(UsageRecord).where(UsageRecord.grant_id == grant.id)
                                .order_by(UsageRecord.occurred_on, UsageRecord.created, UsageRecord.id)))


def get_usage_record(session: Session, actor: User | None, record_id: str, config: dict[str, Any]) -> UsageRecord:
    """A use record, seen where its grant is."""
    record = session.get(UsageRecord, record_id) if record_id else None
    if record is None:
        raise NotFound(f"Use record not found: {record_id}")
    get_grant(session, actor, record.grant_id, config)
    return record


def delete_usage_record(session: Session, actor: User | None, record: UsageRecord) -> None:
    """Delete a use record that has been kept long enough (refused before ``retain_until``)."""
    rules.require(rules.can_delete_use_record(session, actor, record.grant.organization_id),
                  "Only admins of the department holding the grant delete its use records")
    if utcnow().date() < record.retain_until:
        raise Conflict.single("id", "Use records are kept for the retention period (3 years by default): "
                                    f"this one until {record.retain_until.isoformat()}")
    session.delete(record)
    session.flush()
