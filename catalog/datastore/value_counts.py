"""Kept counts of the common values of the DataStore's indexed fields (issue 17).

"How many households in 城关镇": the total of ``filters`` on an ``x-index`` field. Counting the matches
reads each one's entry in the field's index and, on PostgreSQL, its row as well (no index-only scan over an
expression of ``data``): 90,900 households took 147-455 ms at 1,000,000 records, in every new process and
again after the writes that moved an estimated total down to the threshold. The planner's estimate cannot
stand in for the count: it prices ``data ? field`` at a fixed share.

``datastore_value_count`` holds, per table, field and value, how many live records hold the value, for the
values found common. A filter's total that finds more than :data:`KEEP_ABOVE` matches of a value keeps the
value (:func:`keep`: counted once, in full, under the table's write lock), and from then on every write moves
the value's count in its own transaction under the same lock (``service._lock``), as the key blocks are kept
(``key_blocks``). The total of a kept value is then one row, exact at any size and at any moment; a value
not kept is counted in the field's index, at most :data:`KEEP_ABOVE` entries. Keeping only the common values
spares the writes: a field of distinct values (an ID number) keeps nothing, and a write to a table that
keeps nothing reads one probe of this table's primary key more.

A count counts what the filter matches (``query._IndexedEquals``): on PostgreSQL ``data ->> field`` (the
field's index expression), on SQLite the field's JSON string (``json_extract`` compared with text matches
strings only). A write takes the old values from the stored records, in SQL as the filter reads them, and
the new ones from the records it validated: an indexed field is a string field
(``record_schemas.indexed_fields``), so the two agree. A table defined again (its fields may change)
forgets its counts; a dropped table loses them with its rows.
"""
from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from ..db import jit_off
from .models import DatastoreTable, Record, ValueCount

#: a value is kept once a filter's total finds more live records holding it than this
KEEP_ABOVE = 1000

#: written and read through the table (Core): no ORM objects of counts are ever loaded
_COUNTS = ValueCount.__table__

#: (field, value) → how many live records that hold it were added (positive) or taken away (negative)
Moved = Counter

#: PostgreSQL: the values of the ``fields`` held by the live records among ``keys``, counted (the filter's text)
_STORED_PG = """
SELECT f.field, r.data ->> f.field AS value, count(*) FROM datastore_record AS r
CROSS JOIN unnest(CAST(:fields AS text[])) AS f(field)
WHERE r.resource_id = :resource AND r.key = ANY(CAST(:keys AS text[])) AND NOT r.deleted
  AND r.data ->> f.field IS NOT NULL
GROUP BY 1, 2
"""

#: SQLite: the same, the fields' values that are JSON strings (the fields and keys as JSON arrays)
_STORED_SQLITE = """
SELECT f.value, json_extract(r.data, '$."' || f.value || '"'), count(*) FROM datastore_record AS r
CROSS JOIN json_each(:fields) AS f
WHERE r.resource_id = :resource AND r.key IN (SELECT value FROM json_each(:keys)) AND NOT r.deleted
  AND json_type(r.data, '$."' || f.value || '"') = 'text'
GROUP BY 1, 2
"""


def kept(session: Session, resource_id: str) -> dict[str, set[str]]:
    """The kept values of a table, by field (a write reads them under the table's lock: none is kept or
    forgotten until it commits)."""
    found: dict[str, set[str]] = {}
    for field, value in session.execute(sa.select(_COUNTS.c.field, _COUNTS.c.value).where(
            _COUNTS.c.resource_id == resource_id)):
        found.setdefault(field, set()).add(value)
    return found


def stored(session: Session, resource_id: str, keys: Iterable[str], kept_values: dict[str, set[str]]) -> Moved:
    """The kept values the live records among ``keys`` hold, counted: what overwriting or deleting those
    records takes away. Read before the write, in the statement's own terms (a tombstone holds nothing)."""
    moved: Moved = Counter()
    keys = list(keys)
    if not kept_values or not keys:
        return moved
    fields = sorted(kept_values)
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(sa.text(_STORED_PG), {"fields": fields, "keys": keys, "resource": resource_id})
    else:
        rows = session.execute(sa.text(_STORED_SQLITE), {"fields": json.dumps(fields), "resource": resource_id,
                                                         "keys": json.dumps(keys, ensure_ascii=False)})
    for field, value, count in rows:
        if value in kept_values[field]:
            moved[(field, value)] += count
    return moved


