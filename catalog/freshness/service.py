"""Freshness of datasets and the department ranking, from one grouped query over the last changes.

A dataset's data last changed at the latest of: its last DataStore record change (insert, update or
delete: the record holding the table's ``last_seq``) and the end of its last successful sync run (a
run that found nothing new still confirms the data is current). A dataset with neither (files or
links only, or an empty table) counts its last metadata update. The clock itself is :mod:`.clock`.

Only active datasets are rated (drafts are not published, deleted ones are gone). Listing functions
take the ``actor`` whose read rules apply (``rules.readable_datasets_clause``); ``None`` is an
anonymous caller, who sees public datasets only.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Iterator

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datastore.models import DatastoreTable, Record
from ..db import get_db, utcnow
from ..departments.models import Department
from ..sync.models import FINISHED_OK, SyncJob, SyncRun
from ..webhooks.delivery import due_deliveries
from ..webhooks.service import freshness_overdue
from ..webhooks.tasks import dispatch as dispatch_deliveries
from . import clock
from .models import FreshnessState

log = logging.getLogger(__name__)
DEFAULT_GRACE = "10%"


def grace_setting(config: dict[str, Any] | None = None) -> clock.Grace:
    """The configured grace period (``FRESHNESS_GRACE``) of ``config`` or the current app."""
    if config is None:
        config = current_app.config if has_app_context() else {}
    return clock.parse_grace(config.get("FRESHNESS_GRACE", DEFAULT_GRACE))


def _last_changes_query() -> sa.Select:
    """Each dataset with its last record change and last successful sync (outer joins, one statement)."""
    # The record holding a table's last_seq is its latest change: found by the (resource, seq) index,
    # not by scanning every record's timestamp.
    records = (sa.select(Resource.package_id.label("package_id"), sa.func.max(Record.updated_at).label("at"))
               .select_from(DatastoreTable)
               .join(Resource, Resource.id == DatastoreTable.resource_id)
               .join(Record, sa.and_(Record.resource_id == DatastoreTable.resource_id,
                                     Record.seq == DatastoreTable.last_seq))
               .group_by(Resource.package_id).subquery("last_record"))
    runs = (sa.select(SyncJob.package_id.label("package_id"), sa.func.max(SyncRun.finished).label("at"))
            .join(SyncRun, SyncRun.job_id == SyncJob.id).where(SyncRun.status.in_(FINISHED_OK))
            .group_by(SyncJob.package_id).subquery("last_sync"))
    return (sa.select(Dataset.id, Dataset.name, Dataset.title, Dataset.owner_org, Dataset.update_cycle,
                      Dataset.metadata_modified, records.c.at.label("last_record"), runs.c.at.label("last_sync"))
            .outerjoin(records, records.c.package_id == Dataset.id)
            .outerjoin(runs, runs.c.package_id == Dataset.id))


def last_change_of(metadata_modified: dt.datetime | None, last_record: dt.datetime | None,
                   last_sync: dt.datetime | None) -> tuple[dt.datetime | None, str]:
    """(when the data last changed, and what says so: ``records``, ``sync`` or ``metadata``)."""
    known = [(moment, source) for moment, source in ((last_record, "records"), (last_sync, "sync")) if moment]
    if known:
        return max(known, key=lambda item: item[0])
    return metadata_modified, "metadata"


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    # aggregates over a UTCDateTime column come back aware on PostgreSQL, naive from SQLite's max()
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


def _entry(row: Any, now: dt.datetime, grace: clock.Grace) -> dict[str, Any]:
    last, source = last_change_of(_utc(row.metadata_modified), _utc(row.last_record), _utc(row.last_sync))
    reading = clock.read(row.update_cycle, last, now, grace)
    return {"package_id": row.id, "name": row.name, "title": row.title, "owner_org": row.owner_org,
            "update_cycle": row.update_cycle, "status": reading.status, "last_change": last,
            "last_change_source": source, "due_at": reading.due_at, "overdue_at": reading.overdue_at}


def dataset_freshness(session: Session, dataset: Dataset, now: dt.datetime | None = None, *,
                      grace: clock.Grace | None = None) -> dict[str, Any]:
    """One dataset's freshness (no access check: the caller already holds the dataset).

    Keys: ``status`` (fresh | due | overdue; irregular cycles are always fresh with ``due_at``
    None), ``last_change``, ``last_change_source``, ``due_at``, ``overdue_at`` (due + grace),
    ``update_cycle``, and the dataset's ``package_id``, ``name``, ``title``, ``owner_org``.
    """
    row = session.execute(_last_changes_query().where(Dataset.id == dataset.id)).one()
    return _entry(row, now or utcnow(), grace or grace_setting())


def readable_freshness(session: Session, actor: User | None, now: dt.datetime | None = None, *,
                       grace: clock.Grace | None = None, owner_org: str | None = None,
                       everything: bool = False) -> Iterator[dict[str, Any]]:
    """The freshness of every active dataset ``actor`` may read (``everything``: all, for the system)."""
    now, grace = now or utcnow(), grace or grace_setting()
    query = _last_changes_query().where(Dataset.state == "active")
    if not everything:
        query = query.where(rules.readable_datasets_clause(session, actor, Dataset.__table__))
    if owner_org is not None:
        query = query.where(Dataset.owner_org == owner_org)
    for row in session.execute(query.order_by(Dataset.name)):
        yield _entry(row, now, grace)


def department_report(session: Session, now: dt.datetime | None = None, *, actor: User | None = None,
                      grace: clock.Grace | None = None, everything: bool = False) -> list[dict[str, Any]]:
    """Per department: total, fresh, due, overdue, irregular, share_on_time and rank, best first.

    ``share_on_time`` is the fraction of the department's datasets that are not overdue (fresh or
    within the grace period; datasets with an irregular cycle count as on time and are also counted
    in ``irregular``). Equal shares share a rank (1, 2, 2, 4); ties are listed by fewer overdue,
    then more datasets, then name. Departments without rated datasets follow, with ``share_on_time``
    and ``rank`` None.
    """
    counts: dict[str, dict[str, int]] = {}
    for entry in readable_freshness(session, actor, now, grace=grace, everything=everything):
        tally = counts.setdefault(entry["owner_org"], {"total": 0, clock.FRESH: 0, clock.DUE: 0, clock.OVERDUE: 0,
                                                       "irregular": 0})
        tally["total"] += 1
        tally[entry["status"]] += 1
        if entry["due_at"] is None and entry["status"] == clock.FRESH:
            tally["irregular"] += 1
    rows = []
    for department in session.scalars(sa.select(Department).where(Department.state != "deleted")):
        tally = counts.get(department.id, {"total": 0, clock.FRESH: 0, clock.DUE: 0, clock.OVERDUE: 0,
                                           "irregular": 0})
        share = (tally["total"] - tally[clock.OVERDUE]) / tally["total"] if tally["total"] else None
        rows.append({"id": department.id, "name": department.name, "title": department.title, **tally,
                     "share_on_time": share, "rank": None})
    rows.sort(key=lambda r: (r["share_on_time"] is None, -(r["share_on_time"] or 0), r[clock.OVERDUE],
                             -r["total"], r["name"]))
    previous, rank = None, 0
    for position, row in enumerate(rows, start=1):
        if row["share_on_time"] is None:
            break
        if row["share_on_time"] != previous:
            rank, previous = position, row["share_on_time"]
        row["rank"] = rank
    return rows


def overdue_datasets(session: Session, now: dt.datetime | None = None, *, actor: User | None = None,
                     grace: clock.Grace | None = None, owner_org: str | None = None,
                     everything: bool = False) -> list[dict[str, Any]]:
    """The overdue datasets ``actor`` may read, longest overdue first (never changed at all: first)."""
    overdue = [e for e in readable_freshness(session, actor, now, grace=grace, owner_org=owner_org,
                                             everything=everything) if e["status"] == clock.OVERDUE]
    floor = dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    overdue.sort(key=lambda e: (e["overdue_at"] or floor, e["name"]))
    return overdue


def notify_overdue(session: Session, now: dt.datetime | None = None, *, grace: clock.Grace | None = None) -> int:
    """Emit ``freshness.overdue`` once for each dataset that turned overdue since the last check; how many.

    The last notified state is kept in :class:`FreshnessState`: a dataset fires again only after it
    was seen not overdue (it was updated) and then lapsed again.
    """
    now = now or utcnow()
    known = {state.package_id: state for state in session.scalars(sa.select(FreshnessState))}
    turned = 0
    for entry in readable_freshness(session, None, now, grace=grace, everything=True):
        state = known.get(entry["package_id"])
        if entry["status"] == clock.OVERDUE:
            if state is not None and state.status == clock.OVERDUE:
                continue
            if state is None:
                state = FreshnessState(package_id=entry["package_id"])
                session.add(state)
            state.status, state.due_at, state.changed = clock.OVERDUE, entry["due_at"], now
            freshness_overdue(session, session.get(Dataset, entry["package_id"]), entry)
            turned += 1
        elif state is not None and state.status == clock.OVERDUE:
            state.status, state.due_at, state.changed = entry["status"], entry["due_at"], now
    session.flush()
    return turned


def notify_and_resend(app: Flask) -> None:
    """The scheduler's periodic duty: announce datasets that turned overdue, resend waiting deliveries."""
    database = get_db(app)
    try:
        with database.session() as session:
            notify_overdue(session)
            session.commit()  # the new deliveries are dispatched after this commit
        dispatch_deliveries(app, due_deliveries(database))
    except Exception:  # noqa: BLE001 - the scheduler must keep starting sync jobs; the next tick retries
        log.exception("freshness check or webhook resend failed in the scheduler tick")
