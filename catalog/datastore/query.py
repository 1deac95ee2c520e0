"""DataStore reads: filtered search, the change feed and streaming dumps.

Field names in filters and sorts are checked against the table's fields; values are bound
parameters, never formatted into SQL.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import re
from typing import Any, Iterator

import sqlalchemy as sa
import sqlalchemy.ext.compiler
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.visitors import InternalTraversal

from ..api.rawjson import RawJSON, object_with
from ..errors import ValidationError
from ..search.text import check_query_length
from . import key_blocks, text_index, value_counts
from .models import DatastoreTable, Record
from .record_schemas import indexed_fields

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
    indexed = set(indexed_fields(table.schema_document))
    conditions = []
    for name, wanted in filters.items():
        if name not in types:
            shown = f" {name!r}" if _PLAIN_NAME.match(str(name)) else ""
            raise ValidationError.single("filters", f"unknown field{shown}; fields: {', '.join(types)}")
        _addressable(name, "filters")
        values = wanted if isinstance(wanted, list) else [wanted]
        options = [_matches(name, types[name], value, indexed=name in indexed) for value in values]
        conditions.append(sa.or_(*options) if options else sa.false())
    keys = _key_values(table, filters)
    if keys is not None:  # the same records, found by the primary key instead of every record's data
        conditions.insert(0, Record.key.in_(keys) if len(keys) > 1 else Record.key == keys[0])
    return conditions


def _key_values(table: DatastoreTable, filters: dict[str, Any]) -> list[str] | None:
    """The stored keys that ``filters`` on a single-field primary key stand for (``None``: not such a filter).

    Only where the stored key of a matching record is certain: a text key filtered with text, a whole
    number key with whole numbers (5 and 5.0 are the same number; the key of 5 is "5").
    """
    if len(table.primary_key) != 1 or table.primary_key[0] not in filters:
        return None
    name = table.primary_key[0]
    kind = _types(table).get(name)
    wanted = filters[name]
    values = wanted if isinstance(wanted, list) else [wanted]
    keys = []
    for value in values:
        if kind == "text" and isinstance(value, str):
            keys.append(value)
        elif kind == "int" and isinstance(value, int) and not isinstance(value, bool):
            keys.append(str(value))
        else:
            return None
    return keys or None


def _literal(text: str) -> str:
    """``text`` as an SQL string literal (field names of indexes are written into the SQL: an expression
    index is used only for the same expression, and a bound parameter is not the same expression)."""
    return "'" + text.replace("'", "''") + "'"


def field_value(name: str, dialect: str) -> Any:
    """The text of top-level field ``name`` as the expression its DataStore index holds."""
    if dialect == "postgresql":
        return sa.literal_column(f"datastore_record.data ->> {_literal(name)}", sa.Text)
    return sa.literal_column(f"json_extract(datastore_record.data, {_literal(_json_path(name))})", sa.Text)


def _json_path(name: str) -> str:
    return '$."' + name + '"'


#: the names of the field indexes (``field_index_name``); before migration 0025 they were named
#: ``ix_datastore_record_field_…`` and held no key
FIELD_INDEX_PREFIX = "ix_datastore_record_fkey_"


def field_index_name(name: str) -> str:
    """The name of the DataStore index on field ``name`` (one per field name, shared by every table)."""
    return FIELD_INDEX_PREFIX + hashlib.sha1(name.encode()).hexdigest()[:16]


def field_index_ddl(name: str, dialect: str) -> str:
    """``CREATE INDEX IF NOT EXISTS`` of the index on field ``name``: (resource, the field's text, key), over
    the records that have the field. The key makes a filtered page in key order a walk of the index from
    its first match (the first 100 of a town's 90,000 households without reading the others; migration 0025)."""
    _addressable(name, "x-index")
    if dialect == "postgresql":
        return (f"CREATE INDEX IF NOT EXISTS {field_index_name(name)} ON datastore_record "
                f"(resource_id, (data ->> {_literal(name)}), key) WHERE data ? {_literal(name)}")
    extract = f"json_extract(data, {_literal(_json_path(name))})"
    return (f"CREATE INDEX IF NOT EXISTS {field_index_name(name)} ON datastore_record "
            f"(resource_id, {extract}, key) WHERE {extract} IS NOT NULL")


def create_field_indexes(session: Session, table: DatastoreTable) -> list[str]:
    """Create the indexes on the fields ``table``'s schema marks ``x-index`` that no table made yet.

    Looked up first: even ``CREATE INDEX IF NOT EXISTS`` locks the whole records table against
    writes until the transaction ends, on PostgreSQL.
    """
    dialect = session.get_bind().dialect.name
    catalog = ("SELECT count(*) FROM pg_class WHERE relkind = 'i' AND relname = :name" if dialect == "postgresql"
               else "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name = :name")
    made = []
    for name in indexed_fields(table.schema_document):
        if not session.scalar(sa.text(catalog), {"name": field_index_name(name)}):
            session.execute(sa.text(field_index_ddl(name, dialect)))
            made.append(name)
    return made


def _matches(name: str, kind: str, value: Any, *, indexed: bool = False) -> Any:
    """The condition "field ``name`` (of CKAN type ``kind``) equals ``value``".

    The comparison follows the field's type, not the value's: casting a text field to a number
    (or a boolean) would fail in PostgreSQL on the first record that is not one. On an ``indexed``
    text field the comparison is written as its index's expression (the same test), so the index
    finds the records.
    """
    element = Record.data[name]
    if indexed and kind == "text" and isinstance(value, str):
        return _indexed_equals(name, value)
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


class _IndexedEquals(sa.sql.expression.ColumnElement):
    """"Field ``name``'s text equals ``value``", in the form of the field's index (compiled per dialect)."""

    # Cached like SQLAlchemy's own elements: the field name is part of the statement's cache key, the value
    # a bound parameter (not compiled again for every value: a tenth of an ID-number lookup's CPU before)
    inherit_cache = True
    _traverse_internals = [("name", InternalTraversal.dp_string), ("value", InternalTraversal.dp_clauseelement)]
    type = sa.Boolean()
    # a comparison already: without this SQLAlchemy writes "(… = ?) = 1" where the database has no boolean
    # type (SQLite), which the field's index can only walk, for every record of the resource (10 s at a million)
    _is_implicitly_boolean = True

    def __init__(self, name: str, value: Any) -> None:
        self.name = name
        self.value = value if isinstance(value, sa.sql.expression.BindParameter) else \
            sa.bindparam(None, value, type_=sa.Text)


@sa.ext.compiler.compiles(_IndexedEquals)
def _compile_indexed_equals(element: _IndexedEquals, compiler, **kw) -> str:
    dialect = compiler.dialect.name
    condition = field_value(element.name, dialect) == element.value
    if dialect == "postgresql":  # the index's own condition, so the planner sees the index applies
        condition = sa.and_(sa.literal_column(f"datastore_record.data ? {_literal(element.name)}", sa.Boolean),
                            condition)
    return compiler.process(condition, **kw)


def _indexed_equals(name: str, value: str) -> Any:
    return _IndexedEquals(name, value)


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
                   limit: int = 100, offset: int = 0, include_total: bool = True, cursor: str | None = None,
                   total_threshold: int = 10000) -> dict[str, Any]:
    """One page of live records, with the total when asked for, and the cursor of the next page.

    ``cursor`` (a ``next_cursor`` of an earlier page in key order) continues after that page's last
    record: each record is read once however deep, and records written meanwhile neither shift the
    pages nor come twice. The total is exact up to ``total_threshold`` matches and estimated above
    (``total_was_estimated``).
    """
    types = _types(table)
    for name in fields or []:
        if name not in types:
            raise ValidationError.single("fields", f"unknown field {name!r}")
    check_query_length(q)
    after = decode_page_cursor(cursor, table)
    if after is not None and sort:
        raise ValidationError.single("cursor", "a cursor pages in key order: leave out sort, or page with offset")
    if after is not None and offset:
        raise ValidationError.single("cursor", "give a cursor or an offset, not both")
    live = [Record.resource_id == table.resource_id, Record.deleted.is_(False)]
    texts, common, lower = [], False, None
    counted = _known_total(table, filters, q, total_threshold)
    lookup = _lookup(session, table, filters) if not q and not sort and after is None else None
    if lookup is not None:  # an equality lookup (a key, an ID number, a town): a statement built once
        statement, values = lookup
        rows = session.execute(statement, {**values, "lookup_offset": offset, "lookup_limit": limit}).all()
        return _finish(session, table, rows, filters=filters, q=None, fields=fields, sort=None, limit=limit,
                       offset=offset, include_total=include_total, cursor=cursor, total_threshold=total_threshold,
                       counted=counted, conditions=lambda: [*live, *filter_conditions(table, filters)], common=False)
    if q:
        # An earlier page of this search (since the table's last change, or enough matches before it) found
        # the word common: no need to read its matches from the index again
        matches, common, lower = text_index.text_condition(
            session, table, q, _text_matches(session, q), total_threshold,
            common=bool(counted and counted[1] and not filters), reach=_reach(total_threshold))
        texts.append(matches)
    conditions = [*live, *filter_conditions(table, filters), *texts]
    indexed = set(filters or {}) & set(indexed_fields(table.schema_document))
    page = [*conditions, Record.key > after] if after is not None else conditions
    order = _order(table, sort)
    if session.get_bind().dialect.name == "sqlite" and indexed and (sort or not _one_value_each(filters, indexed)):
        # SQLite keeps no statistics of these indexes unless ANALYZE has run: it would walk the primary
        # key for its order and test every record (a second for one ID number at 100,000 records).
        # "+key" takes the key out of index order, so the field's index finds the matches, then sorted.
        # Not needed for one value of an indexed field in key order: the field's index (resource, value,
        # key) both finds the matches and gives their order, and SQLite takes it (two equalities and the
        # order against the primary key's one equality and the order).
        order = [sa.literal_column("+datastore_record.key") if column is Record.key else column for column in order]
    skip = offset
    if after is None and not sort and not filters and not q and offset >= DEEP_OFFSET:
        # a deep page in key order: from the key block holding the offset (one statement, one snapshot)
        # instead of walking the primary key to it; what is left to skip is under key_blocks.MOST records
        rows = key_blocks.offset_page(session, table.resource_id, offset, limit)
        return _finish(session, table, rows, filters=None, q=None, fields=fields, sort=None, limit=limit,
                       offset=offset, include_total=include_total, cursor=cursor, total_threshold=total_threshold,
                       counted=counted, conditions=lambda: conditions, common=False)
    rows = _walk(session, table, conditions, after, skip, limit) if common and not sort else None
    if rows is None and common and not sort:
        # the matches lie far along the key order (records are often ordered by place, as household
        # numbers are): through the indexes, every match fetched and sorted, bounded by the matches
        conditions = [*live, *filter_conditions(table, filters),
                      *([text_index.matches_through_index(session, table, q, _text_matches(session, q))] if q else [])]
        page = [*conditions, Record.key > after] if after is not None else conditions
    if rows is None:
        rows = session.execute(sa.select(Record.key, Record.data).where(*page).order_by(*order)
                               .offset(skip).limit(limit)).all()
    return _finish(session, table, rows, filters=filters, q=q, fields=fields, sort=sort, limit=limit, offset=offset,
                   include_total=include_total, cursor=cursor, total_threshold=total_threshold, counted=counted,
                   conditions=lambda: conditions, common=common, lower=lower)


def _finish(session: Session, table: DatastoreTable, rows: list[Any], *, filters: dict | None, q: str | None,
            fields: list[str] | None, sort: str | None, limit: int, offset: int, include_total: bool,
            cursor: str | None, total_threshold: int, counted: tuple[int, bool] | None,
            conditions: Any, common: bool, lower: int | None = None) -> dict[str, Any]:
    """The answer of :func:`search_records` for the page ``rows``: the records, the next cursor and the total
    (``conditions``: a function giving the search's conditions, called only when the total is counted; ``lower``:
    how many records a common word matches at least, as the text index found)."""
    result: dict[str, Any] = {"records": [_project(data, fields) for _key, data in rows]}
    if not sort and rows:
        result["next_cursor"] = encode_page_cursor(rows[-1][0], table)
    elif not sort and cursor:  # past the end: the same place again (records may come)
        result["next_cursor"] = cursor
    if include_total:
        if (counted is None or counted[1]) and not cursor and len(rows) < limit and (rows or not offset):
            # A short page is the last one: the total is what it and the pages before hold (a key
            # lookup, the commonest read, needs no count query), exact where a kept total was estimated.
            result["total"] = offset + len(rows)
            return result
        result["total"], estimated = counted or _total(session, table, conditions(), filters, q, total_threshold,
                                                       common, lower)
        if estimated:
            result["total_was_estimated"] = True
    return result


def _one_value_each(filters: dict | None, indexed: set[str]) -> bool:
    """Whether each filter on an ``indexed`` field holds one text value (found in key order in its index)."""
    def one(wanted: Any) -> bool:
        values = wanted if isinstance(wanted, list) else [wanted]
        return len(values) == 1 and isinstance(values[0], str)
    return all(one((filters or {})[name]) for name in indexed)


#: page statements of equality lookups (:func:`_lookup`), by dialect and the filters' shape
_LOOKUPS: dict[tuple, Any] = {}
LOOKUPS_KEPT = 256


def _lookup(session: Session, table: DatastoreTable, filters: dict | None) -> tuple[Any, dict[str, Any]] | None:
    """``(statement, parameters)`` of the page of ``filters`` in key order when each filter is one text value
    on a text field (a key, an ID number, a town: the commonest reads), else ``None`` (the general path).

    The same conditions as :func:`filter_conditions` writes (the key column for the primary key, the
    field's index expression for an ``x-index`` field, the JSON value otherwise) and the same order, in a
    statement built once per shape (the fields, which of them is the key or indexed, the dialect) with the
    resource, the values, the offset and the limit as bound parameters: building the statement and its
    SQLAlchemy cache key on every read cost more CPU than running it (docs/PERFORMANCE.md, fifth pass).
    """
    if not filters or not isinstance(filters, dict):
        return None
    types = _types(table)
    if not all(isinstance(value, str) and types.get(name) == "text" and not _UNADDRESSABLE.search(name)
               for name, value in filters.items()):
        return None
    key = table.primary_key[0] if len(table.primary_key) == 1 else None
    indexed = set(indexed_fields(table.schema_document))
    dialect = session.get_bind().dialect.name
    shape = (dialect, tuple((name, name == key, name in indexed) for name in filters))
    statement = _LOOKUPS.get(shape)
    if statement is None:
        statement = _lookup_statement(dialect, shape[1])
        _keep(_LOOKUPS, LOOKUPS_KEPT, shape, statement)
    values = {f"lookup_{number}": value for number, value in enumerate(filters.values())}
    return statement, {"lookup_resource": table.resource_id, **values}


def _lookup_statement(dialect: str, shape: tuple[tuple[str, bool, bool], ...]) -> Any:
    conditions: list[Any] = [Record.resource_id == sa.bindparam("lookup_resource", type_=sa.String),
                             Record.deleted.is_(False)]
    keys = []
    for number, (name, is_key, is_indexed) in enumerate(shape):
        value = sa.bindparam(f"lookup_{number}", type_=sa.Text)
        if is_key:
            keys.append(Record.key == value)
        conditions.append(_IndexedEquals(name, value) if is_indexed else Record.data[name].as_string() == value)
    # in key order: one value of an indexed field is found in its index in key order (no "+key" on SQLite)
    return (sa.select(Record.key, Record.data).where(*conditions[:2], *keys, *conditions[2:]).order_by(Record.key)
            .offset(sa.bindparam("lookup_offset")).limit(sa.bindparam("lookup_limit")))


#: the records of the first key range :func:`_walk` reads (each next range twice as many), and how many
#: ranges it reads before leaving a page to the indexes (1,000 + 2,000 + 4,000 records)
WALK_CHUNK = 1000
WALK_RANGES = 3


def _walk(session: Session, table: DatastoreTable, conditions: list[Any], after: str | None, offset: int,
          limit: int) -> list[Any] | None:
    """The page of a search whose matches are common (a ``q`` word held by more records than the total
    threshold), in key order: key ranges read one after another (each bounded by one walk of the primary
    key), the conditions tested in each, until the page is full. Left to itself the planner may fetch and
    sort every match first (it has no idea how common the word is). ``None`` when :data:`WALK_RANGES`
    ranges did not fill the page: the matches lie further along, and the indexes are the cheaper way."""
    live = (Record.resource_id == table.resource_id, Record.deleted.is_(False))
    wanted, found, last, step = offset + limit, [], after, WALK_CHUNK
    for _range in range(WALK_RANGES + 1):
        if len(found) >= wanted:
            break
        if _range == WALK_RANGES:
            return None
        start = (Record.key > last,) if last is not None else ()
        bound = session.scalar(sa.select(Record.key).where(*live, *start).order_by(Record.key)
                               .offset(step - 1).limit(1))
        window = (*start, Record.key <= bound) if bound is not None else start
        found.extend(session.execute(sa.select(Record.key, Record.data).where(*conditions, *window)
                                     .order_by(Record.key).limit(wanted - len(found))).all())
        if bound is None:
            break
        last, step = bound, step * 2
    return found[offset:offset + limit]


def _keep(kept: dict, most: int, version: tuple, value: Any) -> None:
    """Keep ``value`` under a table ``version`` in one of the per-version caches below, holding at most
    ``most`` (all forgotten when full: a written table's old versions are never asked for again)."""
    if len(kept) >= most:
        kept.clear()
    kept[version] = value


#: an ``offset`` from which a page in key order starts from its key block (:func:`key_blocks.offset_page`)
#: rather than walking the primary key from the first record
DEEP_OFFSET = 1000


def _keys_version(table: DatastoreTable) -> tuple:
    """Which set of live keys the table holds: the last write that added or removed one (``keys_seq``), or
    where that is not known the last write (the kept totals of searches without filters go by it)."""
    return ("keys", table.keys_seq) if table.keys_seq is not None else ("seq", table.last_seq)


def _version(table: DatastoreTable, filters: dict | None, q: str | None, threshold: int) -> tuple:
    """What a search's total depends on: the table's generation and last change, the search (without
    filters or ``q`` only the set of live keys: an update of records leaves that total)."""
    changes = table.last_seq if filters or q else _keys_version(table)
    return (table.resource_id, generation(table), changes, threshold,
            json.dumps(filters, sort_keys=True, ensure_ascii=False, default=str), q)


def _total(session: Session, table: DatastoreTable, conditions: list[Any], filters: dict | None, q: str | None,
           threshold: int, common: bool, lower: int | None = None) -> tuple[int, bool]:
    """``(total, estimated)`` of a search, from :data:`_TOTALS` when the table has not changed since, or from
    :data:`_ABOVE` when it has not changed enough to bring an estimated total down to the threshold."""
    version = _version(table, filters, q, threshold)
    known = _known_total(table, filters, q, threshold)
    if known is not None:  # the same search since the table's last change: every page of a walk
        return known
    if not filters and not q:  # every live record: the sum of the key blocks' counts, exact at any size
        known = key_blocks.live_records(session, table.resource_id), False
    elif common and not filters:  # more index matches than the threshold: no need to count them
        known = max(_estimate(session, conditions, threshold, table), threshold + 1, lower or 0), True
    elif not q and len(fields := _indexed_filters(table, filters)) == 1 == len(filters):
        # one indexed field's values: their kept counts, or fewer matches than value_counts.KEEP_ABOVE each
        known = field_total(session, table, *fields[0]), False
    else:
        total, estimated, lower = _count(session, conditions, threshold, table, filters)
        known = total, estimated
    _keep(_TOTALS, TOTALS_KEPT, version, known)
    if known[1] and lower is not None and lower > threshold and table.last_seq is not None:
        _keep(_ABOVE, TOTALS_KEPT, _search(table, filters, q, threshold), (int(table.last_seq), lower, known[0]))
    return known


def _reach(threshold: int) -> int:
    """How many matches a search's count (and a word's reading of the text index) goes to: the threshold and as
    many again, so that a total found above the threshold stays known to be above it for up to ``threshold``
    later changes of the table (:func:`_known_total`) instead of being counted again after every write."""
    return 2 * threshold + 1


def _search(table: DatastoreTable, filters: dict | None, q: str | None, threshold: int) -> tuple:
    """A search of a table's generation, whatever its version: the key of :data:`_ABOVE`."""
    return (table.resource_id, generation(table), threshold,
            json.dumps(filters, sort_keys=True, ensure_ascii=False, default=str), q)


def _known_total(table: DatastoreTable, filters: dict | None, q: str | None,
                 threshold: int) -> tuple[int, bool] | None:
    """``(total, estimated)`` of a search without reading records, or ``None``: the total of this version of the
    table (:data:`_TOTALS`), or an estimated total of an earlier version when the changes since cannot have
    brought the matches down to the threshold (a change writes one record: ``lower - changes > threshold``),
    given again as an estimate (off by at most those changes more). A total that may have come down to the
    threshold or under is counted again, so a total up to the threshold is always exact."""
    version = _version(table, filters, q, threshold)
    known = _TOTALS.get(version)
    if known is not None:
        return known
    above = _ABOVE.get(_search(table, filters, q, threshold)) if _ABOVE and table.last_seq is not None else None
    if above is None:
        return None
    seq, lower, total = above
    changes = int(table.last_seq) - seq
    if changes < 0 or lower - changes <= threshold:
        return None
    known = total, True
    _keep(_TOTALS, TOTALS_KEPT, version, known)
    return known


#: totals of searches (up to :data:`TOTALS_KEPT`), keyed by the table's generation and last change number:
#: a write moves ``last_seq``, so a total is never reused across a change of the records (a search without
#: filters or ``q`` by ``keys_seq``: its total is the live records, which only new keys and tombstones change);
#: paging through a search by cursor or offset counts its matches once instead of on every page
_TOTALS: dict[tuple, tuple[int, bool]] = {}
TOTALS_KEPT = 1024
#: searches whose total was estimated (above the threshold), for the table's later versions (up to
#: :data:`TOTALS_KEPT`): ``(last_seq, lower, total)``, at change ``last_seq`` at least ``lower`` records matched
#: and ``total`` was given (:func:`_known_total`)
_ABOVE: dict[tuple, tuple[int, int, int]] = {}


def _count(session: Session, conditions: list[Any], threshold: int, table: DatastoreTable,
           filters: dict | None = None) -> tuple[int, bool, int]:
    """``(total, estimated, counted)``: the records matching ``conditions`` (made of ``filters`` and more),
    counted up to :func:`_reach` (twice the threshold), ``counted`` of them; above the threshold the total is
    given as estimated (CKAN's flag above the threshold), and where every match was counted it is that count (no
    estimate read)."""
    matches = sa.select(sa.literal(1)).select_from(Record).where(*conditions)
    counted = session.scalar(sa.select(sa.func.count()).select_from(matches.limit(_reach(threshold)).subquery()))
    if counted <= threshold:
        return counted, False, counted
    if counted < _reach(threshold):
        return counted, True, counted
    return max(_estimate(session, conditions, threshold, table, filters), counted), True, counted


def _estimate(session: Session, conditions: list[Any], threshold: int, table: DatastoreTable,
              filters: dict | None = None) -> int:
    """An estimate of the matches of ``conditions``, known to be more than ``threshold``.

    Where ``filters`` hold ``x-index`` fields: the fewest live records holding the wanted values of one of
    them (:func:`field_total`: kept counts, or a bounded count), an upper bound (the other filters left
    out). The planner's estimate of such a filter is no guide: it prices ``data ? field`` at a fixed share.
    Otherwise, PostgreSQL: the planner's row estimate (its statistics; what CKAN 2.11 reports). SQLite
    keeps no statistics of JSON values: the share of matches among the records up to the
    ``threshold + 1``-th match in key order (read through the primary key index, without the records'
    data), times the live records of the resource (the sum of its key blocks), biased where the keys
    follow the matched values.
    """
    resource = conditions[0]  # Record.resource_id == …
    bounds = [field_total(session, table, name, values) for name, values in _indexed_filters(table, filters)]
    if bounds:
        return min(bounds)
    statement = sa.select(sa.literal(1)).select_from(Record).where(*conditions)
    if session.get_bind().dialect.name == "postgresql":
        compiled = statement.compile(dialect=session.get_bind().dialect)
        plan = session.connection().exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled),
                                                    compiled.params).scalar()
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])
    edge = session.scalar(sa.select(Record.key).where(*conditions).order_by(Record.key)
                          .offset(threshold).limit(1))
    scanned = session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        resource, Record.key <= edge)) or 1
    live = key_blocks.live_records(session, table.resource_id)  # counted by the key blocks, not the records
    return round((threshold + 1) * live / scanned)


