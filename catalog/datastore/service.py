"""DataStore writes: create a resource's table, upsert validated records, delete, describe.

Every write takes the table row's lock first (an UPDATE, portable across SQLite and PostgreSQL) and
numbers its changes from ``DatastoreTable.last_seq``, so change sequence numbers are committed in
order and the change feed can be read by "everything after the last number I saw".
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from schemas.validation import RecordValidator, closed_schema, primary_key as schema_primary_key

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..db import jit_off, utcnow
from ..errors import NotFound, ValidationError
from .hashing import canonical_json, source_hash, text_hash
from . import key_blocks, value_counts
from .models import DatastoreTable, QuarantinedRecord, Record
from .query import create_field_indexes
from .record_schemas import get_record_schema
from ..webhooks.service import records_changed as announce_records_changed

#: CKAN field types and the JSON Schema each stands for.
FIELD_TYPES: dict[str, dict[str, Any]] = {
    "text": {"type": "string"}, "string": {"type": "string"},
    "int": {"type": "integer"}, "int4": {"type": "integer"}, "int8": {"type": "integer"},
    "integer": {"type": "integer"}, "bigint": {"type": "integer"},
    "numeric": {"type": "number"}, "float": {"type": "number"}, "float8": {"type": "number"},
    "double": {"type": "number"},
    "bool": {"type": "boolean"}, "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"}, "timestamp": {"type": "string", "format": "date-time"},
    "json": {},
}
METHODS = ("insert", "upsert", "update")
ON_INVALID = ("fail", "quarantine", "skip")
KEY_CHUNK = 500


def no_table_message(resource_id: str) -> str:
    """The answer for a resource without a DataStore table, and for one whose dataset the caller may not read."""
    return f"Resource {resource_id} has no DataStore table (datastore_create first)"


def get_table(session: Session, resource_id: str) -> DatastoreTable:
    """The DataStore table of a resource, or :class:`NotFound`."""
    table = session.get(DatastoreTable, resource_id) if resource_id else None
    if table is None:
        raise NotFound(no_table_message(resource_id))
    return table


def read_table(session: Session, resource_id: str) -> DatastoreTable:
    """:func:`get_table` with its resource and dataset loaded in the same query (every read checks the
    dataset's share rules: two round trips fewer than loading them on first use)."""
    table = session.get(DatastoreTable, resource_id, options=[
        joinedload(DatastoreTable.resource).joinedload(Resource.dataset)]) if resource_id else None
    if table is None:
        raise NotFound(no_table_message(resource_id))
    return table


def ckan_fields(schema: dict[str, Any]) -> list[dict[str, str]]:
    """The record schema's top-level properties as CKAN field descriptions ``{id, type}``."""
    result = []
    for name, prop in (schema.get("properties") or {}).items():
        kind = prop.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        ckan = {"integer": "int", "number": "numeric", "boolean": "bool", "array": "json",
                "object": "json"}.get(kind, "text")
        if kind == "string" and prop.get("format") == "date":
            ckan = "date"
        elif kind == "string" and prop.get("format") == "date-time":
            ckan = "timestamp"
        elif kind is None:
            ckan = "json"
        entry = {"id": name, "type": ckan}
        labels = prop.get("x-labels")
        if labels:
            entry["info"] = {"label": labels.get("zh"), "label_en": labels.get("en")}
        result.append(entry)
    return result


def schema_from_fields(fields: list[dict[str, Any]], primary_key: list[str]) -> dict[str, Any]:
    """A record schema built from CKAN-style ``fields`` (for tables without a bound schema)."""
    errors: dict[str, list[str]] = {}
    properties: dict[str, Any] = {}
    for index, field in enumerate(fields):
        name, kind = field.get("id"), field.get("type") or "text"
        kind = kind.lower() if isinstance(kind, str) else None
        if not isinstance(name, str) or not name.strip() or name.startswith("_"):
            errors[f"fields.{index}.id"] = ["must be a name that does not start with _"]
        elif name in properties:
            errors[f"fields.{index}.id"] = [f"duplicate field {name}"]
        elif kind not in FIELD_TYPES:
            errors[f"fields.{index}.type"] = ["must be one of: " + ", ".join(sorted(FIELD_TYPES))]
        else:
            properties[name] = dict(FIELD_TYPES[kind])
    for name in primary_key:
        if name not in properties:
            errors["primary_key"] = [f"{name} is not one of the fields"]
    if errors:
        raise ValidationError(errors)
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": properties, "required": list(primary_key), "x-primary-key": list(primary_key),
            "additionalProperties": False}


