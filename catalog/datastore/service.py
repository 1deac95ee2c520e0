"""DataStore writes: create a resource's table, upsert validated records, delete, describe.

Every write takes the table row's lock first (an UPDATE, portable across SQLite and PostgreSQL) and
numbers its changes from ``DatastoreTable.last_seq``, so change sequence numbers are committed in
order and the change feed can be read by "everything after the last number I saw".
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from schemas.validation import RecordValidator, primary_key as schema_primary_key

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..db import utcnow
from ..errors import NotFound, ValidationError
from .models import DatastoreTable, QuarantinedRecord, Record
from .record_schemas import get_record_schema

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


def get_table(session: Session, resource_id: str) -> DatastoreTable:
    """The DataStore table of a resource, or :class:`NotFound`."""
    table = session.get(DatastoreTable, resource_id) if resource_id else None
    if table is None:
        raise NotFound(f"Resource {resource_id} has no DataStore table (datastore_create first)")
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
        name, kind = field.get("id"), (field.get("type") or "text").lower()
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
            "properties": properties, "required": list(primary_key), "x-primary-key": list(primary_key)}


@lru_cache(maxsize=64)
def _compiled(document_json: str) -> RecordValidator:
    return RecordValidator(json.loads(document_json))


def validator_for(table: DatastoreTable) -> RecordValidator:
    """The compiled validator of a table's record schema (cached per document)."""
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
    if table is None:
        table = DatastoreTable(resource_id=resource.id, last_seq=0)
        session.add(table)
    elif table.primary_key != key and _record_count(session, table) > 0:
        raise ValidationError.single("primary_key", "cannot change the primary key of a table that has records")
    table.record_schema = ref
    table.schema_document = document
    table.primary_key = key
    table.fields = ckan_fields(document)
    table.modified = utcnow()
    session.flush()
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


def _existing(session: Session, resource_id: str, keys: Iterable[str]) -> dict[str, tuple[dict, bool]]:
    found: dict[str, tuple[dict, bool]] = {}
    keys = list(dict.fromkeys(keys))
    for start in range(0, len(keys), KEY_CHUNK):
        chunk = keys[start:start + KEY_CHUNK]
        for key, data, deleted in session.execute(sa.select(Record.key, Record.data, Record.deleted).where(
                Record.resource_id == resource_id, Record.key.in_(chunk))):
            found[key] = (data, deleted)
    return found