def carried(records: Iterable[dict[str, Any]], kept_values: dict[str, set[str]]) -> Moved:
    """The kept values ``records`` (validated for the write: an indexed field holds a string or nothing)
    hold, counted: what writing them adds."""
    moved: Moved = Counter()
    if not kept_values:
        return moved
    for record in records:
        for field, values in kept_values.items():
            value = record.get(field)
            if isinstance(value, str) and value in values:
                moved[(field, value)] += 1
    return moved


def apply(session: Session, resource_id: str, moved: Moved) -> None:
    """Move the kept counts by ``moved`` (call under the table's write lock, in the write's transaction)."""
    changes = [{"moved_field": field, "moved_value": value, "moved_by": by}
               for (field, value), by in moved.items() if by]
    if changes:
        session.execute(sa.update(_COUNTS).where(
            _COUNTS.c.resource_id == resource_id, _COUNTS.c.field == sa.bindparam("moved_field"),
            _COUNTS.c.value == sa.bindparam("moved_value"))
            .values(live=_COUNTS.c.live + sa.bindparam("moved_by", type_=sa.BigInteger)), changes)


def forget(session: Session, resource_id: str) -> None:
    """Drop a table's kept counts (it is dropped, or defined again: its fields may have changed)."""
    session.execute(sa.delete(_COUNTS).where(_COUNTS.c.resource_id == resource_id))


def counts(session: Session, resource_id: str, field: str, values: list[str]) -> dict[str, int]:
    """``{value: live records}`` of those of ``values`` the table keeps for ``field``."""
    return {value: int(live) for value, live in session.execute(
        sa.select(_COUNTS.c.value, _COUNTS.c.live).where(_COUNTS.c.resource_id == resource_id,
                                                         _COUNTS.c.field == field, _COUNTS.c.value.in_(values)))}


def keep(session: Session, resource_id: str, field: str, value: str, matches: Any) -> int | None:
    """Count the live records matching ``matches`` (the filter "``field`` equals ``value``") in full and keep
    the count, in the reader's transaction; returns it, or ``None`` when it cannot be kept now (the caller
    counts without keeping).

    Exact only if no write is in progress and the count sees every committed one: the table's write lock is
    taken first and held until the reader's transaction ends (a request: a few milliseconds more; once per
    value for the table's life). PostgreSQL: skipped when a write holds the lock, or when the transaction
    reads an older snapshot than its statements' own (isolation above read committed); the count then runs
    in a statement of its own, which sees every write committed before the lock. SQLite: every transaction
    holds the database's single write lock from its start (``BEGIN IMMEDIATE``, ``db._configure_sqlite``)."""
    if session.get_bind().dialect.name == "postgresql":
        if session.scalar(sa.text("SHOW transaction_isolation")) != "read committed":
            return None
        locked = session.scalar(sa.select(DatastoreTable.resource_id).where(
            DatastoreTable.resource_id == resource_id).with_for_update(key_share=True, skip_locked=True))
        if locked is None:  # a write holds the lock (or the table is gone)
            return None
        # the count's estimated cost makes PostgreSQL compile it (tens of ms) though it runs in a few more
        with jit_off(session):
            count = _count(session, resource_id, matches)
        session.execute(postgresql.insert(_COUNTS).values(resource_id=resource_id, field=field, value=value,
                                                          live=count).on_conflict_do_nothing())
        return count
    count = _count(session, resource_id, matches)
    session.execute(sa.insert(_COUNTS).values(resource_id=resource_id, field=field, value=value, live=count)
                    .prefix_with("OR IGNORE"))
    return count


def _count(session: Session, resource_id: str, matches: Any) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.resource_id == resource_id, Record.deleted.is_(False), matches)) or 0)