@lru_cache(maxsize=64)
def _compiled(document_json: str) -> RecordValidator:
    return RecordValidator(closed_schema(json.loads(document_json)))


def validator_for(table: DatastoreTable) -> RecordValidator:
    """The compiled validator of a table's record schema, closed (cached per document).

    Closed here too, not only when a schema is registered: tables created before schemas were
    closed keep their stored document, and must refuse undeclared fields all the same.
    """
    return _compiled(json.dumps(table.schema_document, sort_keys=True, ensure_ascii=False))


def create_table(session: Session, actor: User | None, resource: Resource, *,
                 fields: list[dict[str, Any]] | None = None, primary_key: list[str] | None = None,
                 record_schema: str | None = None) -> DatastoreTable:
    """Create (or redefine) the DataStore table of a resource from its bound schema or ``fields``."""
    dataset = resource.dataset
    rules.require(rules.can_write_records(session, actor, dataset),
                  f"You cannot write records of dataset {dataset.name}")
    ref = record_schema or dataset.record_schema
    if ref:
        document = get_record_schema(session, ref)
        key = list(primary_key or schema_primary_key(document))
        unknown = [k for k in key if k not in (document.get("properties") or {})]
        if unknown:
            raise ValidationError.single("primary_key", f"not fields of {ref}: {', '.join(unknown)}")
    elif fields:
        key = list(primary_key or [])
        document = schema_from_fields(fields, key)
    else:
        raise ValidationError.single(
            "fields", "Missing value: give fields, a record_schema, or bind the dataset to a record schema")
    table = session.get(DatastoreTable, resource.id)
    new = table is None
    if new:
        table = DatastoreTable(resource_id=resource.id, last_seq=0, keys_seq=0)
        session.add(table)
    elif table.primary_key != key and _record_count(session, table) > 0:
        raise ValidationError.single("primary_key", "cannot change the primary key of a table that has records")
    redefined = not new and table.schema_document != document
    table.record_schema = ref
    table.schema_document = document
    table.primary_key = key
    table.fields = ckan_fields(document)
    table.modified = utcnow()
    session.flush()  # the table's row written: its lock held, as a write holds it
    if new:
        key_blocks.first_block(session, resource.id)
    elif redefined:  # which fields are indexed, and their types, may have changed
        value_counts.forget(session, resource.id)
    create_field_indexes(session, table)
    return table


def _record_count(session: Session, table: DatastoreTable, *, deleted: bool = False) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(Record).where(
        Record.resource_id == table.resource_id, Record.deleted.is_(deleted))) or 0


def record_key(record: dict[str, Any], primary_key: list[str]) -> str:
    """The stored key of a record: its primary key value, or a JSON list for composite keys."""
    values = [record.get(name) for name in primary_key]
    if len(values) == 1:
        value = values[0]
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return json.dumps(values, ensure_ascii=False, separators=(",", ":"))


def _key_problem(record: Any, primary_key: list[str]) -> str | None:
    if not isinstance(record, dict):
        return "__root__"
    for name in primary_key:
        if record.get(name) in (None, ""):
            return name
    return None


def _lock(session: Session, table: DatastoreTable) -> int:
    """Take the table's write lock until commit and return the last committed change number."""
    session.execute(sa.update(DatastoreTable).where(DatastoreTable.resource_id == table.resource_id)
                    .values(modified=utcnow()))
    last = session.scalar(sa.select(DatastoreTable.last_seq).where(
        DatastoreTable.resource_id == table.resource_id))
    return int(last or 0)


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _driver_cursor(session: Session):
    """A psycopg cursor on the session's connection, inside its transaction (pending ORM changes flushed)."""
    session.flush()
    return session.connection().connection.driver_connection.cursor()


#: one record of a write: (index in the call, key, record, canonical JSON text, content hash, source hash)
Keyed = tuple[int, "str | None", dict, str, str, "str | None"]


