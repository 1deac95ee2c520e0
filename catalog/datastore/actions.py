"""CKAN DataStore actions, the change feed and the record schema registry."""
from __future__ import annotations

import csv
import functools
import io
import json
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from marshmallow import fields, validate
from sqlalchemy.orm import joinedload

from ..api.fields import JsonDict, JsonList, ParamsSchema, id_field, offset_field, query_field
from ..api.registry import ActionContext, action
from ..datasets import resources as resource_service
from ..datasets.models import Resource
from ..datasets.service import show_dataset
from ..errors import NotAuthorized, NotFound, ValidationError
from ..objections import flags
from ..sharing.reading import open_reader
from . import query, record_schemas, service
from .models import DatastoreTable


class DatastoreCreateParams(ParamsSchema):
    resource_id = fields.String(load_default=None, metadata={"description": "an existing resource"})
    resource = JsonDict(load_default=None, metadata={"description": "or a new resource: {package_id, name, …}"})
    fields_ = JsonList(fields.Dict(), data_key="fields", load_default=None,
                       metadata={"description": "[{id, type}] when the dataset has no record schema"})
    primary_key = fields.Raw(load_default=None, metadata={"description": "field name or list of names"})
    record_schema = fields.String(load_default=None, allow_none=True,
                                  metadata={"description": "name@version (default: the dataset's)"})
    records = JsonList(fields.Raw(), load_default=None)


class DatastoreUpsertParams(ParamsSchema):
    resource_id = id_field("resource id")
    records = JsonList(fields.Raw(), required=True)
    method = fields.String(load_default="upsert", validate=validate.OneOf(service.METHODS))
    dry_run = fields.Boolean(load_default=False)
    on_invalid = fields.String(load_default="fail", validate=validate.OneOf(service.ON_INVALID),
                               metadata={"description": "fail (409, nothing written), quarantine or skip"})


class DatastoreDeleteParams(ParamsSchema):
    resource_id = id_field("resource id")
    filters = JsonDict(load_default=None, metadata={"description": "without filters the table is removed"})
    force = fields.Boolean(load_default=False)


class DatastoreSearchParams(ParamsSchema):
    resource_id = id_field("resource id")
    filters = JsonDict(load_default=None)
    q = query_field()
    fields_ = fields.Raw(data_key="fields", load_default=None,
                         metadata={"description": "field names, as a list or comma-separated"})
    sort = fields.String(load_default=None)
    limit = fields.Integer(load_default=100, validate=validate.Range(min=0, max=query.MAX_LIMIT))
    offset = offset_field()
    include_total = fields.Boolean(load_default=True)
    cursor = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "continue after a page: the cursor in its _links.next"})
    records_format = fields.String(load_default="objects", validate=validate.OneOf(["objects", "lists", "csv"]))


class DatastoreInfoParams(ParamsSchema):
    id = fields.String(load_default=None, metadata={"description": "resource id"})
    resource_id = fields.String(load_default=None)


class DatastoreChangesParams(ParamsSchema):
    resource_id = id_field("resource id")
    cursor = fields.String(load_default=None, allow_none=True,
                           metadata={"description": "next_cursor of the previous call; none for the start"})
    limit = fields.Integer(load_default=1000, validate=validate.Range(min=1, max=10000))


class SchemaShowParams(ParamsSchema):
    id = id_field("name@version")


class SchemaCreateParams(ParamsSchema):
    name = fields.String(required=True)
    schema = JsonDict(required=True, metadata={"description": "a Draft 2020-12 JSON Schema with x-primary-key"})
    owner_org = fields.String(load_default=None, allow_none=True)


def _visible_table(ctx: ActionContext, resource_id: str):
    """The table, if the caller may read its dataset: otherwise the answer a missing table gets."""
    table = service.get_table(ctx.session, resource_id)
    show_dataset(ctx.session, ctx.actor, table.resource.package_id, not_found=service.no_table_message(resource_id))
    return table


@functools.cache
def _reader_statement() -> sa.Select:
    """The query of :func:`_reader`, built once with the resource id as a bound parameter: building it and
    its cache key on every read cost about a tenth of a key lookup's CPU (docs/PERFORMANCE.md, fifth pass)."""
    resource_id = sa.bindparam("reader_resource_id", type_=sa.String)
    return (sa.select(DatastoreTable, flags.any_flag(resource_id)).where(DatastoreTable.resource_id == resource_id)
            .options(joinedload(DatastoreTable.resource).joinedload(Resource.dataset)))


def _reader(ctx: ActionContext, resource_id: str):
    """The table, the reader (share rules checked) and whether any record of the table may carry a flag.

    The table comes with its resource and dataset (the share rules need them) and the flags' question in
    one query (``service.read_table`` and ``flags.any_flag``): a read pays each round trip.
    """
    row = ctx.session.execute(_reader_statement(), {"reader_resource_id": resource_id}).first() \
        if resource_id else None
    if row is None:
        raise NotFound(service.no_table_message(resource_id))
    table, flagged = row
    return table, open_reader(ctx.session, ctx.actor, table), flagged