def _indexed_filters(table: DatastoreTable, filters: dict | None) -> list[tuple[str, list[str]]]:
    """``[(field, values)]`` of the ``filters`` on ``x-index`` text fields with text values only: the
    filters compiled as their index's condition (:func:`_matches`)."""
    types, indexed = _types(table), set(indexed_fields(table.schema_document))
    found = []
    for name, wanted in (filters or {}).items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if name in indexed and types.get(name) == "text" and values and all(isinstance(v, str) for v in values):
            found.append((name, sorted(set(values))))
    return found


def field_total(session: Session, table: DatastoreTable, name: str, values: list[str]) -> int:
    """The live records whose ``x-index`` field ``name`` holds one of ``values`` (distinct), exact, without counting
    more than :data:`value_counts.KEEP_ABOVE` matches of any value: the count the table keeps of a common value,
    else the value's matches counted in the field's index up to that many; a value found to have more is kept
    (:func:`value_counts.keep`, once for the table's life), or counted in full when a write holds the table."""
    known = value_counts.counts(session, table.resource_id, name, values)
    total = sum(known.values())
    live = (Record.resource_id == table.resource_id, Record.deleted.is_(False))
    for value in values:
        if value in known:
            continue
        matches = _indexed_equals(name, value)
        found = session.scalar(sa.select(sa.func.count()).select_from(
            sa.select(sa.literal(1)).select_from(Record).where(*live, matches)
            .limit(value_counts.KEEP_ABOVE + 1).subquery()))
        if found > value_counts.KEEP_ABOVE:
            found = value_counts.keep(session, table.resource_id, name, value, matches)
            if found is None:
                found = session.scalar(sa.select(sa.func.count()).select_from(Record).where(*live, matches))
        total += found
    return total