def _existing(session: Session, resource_id: str,
              keyed: list[Keyed]) -> dict[str, tuple[str | None, bool, str | None]]:
    """``{key: (stored content hash, deleted, stored source hash)}`` of the stored records among the
    keys of ``keyed``.

    Only hashes travel: whether a record changed is whether its canonical JSON's hash differs from
    the stored one (a NULL hash, left by a record the migration could not hash, reads as changed).
    """
    found: dict[str, tuple[str | None, bool, str | None]] = {}
    keys = list(dict.fromkeys(item[1] for item in keyed if item[1] is not None))
    if not keys:
        return found
    if not _postgres(session):
        for start in range(0, len(keys), KEY_CHUNK):
            chunk = keys[start:start + KEY_CHUNK]
            for key, digest, deleted, source in session.execute(sa.select(
                    Record.key, Record.content_hash, Record.deleted, Record.source_hash).where(
                    Record.resource_id == resource_id, Record.key.in_(chunk))):
                found[key] = (digest, deleted, source)
        return found
    # One round trip for the whole batch, the keys as one binary array, each looked up by the primary
    # key's index through a LIMITed lateral subquery. (Written as "key = ANY(keys)", the planner, with
    # statistics saying a freshly loaded table is nearly empty, scanned every record of the resource
    # through the (resource_id, seq) index and filtered the keys: each batch of a rerun then read the
    # whole table, 260 ms a batch at 92,000 records and growing with it.) Not prepared: psycopg
    # prepares a statement after a few runs, and PostgreSQL may then keep a generic plan.
    with _driver_cursor(session) as cursor:
        cursor.execute(
            "SELECT r.key, r.content_hash, r.deleted, r.source_hash FROM unnest(%(keys)b::text[]) AS k(key) "
            "CROSS JOIN LATERAL (SELECT key, content_hash, deleted, source_hash FROM datastore_record "
            "WHERE resource_id = %(resource)s AND key = k.key LIMIT 1) AS r",
            {"keys": keys, "resource": resource_id}, prepare=False)
        for key, digest, deleted, source in cursor.fetchall():
            found[key] = (digest, deleted, source)
    return found


def unchanged_sources(session: Session, resource_id: str, digests: dict[str, str]) -> set[str]:
    """The keys among ``digests`` (key → digest of the source row a sync is about to map) whose live
    record a sync made from a row with that digest and which still holds what that row made (its
    stored source hash is :func:`~catalog.datastore.hashing.source_hash` of the digest and its current
    content hash). Such a row would map to the stored record again: the sync can count it unchanged
    without mapping or validating it. A record written since by anyone else does not match."""
    keyed = [(0, key, {}, "", "", None) for key in digests]
    stored = _existing(session, resource_id, keyed)
    return {key for key, (content, deleted, source) in stored.items()
            if not deleted and source is not None and content is not None
            and source == source_hash(digests[key], content)}


def _write(session: Session, table: DatastoreTable, inserts: list[dict[str, Any]],
           updates: list[dict[str, Any]], rehash: list[tuple[str, str]] = ()) -> None:
    """Store the planned rows: new keys inserted, existing keys (live or tombstones) overwritten, and
    the new source hash of unchanged records (``rehash``: (key, source hash); no change number)."""
    if rehash:
        columns = Record.__table__.c
        session.execute(
            sa.update(Record.__table__)
            .where(columns.resource_id == table.resource_id, columns.key == sa.bindparam("_key"))
            .values(source_hash=sa.bindparam("_source")),
            [{"_key": key, "_source": source} for key, source in rehash])
    if not _postgres(session):
        # SQLite: Core executemany with the JSON text made once in upsert_records (through the ORM
        # the JSON column would serialize every record a second time; the text is the same).
        columns = Record.__table__.c
        text = sa.bindparam("_text", type_=sa.Text)
        if inserts:
            session.execute(sa.insert(Record.__table__).values(data=text), [
                {"resource_id": row["resource_id"], "key": row["key"], "seq": row["seq"], "deleted": False,
                 "content_hash": row["content_hash"], "source_hash": row["source_hash"],
                 "updated_at": row["updated_at"], "_text": row["_text"]}
                for row in inserts])
        if updates:
            session.execute(
                sa.update(Record.__table__)
                .where(columns.resource_id == sa.bindparam("_resource"), columns.key == sa.bindparam("_key"))
                .values(seq=sa.bindparam("_seq"), deleted=False, data=text, content_hash=sa.bindparam("_hash"),
                        source_hash=sa.bindparam("_source", type_=sa.String),
                        updated_at=sa.bindparam("_updated", type_=columns.updated_at.type)),
                [{"_resource": row["resource_id"], "_key": row["key"], "_seq": row["seq"],
                  "_hash": row["content_hash"], "_source": row["source_hash"], "_updated": row["updated_at"],
                  "_text": row["_text"]}
                 for row in updates])
        return
    # PostgreSQL: COPY for the new keys and one UPDATE ... FROM unnest(...) for the others, instead
    # of a statement per row, both with the JSON text made once in upsert_records.
    now = utcnow()
    with _driver_cursor(session) as cursor:
        if inserts:
            with cursor.copy("COPY datastore_record (resource_id, key, seq, deleted, data, content_hash, "
                             "source_hash, updated_at) FROM STDIN") as copy:
                for row in inserts:
                    copy.write_row((row["resource_id"], row["key"], row["seq"], False, row["_text"],
                                    row["content_hash"], row["source_hash"], now))
        if updates:
            # "r.key = ANY(keys)" lets the planner find the rows by index whatever its statistics say
            # (right after a bulk load they may claim the table is nearly empty).
            cursor.execute(
                "UPDATE datastore_record AS r SET seq = v.seq, deleted = false, data = v.data::jsonb, "
                "content_hash = v.hash, source_hash = v.source, updated_at = %(now)s "
                "FROM unnest(%(keys)b::text[], %(seqs)b::bigint[], %(data)b::text[], %(hashes)b::text[], "
                "%(sources)s::text[]) AS v(key, seq, data, hash, source) "
                "WHERE r.resource_id = %(resource)s AND r.key = ANY(%(keys)b::text[]) AND r.key = v.key",
                {"now": now, "keys": [row["key"] for row in updates], "seqs": [row["seq"] for row in updates],
                 "data": [row["_text"] for row in updates], "hashes": [row["content_hash"] for row in updates],
                 "sources": [row["source_hash"] for row in updates],
                 "resource": table.resource_id}, prepare=False)