def _max_records(ctx: ActionContext, records: list) -> None:
    limit = ctx.config.get("DATASTORE_MAX_RECORDS", 10000)
    if len(records) > limit:
        raise ValidationError.single("records", f"at most {limit} records per call; send them in batches")


@action("datastore_create", params=DatastoreCreateParams, result={"type": "object"})
def datastore_create(ctx: ActionContext, data: dict) -> dict:
    """Create the DataStore table of a resource (or of a new resource), optionally with records."""
    if data["resource_id"]:
        resource = resource_service.get_resource(ctx.session, ctx.actor, data["resource_id"])
    elif data["resource"]:
        package_id = data["resource"].get("package_id")
        if not package_id:
            raise ValidationError.single("resource.package_id", "Missing value")
        dataset = show_dataset(ctx.session, ctx.actor, package_id)
        values = {k: v for k, v in data["resource"].items() if k in ("name", "description", "format")}
        values.setdefault("format", "JSON")
        values["url"] = f"{ctx.config.get('SITE_URL', '').rstrip('/')}/datastore/dump/pending"
        resource = resource_service.create_resource(ctx.session, ctx.actor, dataset, values=values)
        resource.url = f"{ctx.config.get('SITE_URL', '').rstrip('/')}/datastore/dump/{resource.id}"
        resource.url_type = "datastore"
    else:
        raise ValidationError.single("resource_id", "Missing value: give resource_id or resource")
    key = data["primary_key"]
    if isinstance(key, str):
        key = [k.strip() for k in key.split(",") if k.strip()]
    elif key is not None and not (isinstance(key, list) and all(isinstance(k, str) for k in key)):
        raise ValidationError.single("primary_key", "must be a field name or a list of names")
    table = service.create_table(ctx.session, ctx.actor, resource, fields=data["fields_"], primary_key=key,
                                 record_schema=data["record_schema"])
    result: dict[str, Any] = {"resource_id": resource.id, "fields": table.fields,
                              "primary_key": table.primary_key, "record_schema": table.record_schema}
    if data["records"]:
        _max_records(ctx, data["records"])
        result["counts"] = service.upsert_records(ctx.session, ctx.actor, table, data["records"])
    return result


@action("datastore_upsert", params=DatastoreUpsertParams, result={"type": "object"})
def datastore_upsert(ctx: ActionContext, data: dict) -> dict:
    """Insert, update or upsert validated records; invalid ones fail the call or go to quarantine."""
    _max_records(ctx, data["records"])
    table = _visible_table(ctx, data["resource_id"])
    return service.upsert_records(ctx.session, ctx.actor, table, data["records"], method=data["method"],
                                  dry_run=data["dry_run"], on_invalid=data["on_invalid"])


@action("datastore_delete", params=DatastoreDeleteParams, result={"type": "object"})
def datastore_delete(ctx: ActionContext, data: dict) -> dict:
    """Delete the records matching ``filters``, or the whole table when no filters are given."""
    table = _visible_table(ctx, data["resource_id"])
    if data["filters"] is None:
        service.drop_table(ctx.session, ctx.actor, table)
        return {"resource_id": data["resource_id"], "deleted": "table"}
    deleted = service.delete_records(ctx.session, ctx.actor, table,
                                     query.filter_conditions(table, data["filters"]))
    return {"resource_id": data["resource_id"], "filters": data["filters"], "deleted": deleted}


def _field_list(raw: Any) -> list[str] | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        return [f.strip() for f in raw.split(",") if f.strip()]
    if isinstance(raw, list) and all(isinstance(f, str) for f in raw):
        return raw
    raise ValidationError.single("fields", "must be a list of field names or a comma-separated string")


