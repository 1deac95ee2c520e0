"""DataStore reads: filtered search, the change feed and streaming dumps.

Field names in filters and sorts are checked against the table's fields; values are bound
parameters, never formatted into SQL.
"""
from __future__ import annotations

import base64
import csv
import io
import json
import re
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from ..errors import ValidationError
from ..search.text import check_query_length
from .models import DatastoreTable, Record

MAX_LIMIT = 32000
DUMP_CHUNK = 1000
#: the first window of sequence numbers one change-feed query looks at
CHANGES_WINDOW = 2000


#: a field name plain enough to quote back in an error message
_PLAIN_NAME = re.compile(r"^[\w-]{1,64}$")


#: characters SQLite's JSON paths cannot address in a key (``$."a\"b"`` finds nothing there): filters and
#: sorts on such a field would silently match nothing, so they are refused, on both databases alike
_UNADDRESSABLE = re.compile(r'["\\]')


def _addressable(name: str, parameter: str) -> None:
    if _UNADDRESSABLE.search(name):
        raise ValidationError.single(parameter, f"field '{name}': a name holding \" or \\ cannot be filtered "
                                                "or sorted on; rename the field")


def _types(table: DatastoreTable) -> dict[str, str]:
    return {f["id"]: f["type"] for f in table.fields}


def filter_conditions(table: DatastoreTable, filters: dict[str, Any] | None) -> list[Any]:
    """SQL conditions for CKAN ``filters`` ``{field: value | [values]}`` over a table's records."""
    if not filters:
        return []
    if not isinstance(filters, dict):
        raise ValidationError.single("filters", "must be an object of field: value")
    types = _types(table)
    conditions = []
    for name, wanted in filters.items():
        if name not in types:
            shown = f" {name!r}" if _PLAIN_NAME.match(str(name)) else ""
            raise ValidationError.single("filters", f"unknown field{shown}; fields: {', '.join(types)}")
        _addressable(name, "filters")
        values = wanted if isinstance(wanted, list) else [wanted]
        options = [_matches(name, types[name], value) for value in values]
        conditions.append(sa.or_(*options) if options else sa.false())
    return conditions


def _matches(name: str, kind: str, value: Any) -> Any:
    """The condition "field ``name`` (of CKAN type ``kind``) equals ``value``".

    The comparison follows the field's type, not the value's: casting a text field to a number
    (or a boolean) would fail in PostgreSQL on the first record that is not one.
    """
    element = Record.data[name]
    if value is None:
        return sa.or_(element.as_string().is_(None), element.as_string() == "null")
    if isinstance(value, (dict, list)):
        raise ValidationError.single("filters", f"{name}: filter values must be text, numbers or booleans")
    if kind in ("int", "numeric"):
        if isinstance(value, bool):
            raise ValidationError.single("filters", f"{name} takes numbers, not {json.dumps(value)}")
        try:
            return element.as_float() == float(value)
        except ValueError:
            raise ValidationError.single("filters", f"{name} takes numbers, not {value[:30]!r}") from None
    if kind == "bool":
        if isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"
        if not isinstance(value, bool):
            raise ValidationError.single("filters", f"{name} takes true or false")
        return element.as_boolean() == value
    if kind == "json":  # the value's JSON text: "x" matches the string x, 3 the number 3
        return element.as_string() == (value if isinstance(value, str) else json.dumps(value))
    if isinstance(value, bool):
        raise ValidationError.single("filters", f"{name} takes text, not {json.dumps(value)}")
    return element.as_string() == (value if isinstance(value, str) else json.dumps(value))