#: the stored JSON text is the canonical one (keys sorted), the text the content hash is made of
_encode = canonical_json


def _json(value: Any) -> str:
    """Stored JSON text, as :func:`catalog.db._json_dumps` writes it; ValueError for NaN and Infinity."""
    return _encode(value)


def _not_json(value: Any) -> tuple[str, str]:
    """(dotted path, message) of the first value in ``value`` that JSON cannot hold."""
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path or "__root__", "must be a finite number (NaN and Infinity are not JSON)"
        if isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    return path or "__root__", "object keys must be text"
                stack.append((sub, f"{path}.{key}" if path else key))
        elif isinstance(item, list):
            stack.extend((sub, f"{path}.{i}" if path else str(i)) for i, sub in enumerate(item))
        elif not (item is None or isinstance(item, (str, int, float))):
            return path or "__root__", f"{type(item).__name__} is not a JSON value"
    return "__root__", "not a JSON value"


def _plan(table: DatastoreTable, keyed: list[Keyed],
          state: dict[str, tuple[str | None, bool, str | None]], counts: dict[str, int], *, method: str,
          seq: int, first_row: int
          ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], int, list[tuple[str, str]], list[str]]:
    """The rows to insert and update for ``keyed`` records given the stored ``state``.

    Counts go into ``counts``; a conflict with ``method`` (insert of a live key, update of a missing
    one) raises for the whole batch. Returns ``(inserts, updates, last change number, rehash, added)``:
    ``rehash`` the (key, source hash) of unchanged records a sync wrote from a different source row,
    ``added`` the keys that become live (new, or a tombstone written again).
    """
    now = utcnow()
    resource_id = table.resource_id  # read once: an ORM attribute costs a call per read
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    conflicts: dict[str, list[str]] = {}
    rehash: dict[str, str] = {}
    added: list[str] = []
    for index, key, record, text, digest, source in keyed:
        if key is None:  # no primary key: every record is new
            key = f"~{seq + 1}"
        current = state.get(key)
        live = current is not None and not current[1]
        if method == "insert" and live:
            conflicts[f"records.{index + first_row}"] = [f"a record with key {key} already exists"]
            continue
        if method == "update" and not live:
            conflicts[f"records.{index + first_row}"] = [f"no record with key {key} to update"]
            continue
        if live and current[0] is not None and current[0] == digest:
            counts["unchanged"] += 1
            if source is not None and current[2] != source:
                rehash[key] = source
                state[key] = (digest, False, source)
            continue
        seq += 1
        row = {"resource_id": resource_id, "key": key, "seq": seq, "deleted": False,
               "data": record, "content_hash": digest, "source_hash": source, "updated_at": now,
               "_text": text}
        if key in inserts or current is None:
            inserts[key] = row
        else:
            updates[key] = row
        counts["inserted" if not live else "updated"] += 1
        if not live:
            added.append(key)
        state[key] = (digest, False, source)
        rehash.pop(key, None)
    if conflicts:
        raise ValidationError(conflicts)
    return list(inserts.values()), list(updates.values()), seq, list(rehash.items()), added