@action("datastore_search", params=DatastoreSearchParams, result={"type": "object"}, read_only=True)
def datastore_search(ctx: ActionContext, data: dict) -> dict:
    """Read records with filters, a text query, sorting and paging."""
    table, reader, flagged = _reader(ctx, data["resource_id"])
    reader.check_query(filters=data["filters"], q=data["q"], sort=data["sort"])
    # A cursor holds the last key in clear, and a made-up one ("after key X") would tell whether keys
    # lie in a range: readers who see the key masked page by offset only.
    keyset = not set(table.primary_key) & reader.masked_fields
    if data["cursor"] and not keyset:
        raise NotAuthorized("Paging by cursor is not available to readers who see the primary key masked; "
                            "page with offset")
    names = _field_list(data["fields_"])
    found = query.search_records(ctx.session, table, filters=data["filters"], q=data["q"],
                                 fields=flags.key_fields(table, names),
                                 sort=data["sort"], limit=data["limit"], offset=data["offset"],
                                 include_total=data["include_total"], cursor=data["cursor"],
                                 total_threshold=ctx.config.get("DATASTORE_TOTAL_ESTIMATION_THRESHOLD", 10000))
    found["records"] = flags.project(flags.flag_page(ctx.session, table, found["records"], reader.mask,
                                                      flagged=flagged), names)
    reader.log(ctx.session, action="datastore_search", count=len(found["records"]), params={
        k: data[k] for k in ("filters", "q", "sort", "limit", "offset") if data[k] not in (None, "")})
    columns = names or [f["id"] for f in table.fields]
    result: dict[str, Any] = {"resource_id": table.resource_id, "fields": [
        f for f in table.fields if f["id"] in columns], "limit": data["limit"], "offset": data["offset"]}
    if "total" in found:
        result["total"] = found["total"]
        result["total_was_estimated"] = found.get("total_was_estimated", False)
    if data["records_format"] == "objects":
        result["records"] = found["records"]
    elif data["records_format"] == "lists":
        result["records"] = [[r.get(c) for c in columns] for r in found["records"]]
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        for r in found["records"]:
            writer.writerow([query.csv_cell(r.get(c)) for c in columns])
        result["records"] = buffer.getvalue()
    # The links repeat every parameter that shapes the page, so following "next" continues this search.
    params = {k: v for k, v in (
        ("resource_id", table.resource_id), ("q", data["q"]), ("sort", data["sort"]),
        ("filters", json.dumps(data["filters"], ensure_ascii=False) if data["filters"] else None),
        ("fields", ",".join(names) if names else None),
        ("records_format", data["records_format"] if data["records_format"] != "objects" else None),
        ("include_total", "false" if not data["include_total"] else None),
        ("limit", data["limit"])) if v}
    base = "/api/3/action/datastore_search?"
    # In key order the next page is the one after this page's last key (a cursor): as cheap at any
    # depth, and writes meanwhile do not shift it. A sorted search pages by offset, as CKAN's.
    following = {"cursor": found["next_cursor"]} if keyset and "next_cursor" in found else \
        {"offset": data["offset"] + data["limit"]}
    result["_links"] = {"start": base + urlencode(params), "next": base + urlencode({**params, **following})}
    return result


@action("datastore_info", params=DatastoreInfoParams, result={"type": "object"}, read_only=True)
def datastore_info(ctx: ActionContext, data: dict) -> dict:
    """A resource's DataStore fields, primary key, record schema, record count and last change."""
    resource_id = data["id"] or data["resource_id"]
    if not resource_id:
        raise ValidationError.single("id", "Missing value")
    table = service.get_table(ctx.session, resource_id)
    show_dataset(ctx.session, ctx.actor, table.resource.package_id, not_found=service.no_table_message(resource_id))
    info = service.table_info(ctx.session, table)
    info["modified"] = info["modified"].isoformat()
    return info


@action("datastore_changes", params=DatastoreChangesParams, result={"type": "object"}, read_only=True)
def datastore_changes(ctx: ActionContext, data: dict) -> dict:
    """The records inserted, updated or deleted after ``cursor``, in order, and the next cursor."""
    table, reader, flagged = _reader(ctx, data["resource_id"])
    # A reader who sees the records as stored (nothing masked, no undeclared field left out, no flag on
    # the table) gets each record's stored JSON text as it is: no decoding and encoding again
    raw = not reader.masked and reader.declared is None and not flagged
    page = query.changes(ctx.session, table, cursor=data["cursor"], limit=data["limit"], raw=raw)
    if not raw:
        page["changes"] = flags.flag_page(ctx.session, table, page["changes"], reader.mask, flagged=flagged)
    reader.log(ctx.session, action="datastore_changes", count=len(page["changes"]),
               params={"cursor": data["cursor"], "limit": data["limit"]})
    return {"resource_id": table.resource_id, **page}


@action("schema_list", result={"type": "array", "items": {"type": "object"}}, read_only=True)
def schema_list(ctx: ActionContext, data: dict) -> list:
    """Every record schema version, shipped or registered by a department."""
    return record_schemas.list_record_schemas(ctx.session)


@action("schema_show", params=SchemaShowParams, result={"type": "object"}, read_only=True)
def schema_show(ctx: ActionContext, data: dict) -> dict:
    """One record schema document, by ``name@version``."""
    return {"id": data["id"], "schema": record_schemas.get_record_schema(ctx.session, data["id"])}


@action("schema_create", params=SchemaCreateParams, result={"type": "object"})
def schema_create(ctx: ActionContext, data: dict) -> dict:
    """Register a record schema (a new version when the name exists and the document changed)."""
    ref, created = record_schemas.create_record_schema(ctx.session, ctx.actor, name=data["name"],
                                                       document=data["schema"], owner_org=data["owner_org"])
    return {"id": ref, "created": created}
