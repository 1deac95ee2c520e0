"""Common values kept before anyone asks for them (issue 17): the sync scheduler's tick looks over the tables
that gained many records since it last looked, and keeps the counts of their common values.

A value is otherwise kept by the first filter whose total finds it common (``query.field_total``): one full
count of its records, in that read (392 ms for a town of 90,900 households at 1,000,000 records in a freshly
loaded table, once). After a load (a first sync, a bulk upsert) the tick does it instead. It samples the table:
the first live record at or after each key block's low key (``key_blocks``), one record per 1,000–2,000 in key
order. Each value of an indexed field seen at least :data:`SEEN` times in the sample (a value held by some
thousands of records or more) goes through the read's own function, which counts up to
``value_counts.KEEP_ABOVE + 1`` matches and keeps the value above that. The tick commits after each value, so
writers wait for one count at a time. Values the sample misses are kept by their first read, as before, at a
smaller cost (they have fewer records).
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from . import query, value_counts
from .models import DatastoreTable, KeyBlock, Record
from .record_schemas import indexed_fields

#: how often a value must be seen in the sample (one record per key block) to be counted
SEEN = 3
#: changes since the last look (``datastore_table.values_seq``) that make a table worth looking over again
LOOK_AFTER = 10_000
#: tables looked over per tick at most (the rest wait for the next tick)
TABLES = 20


def candidates(session: Session, table: DatastoreTable, name: str) -> list[str]:
    """The values of field ``name`` that the first live record of at least :data:`SEEN` key blocks holds."""
    dialect = session.get_bind().dialect.name
    first = (sa.select(query.field_value(name, dialect))
             .where(Record.resource_id == KeyBlock.resource_id, Record.key >= KeyBlock.low_key,
                    Record.deleted.is_(False))
             .order_by(Record.key).limit(1).scalar_subquery())
    sample = sa.select(first.label("value")).where(KeyBlock.resource_id == table.resource_id).subquery()
    found = session.scalars(sa.select(sample.c.value).where(sample.c.value.is_not(None))
                            .group_by(sample.c.value).having(sa.func.count() >= SEEN)).all()
    return sorted(value for value in found if isinstance(value, str))


def look_over(session: Session, table: DatastoreTable) -> list[tuple[str, str]]:
    """Keep the common values of ``table``'s indexed fields that its sample shows; returns the ``(field,
    value)`` kept now. Commits after each value (a kept value held the table's lock for its count)."""
    kept_now = []
    resource_id = table.resource_id
    for name in indexed_fields(table.schema_document):
        wanted = candidates(session, table, name)
        known = value_counts.counts(session, resource_id, name, wanted)
        for value in wanted:
            if value in known:
                continue
            query.field_total(session, table, name, [value])
            if value_counts.counts(session, resource_id, name, [value]):
                kept_now.append((name, value))
            session.commit()
    return kept_now


def look_over_lagging(session: Session, *, tables: int = TABLES) -> int:
    """Look over up to ``tables`` tables more than :data:`LOOK_AFTER` changes past their last look, each then
    marked looked over up to the change it had at the start; returns the values kept. Called by the sync
    scheduler's tick."""
    lagging = session.execute(sa.select(DatastoreTable.resource_id, DatastoreTable.last_seq).where(
        DatastoreTable.last_seq - DatastoreTable.values_seq > LOOK_AFTER).order_by(DatastoreTable.resource_id)
        .limit(tables)).all()
    session.rollback()
    kept = 0
    for resource_id, seen in lagging:
        table = session.get(DatastoreTable, resource_id)
        if table is None:  # dropped since
            continue
        kept += len(look_over(session, table))
        session.execute(sa.update(DatastoreTable).where(DatastoreTable.resource_id == resource_id)
                        .values(values_seq=seen))
        session.commit()
    return kept