def upsert_records(session: Session, actor: User | None, table: DatastoreTable,
                   records: list[Any], *, method: str = "upsert", dry_run: bool = False,
                   on_invalid: str = "fail", source: str = "api", first_row: int = 0,
                   check_auth: bool = True, validated: bool = False,
                   source_digests: list[str | None] | None = None,
                   encoded: list[tuple[str, str] | None] | None = None) -> dict[str, Any]:
    """Validate and write records; unchanged records are left alone and get no new change number.

    Invalid records fail the whole call (409, each by index), or with ``on_invalid="quarantine"``
    are kept in quarantine with their errors while the valid ones are written; ``"skip"`` reports
    them without keeping them. ``first_row`` offsets the reported row numbers (batched callers).
    ``validated=True``: the caller (the sync engine) already ran this table's validator.
    ``source_digests`` (a sync, one per record): the digest of the source row each record was made
    from; stored bound to the record's content hash (:func:`~catalog.datastore.hashing.source_hash`),
    also on an unchanged record (no change number). Without it a written record's source hash is
    cleared: a record rewritten by the API is no longer what any source row made.
    ``encoded`` (a sync, one per record): each record's canonical JSON text and content hash as
    :func:`~catalog.datastore.hashing.encode_record` made them (in the sync's transform worker);
    None, or a None item, makes them here.
    """
    dataset = table.resource.dataset
    if check_auth:
        rules.require(rules.can_write_records(session, actor, dataset),
                      f"You cannot write records of dataset {dataset.name}")
    if method not in METHODS:
        raise ValidationError.single("method", "must be one of: " + ", ".join(METHODS))
    if on_invalid not in ON_INVALID:
        raise ValidationError.single("on_invalid", "must be one of: " + ", ".join(ON_INVALID))
    invalid: dict[int, list[dict[str, str]]] = {}
    if validated:
        valid_indices, errors = list(range(len(records))), {}
    else:
        valid_indices, errors = validator_for(table).validate_many(records)
    for index, field_errors in errors.items():
        invalid[index] = [{"field": e.path or "__root__", "keyword": e.keyword, "message": e.message}
                          for e in field_errors]
    keyed: list[Keyed] = []
    primary_key = list(table.primary_key or [])  # read once: an ORM attribute costs a call per read
    for index in valid_indices:
        problem = _key_problem(records[index], primary_key)
        if problem:
            invalid[index] = [{"field": problem, "keyword": "required", "message": "Missing value (primary key)"}]
            continue
        key = record_key(records[index], primary_key) if primary_key else None
        if key is not None and len(key) > 500:
            invalid[index] = [{"field": primary_key[0], "keyword": "maxLength",
                               "message": "primary key longer than 500 characters"}]
            continue
        made = encoded[index] if encoded is not None else None
        if made is not None:
            text, digest = made
        else:
            try:
                text = _encode(records[index])
            except (TypeError, ValueError):
                # NaN or Infinity (Python's JSON reader takes them, JSON and the databases do not), or a
                # Python value that is not JSON at all (a date from a connector, in a field of type json)
                path, message = _not_json(records[index])
                invalid[index] = [{"field": path, "keyword": "type", "message": message}]
                continue
            digest = text_hash(text)
        row_digest = source_digests[index] if source_digests is not None else None
        keyed.append((index, key, records[index], text, digest,
                      None if row_digest is None else source_hash(row_digest, digest)))
    if invalid and on_invalid == "fail":
        messages: dict[str, list[str]] = {}
        for i in sorted(invalid):
            for e in invalid[i]:
                messages.setdefault(f"records.{i + first_row}.{e['field']}", []).append(e["message"])
        raise ValidationError(messages)
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "quarantined": 0, "skipped": 0}
    if dry_run:
        state = _existing(session, table.resource_id, keyed)
        _plan(table, keyed, state, counts, method=method, seq=int(table.last_seq or 0), first_row=first_row)
        counts["quarantined" if on_invalid == "quarantine" else "skipped"] = len(invalid)
        return {**counts, "invalid": _report(invalid, first_row), "dry_run": True}
    seq = _lock(session, table)
    kept = value_counts.kept(session, table.resource_id)
    if method == "upsert" and primary_key and _postgres(session) and _distinct_keys(keyed):
        first_seq, seq = _merge(session, table, keyed, counts, seq, kept)
    else:
        state = _existing(session, table.resource_id, keyed)
        inserts, updates, seq, rehash, added = _plan(table, keyed, state, counts, method=method, seq=seq,
                                                     first_row=first_row)
        # the kept values the written records hold, less those the live records they overwrite held
        moved = value_counts.carried((row["data"] for row in inserts + updates), kept)
        moved.subtract(value_counts.stored(session, table.resource_id, (row["key"] for row in updates), kept))
        _write(session, table, inserts, updates, rehash)
        value_counts.apply(session, table.resource_id, moved)
        key_blocks.count_keys(session, table.resource_id, added, 1)
        first_seq = seq - len(inserts) - len(updates) + 1
    # a new key or a tombstone written again changes the set of live keys (an update of a live record does not)
    session.execute(sa.update(DatastoreTable).where(DatastoreTable.resource_id == table.resource_id)
                    .values(last_seq=seq, **({"keys_seq": seq} if counts["inserted"] else {})))
    announce_records_changed(session, table, first_seq, seq)  # webhooks outbox
    if invalid and on_invalid == "quarantine":
        session.add_all(QuarantinedRecord(resource_id=table.resource_id, source=source,
                                          row_number=index + first_row, raw=_jsonable(records[index]),
                                          errors=invalid[index]) for index in sorted(invalid))
        counts["quarantined"] = len(invalid)
    elif invalid:
        counts["skipped"] = len(invalid)
    session.flush()
    session.expire(table, ["last_seq", "keys_seq", "modified"])
    return {**counts, "invalid": _report(invalid, first_row)}