def upsert_records(session: Session, actor: User | None, table: DatastoreTable,
                   records: list[Any], *, method: str = "upsert", dry_run: bool = False,
                   on_invalid: str = "fail", source: str = "api", first_row: int = 0,
                   check_auth: bool = True) -> dict[str, Any]:
    """Validate and write records; unchanged records are left alone and get no new change number.

    Invalid records fail the whole call (409, each by index), or with ``on_invalid="quarantine"``
    are kept in quarantine with their errors while the valid ones are written; ``"skip"`` reports
    them without keeping them. ``first_row`` offsets the reported row numbers (batched callers).
    """
    dataset = table.resource.dataset
    if check_auth:
        rules.require(rules.can_write_records(session, actor, dataset),
                      f"You cannot write records of dataset {dataset.name}")
    if method not in METHODS:
        raise ValidationError.single("method", "must be one of: " + ", ".join(METHODS))
    if on_invalid not in ON_INVALID:
        raise ValidationError.single("on_invalid", "must be one of: " + ", ".join(ON_INVALID))
    validator = validator_for(table)
    invalid: dict[int, list[dict[str, str]]] = {}
    valid_indices, errors = validator.validate_many(records)
    for index, field_errors in errors.items():
        invalid[index] = [{"field": e.path or "__root__", "keyword": e.keyword, "message": e.message}
                          for e in field_errors]
    keyed: list[tuple[int, str, dict]] = []
    for index in valid_indices:
        problem = _key_problem(records[index], table.primary_key)
        if problem:
            invalid[index] = [{"field": problem, "keyword": "required", "message": "Missing value (primary key)"}]
            continue
        key = record_key(records[index], table.primary_key) if table.primary_key else None
        if key is not None and len(key) > 500:
            invalid[index] = [{"field": table.primary_key[0], "keyword": "maxLength",
                               "message": "primary key longer than 500 characters"}]
            continue
        keyed.append((index, key, records[index]))
    if invalid and on_invalid == "fail":
        raise ValidationError({f"records.{i + first_row}.{e['field']}": [e["message"]]
                               for i in sorted(invalid) for e in invalid[i]})
    counts = {"inserted": 0, "updated": 0, "unchanged": 0, "quarantined": 0, "skipped": 0}
    if dry_run:
        state = _existing(session, table.resource_id, [k for _i, k, _r in keyed if k is not None])
        for _index, key, record in keyed:
            current = state.get(key) if key is not None else None
            if current is None or current[1]:
                counts["inserted"] += 1
            elif current[0] == record:
                counts["unchanged"] += 1
            else:
                counts["updated"] += 1
        counts["quarantined" if on_invalid == "quarantine" else "skipped"] = len(invalid)
        return {**counts, "invalid": _report(invalid, first_row), "dry_run": True}
    seq = _lock(session, table)
    state = _existing(session, table.resource_id, [k for _i, k, _r in keyed if k is not None])
    now = utcnow()
    inserts: dict[str, dict[str, Any]] = {}
    updates: dict[str, dict[str, Any]] = {}
    conflicts: dict[str, list[str]] = {}
    for index, key, record in keyed:
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
        if live and current[0] == record:
            counts["unchanged"] += 1
            continue
        seq += 1
        row = {"resource_id": table.resource_id, "key": key, "seq": seq, "deleted": False,
               "data": record, "updated_at": now}
        if current is None and key not in inserts:
            inserts[key] = row
        elif key in inserts:
            inserts[key] = row
        else:
            updates[key] = row
        counts["inserted" if not live else "updated"] += 1
        state[key] = (record, False)
    if conflicts:
        raise ValidationError(conflicts)
    if inserts:
        session.execute(sa.insert(Record), list(inserts.values()))
    if updates:
        session.execute(sa.update(Record), list(updates.values()))
    session.execute(sa.update(DatastoreTable).where(DatastoreTable.resource_id == table.resource_id)
                    .values(last_seq=seq))
    if invalid and on_invalid == "quarantine":
        session.add_all(QuarantinedRecord(resource_id=table.resource_id, source=source,
                                          row_number=index + first_row, raw=_jsonable(records[index]),
                                          errors=invalid[index]) for index in sorted(invalid))
        counts["quarantined"] = len(invalid)
    elif invalid:
        counts["skipped"] = len(invalid)
    session.flush()
    session.expire(table, ["last_seq", "modified"])
    return {**counts, "invalid": _report(invalid, first_row)}


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return repr(value)


def _report(invalid: dict[int, list[dict[str, str]]], first_row: int) -> list[dict[str, Any]]:
    return [{"index": i + first_row, "errors": invalid[i]} for i in sorted(invalid)]


def delete_records(session: Session, actor: User | None, table: DatastoreTable,
                   conditions: list[Any]) -> int:
    """Tombstone the live records matching ``conditions`` (SQL over ``Record``); returns how many."""
    dataset = table.resource.dataset
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
        session.execute(sa.update(Record), rows)
        session.execute(sa.update(DatastoreTable).where(DatastoreTable.resource_id == table.resource_id)
                        .values(last_seq=seq))
    session.expire(table, ["last_seq", "modified"])
    return len(rows)


def drop_table(session: Session, actor: User | None, table: DatastoreTable) -> None:
    """Remove a resource's DataStore table and all its records."""
    dataset = table.resource.dataset
    rules.require(rules.can_write_records(session, actor, dataset),
                  f"You cannot delete records of dataset {dataset.name}")
    session.execute(sa.delete(Record).where(Record.resource_id == table.resource_id))
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
