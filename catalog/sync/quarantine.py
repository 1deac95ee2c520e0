"""The quarantine: rows refused by validation, kept until fixed and retried, or discarded with a reason.

An entry holds the row as the source sent it (``raw``, in clear) and errors that may quote its values
(a resident ID's birth date): it is derived from sensitive values and cannot be masked usefully, so
it is shown only to the owner department's members and to sysadmins. Everyone else sees no entry
(``list_entries``) or is refused (``get_entry``), whatever grants their department holds.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.mapping import Mapping, MappingConfigError

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datastore import service as datastore
from ..datastore.models import QuarantinedRecord
from ..db import utcnow
from ..errors import Conflict, NotAuthorized, NotFound, ValidationError
from ..sharing.service import departments_of_actor
from .models import SyncJob, SyncRun


def _dataset(session: Session, entry: QuarantinedRecord) -> Dataset:
    return session.get(Resource, entry.resource_id).dataset


def get_entry(session: Session, actor: User | None, entry_id: str) -> QuarantinedRecord:
    """One entry, for the owner department's members and sysadmins (raw values are sensitive)."""
    entry = session.get(QuarantinedRecord, entry_id) if entry_id else None
    if entry is None:
        raise NotFound(f"Quarantine entry not found: {entry_id}")
    dataset = _dataset(session, entry)
    rules.require(rules.is_sysadmin(actor) or rules.role_in(session, actor, dataset.owner_org) is not None,
                  "Only the providing department sees its quarantined rows")
    return entry


def list_entries(session: Session, actor: User | None, *, resource_id: str | None, job_id: str | None,
                 status: str, offset: int, limit: int) -> list[QuarantinedRecord]:
    """Entries of the actor's departments' resources, oldest first."""
    if actor is None:
        raise NotAuthorized("Log in or give an API token")
    query = sa.select(QuarantinedRecord).join(Resource, Resource.id == QuarantinedRecord.resource_id).join(
        Dataset, Dataset.id == Resource.package_id)
    if not rules.is_sysadmin(actor):
        query = query.where(Dataset.owner_org.in_(departments_of_actor(session, actor)))
    if resource_id:
        query = query.where(QuarantinedRecord.resource_id == resource_id)
    if job_id:
        runs = sa.select(sa.literal("sync:") + SyncRun.id).where(SyncRun.job_id == job_id)
        query = query.where(QuarantinedRecord.source.in_(runs))
    if status != "all":
        query = query.where(QuarantinedRecord.status == status)
    return list(session.scalars(query.order_by(QuarantinedRecord.created, QuarantinedRecord.row_number,
                                               QuarantinedRecord.id).offset(offset).limit(limit)))


def job_of(session: Session, entry: QuarantinedRecord) -> SyncJob | None:
    """The pull job whose run quarantined the entry (its ``raw`` is then a source row), else ``None``."""
    if not (entry.source or "").startswith("sync:"):
        return None
    run = session.get(SyncRun, entry.source.removeprefix("sync:"))
    if run is None or run.job is None or run.job.target is not None:
        return None  # a push job's rows are the resource's own records, written as they are
    return run.job


def map_row(job: SyncJob, row: dict[str, Any], working_day: Any = None) -> dict[str, Any]:
    """A source row mapped by the job's mapping, as its runs map it (``working_day``: their calendar);
    its errors as a ValidationError."""
    try:
        mapping = Mapping.from_config(job.mapping or {}, working_day=working_day)
    except MappingConfigError as error:
        raise ValidationError.single("mapping", str(error)) from None
    mapped, errors = mapping.apply_json(row)
    if errors:
        problems: dict[str, list[str]] = {}
        for error in errors:
            problems.setdefault(error.path or "__root__", []).append(error.message)
        raise ValidationError(problems)
    return mapped


def retry(session: Session, actor: User | None, entry: QuarantinedRecord, *,
          record: dict[str, Any] | None) -> QuarantinedRecord:
    """Upsert the fixed record; when it is still invalid, 409 with its errors and the entry stays open.

    An entry a sync run quarantined holds the source row: the fixed row goes through the job's
    mapping first (as the run would have mapped it), then the record is validated and written.
    """
    if entry.status != "open":
        raise Conflict.single("id", f"The entry is already {entry.status}")
    candidate = record if record is not None else (entry.raw if isinstance(entry.raw, dict) else None)
    if candidate is None:
        raise ValidationError.single("record", "Missing value: give the fixed record")
    job = job_of(session, entry)
    if job is not None:
        candidate = map_row(job, candidate, session.info.get("working_day"))
    table = datastore.get_table(session, entry.resource_id)
    datastore.upsert_records(session, actor, table, [candidate], method="upsert", on_invalid="fail")
    entry.status, entry.resolved_at = "retried", utcnow()
    return entry


def discard(session: Session, actor: User | None, entry: QuarantinedRecord, *, reason: str) -> QuarantinedRecord:
    """Close an entry without writing it."""
    rules.require(rules.can_write_records(session, actor, _dataset(session, entry)),
                  "Only the providing department's editors can discard quarantined rows")
    if entry.status != "open":
        raise Conflict.single("id", f"The entry is already {entry.status}")
    entry.status, entry.reason, entry.resolved_at = "discarded", reason.strip(), utcnow()
    return entry