def _distinct_keys(keyed: list[Keyed]) -> bool:
    """Whether no key occurs twice in ``keyed`` (one statement cannot write a row twice)."""
    keys = {item[1] for item in keyed}
    return len(keys) == len(keyed) and None not in keys


#: the staging table of a merge: per connection, emptied at commit (and gone with the connection)
STAGE = "datastore_stage"

#: (The stored row is looked up per staged key, by the primary key's index: a LIMITed lateral subquery
#: is never turned into a join, which the planner, with statistics claiming a freshly loaded table is
#: nearly empty, made a hash join over every record of the resource: each batch read the whole table.)
#: New keys, tombstones and records whose hash differs, numbered in the batch's order after the
#: table's last change (the table's lock, taken before, makes that number the committed last one and
#: keeps every other writer out until commit, so changes are numbered in commit order), then written
#: by one INSERT … ON CONFLICT; unchanged live records a sync made from another source row (or before
#: source hashes) get the new source hash only, reached by the row address (ctid) the lookup found: a
#: TID scan whatever the statistics say (by key, the planner may read every record of the resource
#: through the (resource_id, seq) index when its statistics are stale); the counts of what was staged,
#: written, overwritten live and re-hashed; the keys that became live (new keys, tombstones written again)
#: counted into their key blocks (``key_blocks``: each key's block is the greatest low key at or below it,
#: found by ``width_bucket``'s binary search in the table's low keys, sorted in the database's collation), with
#: how many were counted and the blocks that now hold more than ``key_blocks.MOST``.
#: Where the table keeps counts of common values (``value_counts``; ``fields``: the fields it keeps values of,
#: written into the statement as the field indexes' expressions are): the stored values of those fields read
#: by the lookup (the row it found, before the write), those of the overwritten live records taken away and
#: those the written rows hold (returned by the write) added, in the counts of the values kept.
@lru_cache(maxsize=32)
def _merge_statement(fields: tuple[str, ...] = ()) -> str:
    names = ["'" + name.replace("'", "''") + "'" for name in fields]
    held = "".join(f", data ->> {name} AS held_{n}" for n, name in enumerate(names))
    held_columns = "".join(f", r.held_{n}" for n in range(len(names)))
    returned = ", ".join(f"r.data ->> {name} AS held_{n}" for n, name in enumerate(names)) or "1"
    taken = " UNION ALL ".join(
        f"SELECT {name} AS field, held_{n} AS value, -1 AS n FROM looked "
        f"WHERE found AND NOT deleted AND stored_hash IS DISTINCT FROM content_hash "
        f"UNION ALL SELECT {name}, held_{n}, 1 FROM written" for n, name in enumerate(names))
    kept = f"""
), moved AS MATERIALIZED (
    SELECT field, value, sum(n) AS n FROM ({taken}) AS each GROUP BY field, value HAVING sum(n) <> 0
), recounted AS (
    UPDATE datastore_value_count AS c SET live = c.live + moved.n FROM moved
    WHERE c.resource_id = %(resource)s AND c.field = moved.field AND c.value = moved.value
    RETURNING 1""" if fields else ""
    return f"""
WITH looked AS MATERIALIZED (
    SELECT s.ord, s.key, s.data, s.content_hash, s.source_hash, r.found, r.deleted, r.tid,
           r.content_hash AS stored_hash, r.source_hash AS stored_source{held_columns}
    FROM {STAGE} AS s LEFT JOIN LATERAL (
        SELECT true AS found, ctid AS tid, deleted, content_hash, source_hash{held} FROM datastore_record
        WHERE resource_id = %(resource)s AND key = s.key LIMIT 1) AS r ON true
), changed AS MATERIALIZED (
    SELECT ord, key, data, content_hash, source_hash, (found IS NOT NULL AND NOT deleted) AS live
    FROM looked WHERE found IS NULL OR deleted OR stored_hash IS DISTINCT FROM content_hash
), numbered AS MATERIALIZED (
    SELECT key, data, content_hash, source_hash, live,
           %(last)s::bigint + row_number() OVER (ORDER BY ord) AS seq
    FROM changed
), written AS (
    INSERT INTO datastore_record AS r (resource_id, key, seq, deleted, data, content_hash, source_hash,
                                       updated_at)
    SELECT %(resource)s, key, seq, false, data::jsonb, content_hash, source_hash, %(now)s FROM numbered
    ON CONFLICT (resource_id, key) DO UPDATE SET seq = EXCLUDED.seq, deleted = false, data = EXCLUDED.data,
        content_hash = EXCLUDED.content_hash, source_hash = EXCLUDED.source_hash,
        updated_at = EXCLUDED.updated_at
    WHERE r.deleted OR r.content_hash IS DISTINCT FROM EXCLUDED.content_hash
    RETURNING {returned}
), rehash AS MATERIALIZED (
    SELECT tid, key, source_hash FROM looked
    WHERE found AND NOT deleted AND stored_hash = content_hash AND source_hash IS NOT NULL
      AND stored_source IS DISTINCT FROM source_hash
), rehashed AS (
    UPDATE datastore_record AS r SET source_hash = h.source_hash FROM rehash AS h
    WHERE r.ctid = ANY(ARRAY(SELECT tid FROM rehash)) AND r.ctid = h.tid AND r.resource_id = %(resource)s
      AND r.key = h.key
    RETURNING 1
), lows AS MATERIALIZED (
    SELECT array_agg(low_key::text ORDER BY low_key) AS lows FROM datastore_key_block WHERE resource_id = %(resource)s
), added AS MATERIALIZED (
    SELECT lows.lows[width_bucket(numbered.key, lows.lows)] AS low_key, count(*) AS n FROM numbered, lows
    WHERE NOT numbered.live GROUP BY 1
), counted AS (
    UPDATE datastore_key_block AS b SET live = b.live + added.n FROM added
    WHERE b.resource_id = %(resource)s AND b.low_key = added.low_key
    RETURNING b.low_key, b.live, added.n{kept}
)
SELECT (SELECT count(*) FROM numbered), (SELECT count(*) FROM numbered WHERE live),
       (SELECT count(*) FROM written), (SELECT count(*) FROM rehashed),
       (SELECT coalesce(sum(n), 0) FROM counted),
       (SELECT coalesce(array_agg(ARRAY[low_key::text, live::text]), '{{}}') FROM counted WHERE live > %(most)s)
"""


