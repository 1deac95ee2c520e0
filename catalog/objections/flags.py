"""The flag (标注) that records under an open correction request carry on every read path.

``_objection: {"id", "status"}`` is added to each record (or change-feed entry) covered by an objection
that is open or accepted, and disappears once it is resolved (撤销标注). The lookup for one page of
records is ONE query over the objection tables, keyed by the page's record keys: never a query per
record, never a scan of the records. The flag names only the objection and its state; what is
doubted and why is for the two departments and the authority (``objection_show``).

The read paths call :func:`flag_page` (a page of records or changes) or :func:`flag_stream` (a dump)
with the reader's ``mask``: keys are taken from the records before masking, the flag added after it.
"""
from __future__ import annotations

import json

from itertools import islice
from typing import Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..datasets.models import Resource
from ..datastore.service import record_key
from .models import FLAGGED_STATES, Objection, ObjectionRecord

FLAG = "_objection"
#: records flagged per query in a dump
STREAM_CHUNK = 1000

Mask = Callable[[dict[str, Any]], dict[str, Any]]


def flags_for(session: Session, package_id: str, resource_id: str, keys: Iterable[str]) -> dict[str, dict[str, str]]:
    """``{key: {"id", "status"}}`` for the given record keys of a resource, in one query.

    An objection to the whole dataset covers every key; a record under several objections carries the
    earliest filed. The statement is a UNION ALL of two index lookups: the covered keys among the page's
    (``objection_record`` by resource and key) and the dataset's open objections to the whole dataset
    (``objection`` by dataset and status), so its cost follows the page, not the objections' size.
    """
    keys = list(dict.fromkeys(k for k in keys if k is not None))
    if not keys:
        return {}
    by_key = (sa.select(Objection.id, Objection.status, Objection.created, ObjectionRecord.key)
              .join(Objection, Objection.id == ObjectionRecord.objection_id)
              .where(ObjectionRecord.resource_id == resource_id, ObjectionRecord.key.in_(keys),
                     Objection.status.in_(FLAGGED_STATES)))
    whole = (sa.select(Objection.id, Objection.status, Objection.created, sa.null().label("key"))
             .where(Objection.package_id == package_id, Objection.status.in_(FLAGGED_STATES),
                    Objection.scope == "dataset"))
    both = sa.union_all(by_key, whole).subquery()
    rows = session.execute(sa.select(both.c.id, both.c.status, both.c.key)
                           .order_by(both.c.created.desc(), both.c.id.desc())).all()
    flags: dict[str, dict[str, str]] = {}
    for objection_id, status, key in rows:  # newest first: the earliest filed is written last
        flag = {"id": objection_id, "status": status}
        for target in (keys if key is None else [key]):
            flags[target] = flag
    return flags


def any_flag(resource_id: str) -> Any:
    """The SQL condition "some record of this resource may carry a flag now": an open objection covers
    some of its keys, or the whole dataset. Asked in the same query as the table (``service.read_table_and``),
    so a page of a table nobody objected to is flagged without a query of its own."""
    by_key = sa.exists().where(ObjectionRecord.resource_id == resource_id, Objection.id == ObjectionRecord.objection_id,
                               Objection.status.in_(FLAGGED_STATES))
    whole = sa.exists().where(
        Objection.package_id == sa.select(Resource.package_id).where(Resource.id == resource_id).scalar_subquery(),
        Objection.status.in_(FLAGGED_STATES), Objection.scope == "dataset")
    return sa.or_(by_key, whole).label("any_flag")


def _key_of(record: dict[str, Any], primary_key: list[str]) -> str | None:
    if "_key" in record:  # a change-feed entry carries its stored key
        return record["_key"]
    if not primary_key or any(name not in record for name in primary_key):
        return None
    return record_key(record, primary_key)


def flag_page(session: Session, table: Any, records: list[dict[str, Any]], mask: Mask, *,
              flagged: bool = True) -> list[dict[str, Any]]:
    """The records masked by ``mask``, each covered one with its ``_objection`` flag (``flagged=False``:
    :func:`any_flag` found none on the table in this request, so none is looked up)."""
    if not flagged:
        return [mask(record) for record in records]
    primary_key = list(table.primary_key)
    keys = [_key_of(record, primary_key) for record in records]
    flags = flags_for(session, table.resource.package_id, table.resource_id, keys)
    out = []
    for record, key in zip(records, keys):
        masked = mask(record)
        if key in flags:
            masked = {**masked, FLAG: flags[key]}
        out.append(masked)
    return out


def key_fields(table: Any, names: list[str] | None) -> list[str] | None:
    """The fields a search must read to place flags: those asked for plus the key fields (``None``: all)."""
    if names is None:
        return None
    return names + [name for name in table.primary_key if name not in names]


def project(records: list[dict[str, Any]], names: list[str] | None) -> list[dict[str, Any]]:
    """The records with only the fields asked for (and the flag)."""
    if names is None:
        return records
    return [{k: v for k, v in r.items() if k in names or k == FLAG} for r in records]


def flag_stream(session: Session, table: Any, records: Iterator[dict[str, Any]], mask: Mask) -> Iterator[dict[str, Any]]:
    """A dump's records, masked and flagged, one query per :data:`STREAM_CHUNK` records.

    The dump ends its transaction between chunks (a long download must hold no lock or snapshot), so
    the flags' query is rolled back at once too, and the table's ids are read before the first chunk.
    """
    package_id, resource_id, primary_key = table.resource.package_id, table.resource_id, list(table.primary_key)

    def flagged() -> Iterator[dict[str, Any]]:
        while True:
            chunk = list(islice(records, STREAM_CHUNK))
            if not chunk:
                return
            keys = [_key_of(record, primary_key) for record in chunk]
            flags = flags_for(session, package_id, resource_id, keys)
            session.rollback()
            for record, key in zip(chunk, keys):
                masked = mask(record)
                yield {**masked, FLAG: flags[key]} if key in flags else masked

    return flagged()


def flag_text_stream(session: Session, table: Any, rows: Iterator[tuple[str, str]]) -> Iterator[str]:
    """A dump's records as their stored JSON text (``(key, text)`` rows, for a reader who sees records as
    stored): a covered record decoded and given its flag as :func:`flag_stream` does, the others as they are;
    one query per :data:`STREAM_CHUNK` records, rolled back at once."""
    package_id, resource_id, keyed = table.resource.package_id, table.resource_id, bool(table.primary_key)

    def flagged() -> Iterator[str]:
        while True:
            chunk = list(islice(rows, STREAM_CHUNK))
            if not chunk:
                return
            flags = flags_for(session, package_id, resource_id, [key for key, _text in chunk]) if keyed else {}
            session.rollback()
            for key, text in chunk:
                if key in flags:
                    text = json.dumps({**json.loads(text), FLAG: flags[key]}, ensure_ascii=False)
                yield text

    return flagged()


def has_open(session: Session, table: Any) -> bool:
    """Whether any record of the table may carry a flag now (a dump's CSV then has an ``_objection`` column)."""
    return session.scalar(sa.select(sa.exists().where(
        Objection.package_id == table.resource.package_id, Objection.status.in_(FLAGGED_STATES),
        sa.or_(Objection.scope == "dataset", Objection.resource_id == table.resource_id)))) is True


def csv_columns(session: Session, table: Any) -> list[str]:
    """The extra CSV column of a dump: ``_objection`` while an objection is open on the table."""
    return [FLAG] if has_open(session, table) else []