def _order(table: DatastoreTable, sort: str | None) -> list[Any]:
    # Error messages never repeat the caller's sort text (beyond a plain field name): it may be SQL
    # someone is trying out, and echoing it back looks as if it reached the database.
    if not sort:
        return [Record.key]
    types = _types(table)
    order = []
    for part in sort.split(","):
        words = part.split()
        if not words or len(words) > 2:
            raise ValidationError.single(
                "sort", "invalid sort: give comma-separated 'field asc|desc'; fields: " + ", ".join(types))
        name, direction = words[0].strip('"'), (words[1].lower() if len(words) == 2 else "asc")
        if direction not in ("asc", "desc"):
            raise ValidationError.single("sort", "the direction after a field must be asc or desc")
        if name == "_seq":
            column = Record.seq
        elif name in types:
            _addressable(name, "sort")
            element = Record.data[name]
            column = element.as_float() if types[name] in ("int", "numeric") else element.as_string()
        else:
            shown = f" {name!r}" if _PLAIN_NAME.match(name) else ""
            raise ValidationError.single("sort", f"unknown field{shown}; fields: {', '.join(types)}")
        order.append(column.desc() if direction == "desc" else column.asc())
    return order + [Record.key]


def _project(record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    return {f: record.get(f) for f in fields} if fields else record


def search_records(session: Session, table: DatastoreTable, *, filters: dict | None = None,
                   q: str | None = None, fields: list[str] | None = None, sort: str | None = None,
                   limit: int = 100, offset: int = 0, include_total: bool = True) -> dict[str, Any]:
    """One page of live records, with the total when asked for."""
    types = _types(table)
    for name in fields or []:
        if name not in types:
            raise ValidationError.single("fields", f"unknown field {name!r}")
    check_query_length(q)
    conditions = [Record.resource_id == table.resource_id, Record.deleted.is_(False),
                  *filter_conditions(table, filters)]
    if q:
        conditions.append(_text_matches(session, q))
    rows = session.scalars(sa.select(Record.data).where(*conditions).order_by(*_order(table, sort))
                           .offset(offset).limit(limit)).all()
    result: dict[str, Any] = {"records": [_project(r, fields) for r in rows]}
    if include_total:
        result["total"] = session.scalar(sa.select(sa.func.count()).select_from(Record).where(*conditions))
    return result


def generation(table: DatastoreTable) -> str:
    """Which incarnation of a resource's table this is: a table dropped and created again numbers its
    changes from 1 again, so a cursor of the old one must not be taken for a position in the new."""
    return format(int(table.created.timestamp() * 1_000_000), "x")


def _text_matches(session: Session, q: str) -> Any:
    """Records with a value (at any depth, not a field name) containing ``q``, case-insensitively."""
    pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if session.get_bind().dialect.name == "postgresql":
        values = sa.func.jsonb_path_query_array(
            Record.data, sa.literal('strict $.** ? (@.type() == "string" || @.type() == "number")',
                                    type_=sa.Text).cast(postgresql.JSONPATH))
        return sa.cast(values, sa.Text).ilike(pattern, escape="\\")
    leaves = sa.func.json_tree(Record.data).table_valued("atom", "type").alias("leaf")
    return sa.exists(sa.select(sa.literal(1)).select_from(leaves).where(
        leaves.c.type.in_(("text", "integer", "real")), sa.cast(leaves.c.atom, sa.Text).ilike(pattern, escape="\\")))


def encode_cursor(seq: int, table: DatastoreTable | None = None) -> str:
    """An opaque change-feed cursor for the position after change ``seq`` (of ``table``'s generation)."""
    text = f"v2:{generation(table)}:{seq}" if table is not None else f"v1:{seq}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None, table: DatastoreTable | None = None) -> int:
    """The change number a cursor stands for; 409 on anything that is not one of ours, or a cursor of
    an earlier generation of ``table`` (v1 cursors carry no generation and are taken as they are)."""
    if not cursor:
        return 0
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        parts = raw.split(":")
        if parts[0] == "v1" and len(parts) == 2 and parts[1].isdigit():
            return int(parts[1])
        if parts[0] != "v2" or len(parts) != 3 or not parts[2].isdigit():
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ValidationError.single("cursor", "not a cursor returned by datastore_changes") from None
    if table is not None and parts[1] != generation(table):
        raise ValidationError.single("cursor", "the cursor belongs to an earlier DataStore table of this resource "
                                               "(it was deleted and created again): read the feed again from the "
                                               "start, without a cursor")
    return int(parts[2])


def changes(session: Session, table: DatastoreTable, *, cursor: str | None, limit: int) -> dict[str, Any]:
    """The changes after ``cursor`` in order: records with ``_seq``, tombstones with ``_deleted``."""
    after = decode_cursor(cursor, table)
    # Read in windows of sequence numbers, up to the last committed change. A window bounds the work
    # of one query whatever plan the database picks: without statistics (right after a bulk load,
    # or with autovacuum off) PostgreSQL may fetch and sort every change after the cursor to return
    # the first ``limit``, and paging through a million changes then never ends. Windows widen over
    # the gaps that rewritten records leave.
    newest = session.scalar(sa.select(DatastoreTable.last_seq).where(
        DatastoreTable.resource_id == table.resource_id)) or 0
    rows: list[Any] = []
    lower, window = after, max(2 * limit, CHANGES_WINDOW)
    while len(rows) < limit and lower < newest:
        upper = min(lower + window, newest)
        rows.extend(session.execute(sa.select(Record.seq, Record.key, Record.deleted, Record.data).where(
            Record.resource_id == table.resource_id, Record.seq > lower, Record.seq <= upper)
            .order_by(Record.seq).limit(limit - len(rows))).all())
        lower, window = upper, window * 2
    entries = []
    for seq, key, deleted, data in rows:
        if deleted:
            entry = {name: data.get(name) for name in table.primary_key} if table.primary_key else {}
            entry.update({"_seq": seq, "_key": key, "_deleted": True})
        else:
            entry = {**data, "_seq": seq, "_key": key, "_deleted": False}
        entries.append(entry)
    last = rows[-1][0] if rows else after
    return {"changes": entries, "next_cursor": encode_cursor(last, table), "has_more": last < newest}


def iter_records(session: Session, table: DatastoreTable) -> Iterator[dict[str, Any]]:
    """Every live record in key order, fetched in chunks (memory stays flat).

    The chunks are key ranges fixed by one query at the start (every ``DUMP_CHUNK``-th key), so
    each chunk query reads about ``DUMP_CHUNK`` records whatever plan the database picks. Plain
    keyset paging ("key > last ORDER BY key LIMIT n") is only cheap when the database walks the
    index: without statistics (right after a bulk load, or with autovacuum off) PostgreSQL fetched
    and sorted every remaining record for each chunk, and a million-record dump never finished.
    Records written during the dump are included when their range has not been sent yet.
    """
    live = (Record.resource_id == table.resource_id, Record.deleted.is_(False))
    numbered = sa.select(Record.key, sa.func.row_number().over(order_by=Record.key).label("n")) \
        .where(*live).subquery()
    bounds = list(session.scalars(sa.select(numbered.c.key).where(numbered.c.n % DUMP_CHUNK == 0)
                                  .order_by(numbered.c.key)))
    # End the transaction between chunks: a long dump must not hold SQLite's lock or an old
    # PostgreSQL snapshot; range and keyset paging need neither.
    session.rollback()
    last_key = None
    for bound in bounds:
        query = sa.select(Record.key, Record.data).where(*live, Record.key <= bound)
        if last_key is not None:
            query = query.where(Record.key > last_key)
        chunk = session.execute(query.order_by(Record.key)).all()
        session.rollback()
        last_key = bound
        for _key, data in chunk:
            yield data
    while True:  # after the last bound: the tail (and whatever was added there meanwhile)
        query = sa.select(Record.key, Record.data).where(*live)
        if last_key is not None:
            query = query.where(Record.key > last_key)
        chunk = session.execute(query.order_by(Record.key).limit(DUMP_CHUNK)).all()
        session.rollback()
        if not chunk:
            return
        last_key = chunk[-1][0]
        for _key, data in chunk:
            yield data


def csv_cell(value: Any) -> Any:
    """A CSV cell: nested values as JSON, booleans as true/false."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def csv_lines(header: list[str], rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    """CSV text, one line at a time (CRLF line ends, as Excel writes)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_cell(row.get(name)) for name in header])
        yield buffer.getvalue()
