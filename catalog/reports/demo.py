"""The demo's quarterly ranking: petitions and service cases of the last and the current quarter for every
demo department and every town, so that /report/quarterly ranks them all.

Petitions go into the petition ledger's table (its sync job upserts, so they stay); service cases into a
DataStore table bound to ``service@1`` added to the service-cases dataset (办件明细). Outcomes are
drawn from a fixed seed per quarter: mostly in time, some late, some still open, with ratings.
"""
from __future__ import annotations

import datetime as dt
import random
from typing import Any

import sqlalchemy as sa

from schemas.samples import TOWNS, VILLAGES, petitions, services

from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datasets.resources import create_resource
from ..datastore import service as datastore
from ..datastore.models import DatastoreTable, Record
from ..db import utcnow
from ..departments.models import Department
from ..sharing.workdays import add_working_days, parse_holidays
from .rules import Quarter

SERVICE_TABLE = "办件明细（service@1）"


def _quarters(today: dt.date) -> list[tuple[Quarter, dt.date]]:
    """The last quarter (all of it due) and the current one up to yesterday: (quarter, last due day)."""
    current = Quarter(today.year, (today.month - 1) // 3 + 1)
    index = current.year * 4 + current.number - 2
    last = Quarter(index // 4, index % 4 + 1)
    found = [(last, last.last_day)]
    if today - dt.timedelta(days=1) > current.first_day:
        found.append((current, today - dt.timedelta(days=1)))
    return found


def _table(session, dataset_name: str, schema: str) -> DatastoreTable | None:
    return session.scalar(sa.select(DatastoreTable).join(Resource, Resource.id == DatastoreTable.resource_id)
                          .join(Dataset, Dataset.id == Resource.package_id)
                          .where(Dataset.name == dataset_name, DatastoreTable.record_schema.like(f"{schema}%")))


def _service_table(session, admin: User, config: dict[str, Any]) -> DatastoreTable | None:
    table = _table(session, "service-cases", "service")
    dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "service-cases"))
    if table is not None or dataset is None:
        return table
    site = str(config.get("SITE_URL", "")).rstrip("/")
    resource = create_resource(session, admin, dataset, values={"name": SERVICE_TABLE, "format": "JSON",
                                                                "url": f"{site}/datastore/dump/pending"})
    resource.url, resource.url_type = f"{site}/datastore/dump/{resource.id}", "datastore"
    return datastore.create_table(session, admin, resource, record_schema="service@1")


def _petitions(quarter: Quarter, last_due: dt.date, units: list[str]) -> list[dict[str, Any]]:
    rng = random.Random(f"ranking-petitions:{quarter}")
    span = (last_due - quarter.first_day).days
    records = []
    for index, sample in enumerate(petitions(len(TOWNS) * 3, seed=quarter.year * 10 + quarter.number)):
        town = TOWNS[index // 3][0]
        deadline = quarter.first_day + dt.timedelta(days=rng.randint(0, span))
        accepted = deadline - dt.timedelta(days=60)
        record = {k: v for k, v in sample.items() if k not in ("extended_deadline", "completed_on", "reply",
                                                                "follow_up_visit", "satisfaction")}
        record.update(petition_number=f"XF{quarter.year}Q{quarter.number}{index + 1:04d}",
                      place=f"宁陕县{town}{rng.choice(VILLAGES)}", responsible_unit=units[index % len(units)],
                      accepted_on=accepted.isoformat(), deadline=deadline.isoformat(), status="processing")
        fate = rng.random()
        if fate < 0.9:  # settled: mostly in time
            late = fate > 0.75
            done = deadline + dt.timedelta(days=rng.randint(1, 10)) if late else \
                deadline - dt.timedelta(days=rng.randint(0, 40))
            done = min(done, last_due)
            record.update(status="completed", completed_on=done.isoformat(), reply="已调查核实并书面答复信访人。")
            record["satisfaction"] = rng.choices(("satisfied", "basically_satisfied", "dissatisfied"),
                                                 weights=(70, 22, 8))[0]
        records.append(record)
    return records


def _services(quarter: Quarter, last_due: dt.date, units: list[str], config: dict[str, Any]) -> list[dict[str, Any]]:
    rng = random.Random(f"ranking-services:{quarter}")
    holidays, workdays = parse_holidays(config.get("HOLIDAYS")), parse_holidays(config.get("WORKDAYS"))
    latest = last_due - dt.timedelta(days=10)
    if latest <= quarter.first_day:
        return []
    records = []
    for index, sample in enumerate(services(len(units) * 4, seed=quarter.year * 10 + quarter.number)):
        accepted = quarter.first_day + dt.timedelta(days=rng.randint(0, (latest - quarter.first_day).days))
        days = rng.choice((1, 3, 5))
        due = add_working_days(accepted, days, holidays, workdays)
        record = {k: v for k, v in sample.items() if k not in ("completed_at", "satisfaction", "reason")}
        record.update(case_number=f"NS{quarter.year}Q{quarter.number}{index + 1:05d}",
                      department=units[index % len(units)], channel="once", promised_days=days,
                      accepted_at=f"{accepted.isoformat()}T09:30:00+08:00", status="processing")
        if rng.random() < 0.9:
            done = due + dt.timedelta(days=rng.randint(1, 3)) if rng.random() < 0.15 else due
            record.update(status="completed", completed_at=f"{min(done, last_due).isoformat()}T16:00:00+08:00")
            if rng.random() < 0.8:
                record["satisfaction"] = rng.choices(("very_satisfied", "satisfied", "basically_satisfied",
                                                      "dissatisfied"), weights=(50, 30, 15, 5))[0]
        records.append(record)
    return records


def load(session, admin: User, config: dict[str, Any]) -> list[str]:
    """Add the ranking's cases of the last and the current quarter when missing; lines to print."""
    petition_table = _table(session, "petition-cases", "petition")
    units = list(session.scalars(sa.select(Department.title).where(Department.state != "deleted")
                                 .order_by(Department.name)))
    if petition_table is None or not units:
        return []
    service_table = _service_table(session, admin, config)
    lines = []
    for quarter, last_due in _quarters(utcnow().date()):
        first = f"XF{quarter.year}Q{quarter.number}0001"
        if session.get(Record, (petition_table.resource_id, first)) is not None:
            continue
        cases = _petitions(quarter, last_due, units)
        datastore.upsert_records(session, admin, petition_table, cases, method="upsert")
        counts = f"{len(cases)} petitions"
        if service_table is not None:
            done = _services(quarter, last_due, units, config)
            if done:
                datastore.upsert_records(session, admin, service_table, done, method="upsert")
            counts += f", {len(done)} service cases"
        lines.append(f"Quarterly ranking {quarter}: {counts} for {len(units)} departments and {len(TOWNS)} "
                     f"towns: /report/quarterly?quarter={quarter}")
    session.commit()
    return lines