def _merge(session: Session, table: DatastoreTable, keyed: list[Keyed],
           counts: dict[str, int], seq: int, kept: dict[str, set[str]] | None = None) -> tuple[int, int]:
    """PostgreSQL upsert of distinct keys: the batch COPYed into a temporary staging table, then merged
    by one statement that skips unchanged records by their content hash. Call with the table's lock
    held (``seq``: its last change number; ``kept``: the table's kept values, ``value_counts.kept``); returns the
    first and last change numbers written."""
    with _driver_cursor(session) as cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE IF NOT EXISTS {STAGE} (ord integer, key text, data text, "
                       "content_hash text, source_hash text) ON COMMIT DELETE ROWS")
        with cursor.copy(f"COPY {STAGE} (ord, key, data, content_hash, source_hash) FROM STDIN") as copy:
            for ord_, (_index, key, _record, text, digest, source) in enumerate(keyed):
                copy.write_row((ord_, key, text, digest, source))
        # No JIT compilation: the staged rows have no statistics, so the planner prices this statement for
        # tens of thousands of rows and compiles it on every batch (21 ms a batch of 5,000 before the key
        # blocks' part, 75 ms with it, of a 240-440 ms statement: docs/PERFORMANCE.md, "Sixth pass: deep
        # offsets after writes"); for this statement only
        with jit_off(cursor):
            cursor.execute(_merge_statement(tuple(sorted(kept or ()))),
                           {"resource": table.resource_id, "last": seq, "now": utcnow(), "most": key_blocks.MOST},
                           prepare=False)
            changed, live, written, _rehashed, counted, crowded = cursor.fetchone()
        cursor.execute(f"DELETE FROM {STAGE}")  # a second merge in this transaction starts empty
    if written != changed:  # the lock keeps other writers out: never, unless that guarantee broke
        raise RuntimeError(f"merge wrote {written} of {changed} changed records")
    if counted != changed - live:  # a table without its first key block: never, unless a write went around
        raise RuntimeError(f"merge counted {counted} of {changed - live} new live keys in the key blocks")
    key_blocks.settle(session, table.resource_id, [(low, int(count)) for low, count in crowded])
    counts["inserted"] += changed - live
    counts["updated"] += live
    counts["unchanged"] += len(keyed) - changed
    return seq + 1, seq + changed


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _report(invalid: dict[int, list[dict[str, str]]], first_row: int) -> list[dict[str, Any]]:
    return [{"index": i + first_row, "errors": invalid[i]} for i in sorted(invalid)]


