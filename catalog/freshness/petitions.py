"""Petitions answered in time (按期办结), per responsible unit, computed from the petition records.

A petition dataset is one with a DataStore table bound to the ``petition`` record schema
(``schemas/records/petition``). The figures come from the records' non-sensitive fields only
(``responsible_unit``, ``status``, ``deadline``, ``extended_deadline``, ``completed_on``), grouped in
the database, so no record and no sensitive value leaves it: any reader of the dataset's metadata
sees them, as the county's quarterly ranking is shown to every department.

* the deadline is ``extended_deadline`` when the petition was extended, else ``deadline``;
* answered: status ``replied`` or ``completed`` with a ``completed_on`` date; in time when
  ``completed_on`` is on or before the deadline, late otherwise;
* open: every other accepted petition (``registered``, ``accepted``, ``processing``, or replied
  without a date); open overdue when the deadline is before ``today``;
* ``not_accepted`` (不予受理) petitions are counted apart and in no rate;
* ``share_in_time`` = answered in time / (answered + open overdue): of the petitions whose answer
  was due, the share answered in time; None when none was due yet.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..datasets.models import Dataset, Resource
from ..datastore.models import DatastoreTable, Record
from ..db import utcnow

SCHEMA_NAME = "petition"
COUNTS = ("total", "answered", "answered_in_time", "answered_late", "open", "open_overdue", "not_accepted")


def petition_tables(session: Session, dataset: Dataset) -> list[str]:
    """The resource ids of the dataset's DataStore tables bound to the petition record schema."""
    return list(session.scalars(
        sa.select(DatastoreTable.resource_id).join(Resource, Resource.id == DatastoreTable.resource_id)
        .where(Resource.package_id == dataset.id,
               sa.or_(DatastoreTable.record_schema == SCHEMA_NAME,
                      DatastoreTable.record_schema.like(f"{SCHEMA_NAME}@%")))
        .order_by(DatastoreTable.resource_id)))


def is_petition_dataset(session: Session, dataset: Dataset) -> bool:
    """Whether the dataset holds petition records (a table bound to the petition schema)."""
    return bool(petition_tables(session, dataset))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def petition_timeliness(session: Session, dataset: Dataset, today: dt.date | None = None) -> dict[str, Any]:
    """Counts per responsible unit and in total, with ``share_in_time`` (see the module's rules).

    Units are sorted best first (highest share in time, then fewer open overdue, then name).
    """
    today_text = (today or utcnow().date()).isoformat()
    tables = petition_tables(session, dataset)
    field = Record.data
    unit = sa.func.coalesce(field["responsible_unit"].as_string(), "")
    status = field["status"].as_string()
    completed = field["completed_on"].as_string()
    deadline = sa.func.coalesce(field["extended_deadline"].as_string(), field["deadline"].as_string())
    answered = sa.and_(status.in_(("replied", "completed")), completed.is_not(None))
    refused = status == "not_accepted"
    open_ = sa.and_(sa.not_(answered), sa.or_(status.is_(None), status != "not_accepted"))

    def count(condition) -> sa.ColumnElement:
        return sa.func.coalesce(sa.func.sum(sa.case((condition, 1), else_=0)), 0)

    columns = {
        "total": sa.func.count(),
        "answered": count(answered),
        "answered_in_time": count(sa.and_(answered, completed <= deadline)),
        "answered_late": count(sa.and_(answered, completed > deadline)),
        "open": count(open_),
        "open_overdue": count(sa.and_(open_, deadline < today_text)),
        "not_accepted": count(refused),
    }
    units: list[dict[str, Any]] = []
    if tables:
        query = (sa.select(unit.label("unit"), *(c.label(name) for name, c in columns.items()))
                 .where(Record.resource_id.in_(tables), Record.deleted.is_(False)).group_by(unit))
        for row in session.execute(query):
            entry = {"responsible_unit": row.unit, **{name: int(getattr(row, name)) for name in COUNTS}}
            entry["share_in_time"] = _rate(entry["answered_in_time"], entry["answered"] + entry["open_overdue"])
            units.append(entry)
    units.sort(key=lambda u: (u["share_in_time"] is None, -(u["share_in_time"] or 0), u["open_overdue"],
                              u["responsible_unit"]))
    total = {name: sum(u[name] for u in units) for name in COUNTS}
    total["share_in_time"] = _rate(total["answered_in_time"], total["answered"] + total["open_overdue"])
    return {"package_id": dataset.id, "as_of": today_text, "resource_ids": tables, "total": total, "units": units}