def encode_page_cursor(key: str, table: DatastoreTable) -> str:
    """The cursor of the page after the record with stored key ``key`` (of ``table``'s generation)."""
    text = f"p1:{generation(table)}:{key}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_page_cursor(cursor: str | None, table: DatastoreTable) -> str | None:
    """The key a page cursor continues after (``None`` without one); 409 on anything else."""
    if not cursor:
        return None
    try:
        kind, made_for, key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split(":", 2)
        if kind != "p1":
            raise ValueError
    except (ValueError, UnicodeDecodeError):
        raise ValidationError.single("cursor", "not a cursor returned by datastore_search") from None
    if made_for != generation(table):
        raise ValidationError.single("cursor", "the cursor belongs to an earlier DataStore table of this resource "
                                               "(it was deleted and created again): search again without a cursor")
    return key


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


def changes(session: Session, table: DatastoreTable, *, cursor: str | None, limit: int,
            raw: bool = False) -> dict[str, Any]:
    """The changes after ``cursor`` in order: records with ``_seq``, tombstones with ``_deleted``.

    ``raw``: each record as its stored JSON text with the three members added (``api.rawjson.RawJSON``),
    not decoded, for a reader who sees the records as stored (nothing masked or flagged)."""
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
        # through the session's connection (Core): the ORM's rows cost a µs more a change
        rows.extend(session.connection().execute(sa.select(Record.seq, Record.key, Record.deleted,
                                                           _json_text(session) if raw else Record.data).where(
            Record.resource_id == table.resource_id, Record.seq > lower, Record.seq <= upper)
            .order_by(Record.seq).limit(limit - len(rows))).all())
        lower, window = upper, window * 2
    entries: list[Any] = []
    for seq, key, deleted, data in rows:
        if deleted:
            data = json.loads(data) if raw else data
            entry = {name: data.get(name) for name in table.primary_key} if table.primary_key else {}
            entry.update({"_seq": seq, "_key": key, "_deleted": True})
            if raw:
                entry = json.dumps(entry, ensure_ascii=False)
        elif raw:
            entry = _entry_text(data, seq, key)
        else:
            entry = {**data, "_seq": seq, "_key": key, "_deleted": False}
        entries.append(entry)
    last = rows[-1][0] if rows else after
    return {"changes": Entries(entries) if raw else entries, "next_cursor": encode_cursor(last, table),
            "has_more": last < newest}