def delete_records(session: Session, actor: User | None, table: DatastoreTable,
                   conditions: list[Any], *, check_auth: bool = True) -> int:
    """Tombstone the live records matching ``conditions`` (SQL over ``Record``); returns how many."""
    dataset = table.resource.dataset
    if check_auth:
        rules.require(rules.can_write_records(session, actor, dataset),
                      f"You cannot delete records of dataset {dataset.name}")
    seq = _lock(session, table)
    keys = list(session.scalars(sa.select(Record.key).where(
        Record.resource_id == table.resource_id, Record.deleted.is_(False), *conditions).order_by(Record.key)))
    now = utcnow()
    rows = []
    for key in keys:
        seq += 1
        rows.append({"resource_id": table.resource_id, "key": key, "seq": seq, "deleted": True,
                     "updated_at": now})
    if rows:
        taken = value_counts.Moved()  # the kept values the deleted records held, taken away
        taken.subtract(value_counts.stored(session, table.resource_id, keys,
                                           value_counts.kept(session, table.resource_id)))
        session.execute(sa.update(Record), rows)
        key_blocks.count_keys(session, table.resource_id, keys, -1)
        value_counts.apply(session, table.resource_id, taken)
        session.execute(sa.update(DatastoreTable).where(DatastoreTable.resource_id == table.resource_id)
                        .values(last_seq=seq, keys_seq=seq))
        announce_records_changed(session, table, seq - len(rows) + 1, seq)  # webhooks outbox
    session.expire(table, ["last_seq", "keys_seq", "modified"])
    return len(rows)


def drop_table(session: Session, actor: User | None, table: DatastoreTable) -> None:
    """Remove a resource's DataStore table and all its records."""
    dataset = table.resource.dataset
    rules.require(rules.can_write_records(session, actor, dataset),
                  f"You cannot delete records of dataset {dataset.name}")
    session.execute(sa.delete(Record).where(Record.resource_id == table.resource_id))
    key_blocks.drop_blocks(session, table.resource_id)
    value_counts.forget(session, table.resource_id)
    session.delete(table)
    session.flush()


def table_info(session: Session, table: DatastoreTable) -> dict[str, Any]:
    """Fields, primary key, bound schema, live record count and the last change number."""
    return {"resource_id": table.resource_id, "fields": table.fields, "primary_key": table.primary_key,
            "record_schema": table.record_schema, "count": _record_count(session, table),
            "last_seq": table.last_seq, "modified": table.modified}


def dataset_of(session: Session, resource_id: str) -> Dataset:
    """The dataset a resource belongs to (NotFound for an unknown resource)."""
    resource = session.get(Resource, resource_id) if resource_id else None
    if resource is None:
        raise NotFound(f"Resource not found: {resource_id}")
    return resource.dataset