class Entries(RawJSON):
    """A page of the change feed as one JSON array, written into the answer as it is (``api.rawjson``):
    one fragment for the app's JSON provider to put in place instead of one per record (which cost a few
    µs a record). ``len()`` is the entries' count; iterating decodes them."""

    __slots__ = ("count",)

    def __init__(self, texts: list[str]) -> None:
        if texts:  # the brackets put on the first and last entries: one copy of the page's text, not two
            texts[0] = "[" + texts[0]
            texts[-1] = texts[-1] + "]"
        super().__init__(", ".join(texts) if texts else "[]")
        self.count = len(texts)

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.value())

    def __getitem__(self, index: Any) -> Any:
        return self.value()[index]


def _entry_text(text: str, seq: int, key: str) -> str:
    """A live record's feed entry from its stored JSON object ``text``: ``_seq``, ``_key`` and ``_deleted``
    added at its end, as ``api.rawjson.object_with`` writes them (a stored member of the same name comes
    first, so JSON readers take the added one).

    Written straight into the text where it ends in ``…}`` after a value (every stored record, as PostgreSQL
    and the app write them): ``object_with``'s six ``json.dumps`` calls and copies of the text took 15 µs a
    record, half of the feed's time per record over HTTP at 1,000,000 records (docs/PERFORMANCE.md,
    "DataStore reads", seventh pass). Any other text (an empty object, space before the brace) goes
    through ``object_with``."""
    if len(text) > 2 and text[-1] == "}" and text[-2] not in _OPEN_OR_SPACE:
        return f'{text[:-1]}, "_seq": {int(seq)}, "_key": {_json_string(key)}, "_deleted": false}}'
    return object_with(text, {"_seq": seq, "_key": key, "_deleted": False}).text


#: what may stand before the closing brace of an object text other than the end of its last value
_OPEN_OR_SPACE = frozenset("{ \t\n\r")
#: a str as a JSON string, non-ASCII characters as they are (``json.dumps(s, ensure_ascii=False)``, without
#: building an encoder per call)
_json_string = json.encoder.encode_basestring


def _json_text(session: Session) -> Any:
    """``datastore_record.data`` as the JSON text the database holds (not decoded by the driver)."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.cast(Record.data, sa.Text)
    return sa.type_coerce(Record.data, sa.Text)


def iter_records(session: Session, table: DatastoreTable) -> Iterator[dict[str, Any]]:
    """Every live record in key order, fetched in chunks (memory stays flat): :func:`_iter_rows`."""
    for _key, data in _iter_rows(session, table, Record.data):
        yield data


def iter_record_texts(session: Session, table: DatastoreTable) -> Iterator[tuple[str, str]]:
    """``(key, stored JSON text)`` of every live record in key order, as :func:`iter_records` reads them,
    not decoded (a dump for a reader who sees the records as stored)."""
    yield from _iter_rows(session, table, _json_text(session))


def _iter_rows(session: Session, table: DatastoreTable, column: Any) -> Iterator[tuple[str, Any]]:
    """``(key, column)`` of every live record in key order, fetched in chunks (memory stays flat).

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
        query = sa.select(Record.key, column).where(*live, Record.key <= bound)
        if last_key is not None:
            query = query.where(Record.key > last_key)
        chunk = session.execute(query.order_by(Record.key)).all()
        session.rollback()
        last_key = bound
        yield from chunk
    while True:  # after the last bound: the tail (and whatever was added there meanwhile)
        query = sa.select(Record.key, column).where(*live)
        if last_key is not None:
            query = query.where(Record.key > last_key)
        chunk = session.execute(query.order_by(Record.key).limit(DUMP_CHUNK)).all()
        session.rollback()
        if not chunk:
            return
        last_key = chunk[-1][0]
        yield from chunk


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
