"""What crosses the API for datasets and resources.

Marshmallow checks types and shapes; the domain rules (enums, formats, conditions) are in the
JSON Schema profile under ``schemas/metadata/``. Fields marked with ``x-profile`` take their
OpenAPI description from that profile, so the rules are written once.
"""
from __future__ import annotations

import json
from contextvars import ContextVar
from dataclasses import dataclass, field as dataclass_field
from urllib.parse import urlparse

import sqlalchemy as sa

from flask import current_app, has_request_context, request
from marshmallow import Schema, fields, post_dump, pre_load, validate
from sqlalchemy.orm import object_session

from ..api.fields import (MAX_OFFSET, CkanDateTime, JsonDict, JsonList, ParamsSchema, id_field, limit_field,
                          offset_field, request_lang, revision_field)
from ..config import DEFAULTS
from ..datastore.models import DatastoreTable
from ..departments.schemas import DepartmentOut
from ..groups.models import DatasetGroup
from ..groups.schemas import theme_ref
from ..groups.service import themes_of
from ..licenses import license_fields
from .models import Dataset, Resource


def _profile(name: str, field: fields.Field) -> fields.Field:
    field.metadata["x-profile"] = name
    return field


def _text(name: str) -> fields.Field:
    return _profile(name, fields.String(allow_none=True))


#: Resource keys the catalog sets itself: given back by a client that read them, they are not extras.
DERIVED_RESOURCE_FIELDS = frozenset((
    "id", "package_id", "url_type", "size", "hash", "position", "state", "created", "last_modified",
    "metadata_modified", "datastore_active", "datastore_contains_all_records_of_source", "revision_id",
    "tracking_summary", "has_views", "on_same_domain"))


class ResourceParams(ParamsSchema):
    """A resource's fields; a file may be uploaded as ``upload`` in a multipart form."""

    name = fields.String(allow_none=True, validate=validate.Length(max=200))
    description = fields.String(allow_none=True)
    url = fields.String(allow_none=True, validate=validate.Length(max=2000))
    format = fields.String(allow_none=True, validate=validate.Length(max=50))
    mimetype = fields.String(allow_none=True, validate=validate.Length(max=100))
    extras = JsonDict(allow_none=True)

    @pre_load
    def _extra_keys(self, data, **kwargs):
        """Keys CKAN keeps as a resource's extras (``resource_type``, a harvester's own keys …) are stored
        as extras, so what a CKAN client read comes back; the fields the catalog derives are ignored."""
        if not isinstance(data, dict):
            return data
        extra = {k: v for k, v in data.items()
                 if k not in self.fields and k not in DERIVED_RESOURCE_FIELDS and k != "upload"}
        if not extra:
            return data
        given = data.get("extras")
        if isinstance(given, str):
            try:
                given = json.loads(given)
            except ValueError:
                return data  # the extras field itself answers for a malformed value
        if given is not None and not isinstance(given, dict):
            return data
        merged = dict(given or {})
        for key, value in extra.items():
            if value is not None:
                merged[key] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        kept = {k: v for k, v in data.items() if k not in extra}
        if merged:
            kept["extras"] = merged
        return kept


class DatasetResourceParams(ResourceParams):
    """A resource given inside package_create / update / patch; ``id`` names an existing one."""

    id = fields.String(allow_none=True, metadata={"description": "id of an existing resource to keep"})


class DatasetParams(ParamsSchema):
    """A dataset's fields as given to package_create / update / patch."""

    name = _profile("name", fields.String())
    title = _text("title")
    notes = _text("notes")
    owner_org = fields.String(allow_none=True, metadata={"description": "department id or name"})
    private = _profile("private", fields.Boolean(allow_none=True))
    state = _profile("state", fields.String(allow_none=True))
    url = _text("url")
    version = _text("version")
    author = _text("author")
    author_email = _text("author_email")
    maintainer = _text("maintainer")
    maintainer_email = _text("maintainer_email")
    license_id = _text("license_id")
    resource_code = _text("resource_code")
    category = _text("category")
    share_type = _text("share_type")
    share_condition = _text("share_condition")
    share_method = _profile("share_method", JsonDict(allow_none=True))
    open_type = _text("open_type")
    open_condition = _text("open_condition")
    update_cycle = _text("update_cycle")
    publish_date = _text("publish_date")
    related_codes = _profile("related_codes", JsonList(fields.String(), allow_none=True))
    items = _profile("items", JsonList(fields.Dict(), allow_none=True))
    record_schema = _text("record_schema")
    tags = JsonList(fields.Raw(), allow_none=True,
                    metadata={"description": 'tags as [{"name": "…"}] (plain strings accepted)'})
    tag_string = fields.String(allow_none=True, metadata={"description": "comma-separated tags"})
    extras = JsonList(fields.Dict(), allow_none=True, metadata={"description": '[{"key": "…", "value": "…"}]'})
    groups = JsonList(fields.Raw(), allow_none=True, metadata={
        "description": 'themes (GB/T 21063.4 theme items, group_list) as [{"name": "218"}]; kept unless given'})
    resources = JsonList(fields.Nested(DatasetResourceParams), allow_none=True,
                         metadata={"description": "resources to create (package_create) or the complete "
                                                  "list (package_update; omit it to keep them)"})
    metadata_modified = fields.String(allow_none=True, metadata={
        "description": "the value you last read; a newer stored value makes the write fail with 409"})
    revision = revision_field()


class DatasetCreateParams(DatasetParams):
    name = _profile("name", fields.String(required=True))


class DatasetUpdateParams(DatasetParams):
    id = fields.String(metadata={"description": "dataset id or name (or give name)"})
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000),
                           metadata={"description": "why sharing stops or narrows: required when it does "
                                                    "while other departments hold grants"})


class DatasetDeleteParams(ParamsSchema):
    id = id_field("dataset id or name")
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000),
                           metadata={"description": "why sharing stops: required while other departments hold grants"})


class DatasetShowParams(ParamsSchema):
    id = id_field("dataset id or name")


class DatasetListParams(ParamsSchema):
    limit = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=0, max=MAX_OFFSET))
    offset = offset_field()


class ResourceCreateParams(ResourceParams):
    package_id = id_field("dataset id or name")


class ResourceUpdateParams(ResourceParams):
    id = id_field("resource id")


class ResourceReorderParams(ParamsSchema):
    id = id_field("dataset id or name")
    order = JsonList(fields.String(validate=validate.Length(min=1, max=100)), required=True,
                     validate=validate.Length(max=1000),
                     metadata={"description": "resource ids, first to last; resources left out keep their "
                                              "order after these"})


class ActivityListParams(ParamsSchema):
    id = id_field()
    offset = offset_field()
    limit = limit_field(31, 100)


class TagListParams(ParamsSchema):
    query = fields.String(load_default=None)
    all_fields = fields.Boolean(load_default=False)


class TagOut(Schema):
    id = fields.String()
    name = fields.String()
    display_name = fields.Function(lambda tag: tag.name)
    vocabulary_id = fields.Constant(None)
    state = fields.Constant("active")


def site_base() -> str:
    """Where this catalog answers: the configured ``SITE_URL``, else (left at its default) the request's host."""
    configured = (current_app.config.get("SITE_URL") or "").rstrip("/")
    if has_request_context() and configured in ("", DEFAULTS["SITE_URL"].rstrip("/")):
        return request.host_url.rstrip("/")
    return configured


def public_url(resource: Resource) -> str:
    """The resource's address for API users: an uploaded file's or a DataStore dump's is made absolute on
    :func:`site_base` (the stored one may name another host or port); a link stays as it was given."""
    if resource.url_type not in ("upload", "datastore") or not resource.url:
        return resource.url
    parsed = urlparse(resource.url)
    return site_base() + parsed.path + (f"?{parsed.query}" if parsed.query else "")


@dataclass
class _Related:
    """What the JSON of some datasets and resources reads from other tables, loaded once for all of them:
    which resources have a DataStore table, and each dataset's themes (a page of search results read them
    one query per resource and per dataset before)."""

    resource_ids: set[str] = dataclass_field(default_factory=set)
    active: set[str] = dataclass_field(default_factory=set)
    dataset_ids: set[str] = dataclass_field(default_factory=set)
    themes: dict[str, list[str]] = dataclass_field(default_factory=dict)

    @classmethod
    def load(cls, datasets: list[Dataset], resources: list[Resource]) -> "_Related":
        related = cls()
        objects = [*datasets, *resources]
        session = next((s for s in map(object_session, objects) if s is not None), None)
        if session is None:
            return related
        related.dataset_ids = {d.id for d in datasets}
        related.resource_ids = {r.id for r in resources} | {r.id for d in datasets for r in d.resources}
        # one statement for both: the resources that have a DataStore table, the datasets' themes in code order
        parts = []
        if related.resource_ids:
            parts.append(sa.select(sa.literal("datastore").label("kind"), DatastoreTable.resource_id.label("id"),
                                   sa.cast(sa.null(), sa.String).label("code"))
                         .where(DatastoreTable.resource_id.in_(sorted(related.resource_ids))))
        if related.dataset_ids:
            parts.append(sa.select(sa.literal("theme").label("kind"), DatasetGroup.dataset_id.label("id"),
                                   DatasetGroup.group_name.label("code"))
                         .where(DatasetGroup.dataset_id.in_(sorted(related.dataset_ids))))
        if parts:
            statement = (sa.union_all(*parts) if len(parts) > 1 else parts[0]).order_by(
                sa.literal_column("kind"), sa.literal_column("code"))
            for kind, key, code in session.execute(statement):
                if kind == "datastore":
                    related.active.add(key)
                else:
                    related.themes.setdefault(key, []).append(code)
        return related


#: The related rows of the datasets or resources being dumped (set by the schemas' ``dump``).
_related: ContextVar[_Related | None] = ContextVar("dataset_related", default=None)


class _LoadsRelated:
    """``dump`` loads the related rows of everything it dumps in one query each, unless an enclosing
    dump already did (a dataset's resources, nested in its JSON)."""

    def _related_of(self, objects: list) -> _Related:
        raise NotImplementedError

    def dump(self, obj, *, many: bool | None = None):
        many = self.many if many is None else bool(many)
        objects = list(obj) if many else [obj]
        if self._covered(_related.get(), objects):
            return super().dump(obj, many=many)
        token = _related.set(self._related_of(objects))
        try:
            return super().dump(obj, many=many)
        finally:
            _related.reset(token)

    @staticmethod
    def _covered(related: _Related | None, objects: list) -> bool:
        raise NotImplementedError


def datastore_active(resource: Resource) -> bool:
    """Whether the resource has a DataStore table (CKAN's ``datastore_active``)."""
    related = _related.get()
    if related is not None and resource.id in related.resource_ids:
        return resource.id in related.active
    session = object_session(resource)
    return session is not None and session.get(DatastoreTable, resource.id) is not None


def dataset_themes(dataset: Dataset) -> list[str]:
    """The theme codes a dataset is filed under (read with the other datasets being dumped)."""
    related = _related.get()
    if related is not None and dataset.id in related.dataset_ids:
        return related.themes.get(dataset.id, [])
    session = object_session(dataset)
    return themes_of(session, [dataset.id]).get(dataset.id, []) if session is not None else []


#: CKAN 2.10's resource fields this catalog keeps no column for: null unless a client stored them (as extras).
CKAN_RESOURCE_FIELDS = ("resource_type", "mimetype_inner", "cache_url", "cache_last_updated")


class ResourceOut(_LoadsRelated, Schema):
    """A resource as CKAN shows it."""

    def _related_of(self, objects: list) -> _Related:
        return _Related.load([], objects)

    @staticmethod
    def _covered(related: _Related | None, objects: list) -> bool:
        return related is not None and all(r.id in related.resource_ids for r in objects)

    id = fields.String()
    package_id = fields.String()
    name = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    url = fields.Function(public_url)
    datastore_active = fields.Function(datastore_active)
    url_type = fields.String(allow_none=True)
    format = fields.String(allow_none=True)
    mimetype = fields.String(allow_none=True)
    size = fields.Integer(allow_none=True)
    hash = fields.String(allow_none=True)
    position = fields.Integer()
    state = fields.Constant("active")
    created = CkanDateTime()
    last_modified = CkanDateTime(allow_none=True)
    metadata_modified = CkanDateTime()

    @post_dump(pass_original=True)
    def _ckan_fields(self, data, resource, **kwargs):
        """CKAN's resource fields we keep no column for (null unless given), and the extras at the top
        level, as CKAN shows a resource's extra keys."""
        for key in CKAN_RESOURCE_FIELDS:
            data[key] = None
        for key, value in sorted((resource.extras or {}).items()):
            if key not in data or key in CKAN_RESOURCE_FIELDS:
                data[key] = value
        return data


class DatasetOut(_LoadsRelated, Schema):
    """A dataset as CKAN shows a package, with the core metadata fields."""

    def _related_of(self, objects: list) -> _Related:
        return _Related.load(objects, [])

    @staticmethod
    def _covered(related: _Related | None, objects: list) -> bool:
        return related is not None and all(d.id in related.dataset_ids for d in objects)

    id = fields.String()
    name = fields.String()
    title = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    owner_org = fields.String()
    organization = fields.Nested(DepartmentOut)
    private = fields.Boolean()
    state = fields.String()
    type = fields.String()
    url = fields.String(allow_none=True)
    version = fields.String(allow_none=True)
    author = fields.String(allow_none=True)
    author_email = fields.String(allow_none=True)
    maintainer = fields.String(allow_none=True)
    maintainer_email = fields.String(allow_none=True)
    license_id = fields.String(allow_none=True)
    resource_code = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    share_type = fields.String(allow_none=True)
    share_condition = fields.String(allow_none=True)
    share_method = fields.Dict(allow_none=True)
    open_type = fields.String(allow_none=True)
    open_condition = fields.String(allow_none=True)
    update_cycle = fields.String(allow_none=True)
    publish_date = fields.Date(allow_none=True)
    related_codes = fields.List(fields.String())
    items = fields.List(fields.Dict())
    metadata_schema = fields.String()
    record_schema = fields.String(allow_none=True)
    tags = fields.Nested(TagOut, many=True)
    extras = fields.Function(lambda d: [{"key": k, "value": v} for k, v in sorted((d.extras or {}).items())])
    resources = fields.Nested(ResourceOut, many=True)
    num_resources = fields.Function(lambda d: len(d.resources))
    num_tags = fields.Function(lambda d: len(d.tags))
    groups = fields.Function(lambda d: [theme_ref(code, lang=request_lang()) for code in dataset_themes(d)])
    creator_user_id = fields.String(allow_none=True)
    metadata_created = CkanDateTime()
    metadata_modified = CkanDateTime()
    revision = fields.Integer()

    @post_dump(pass_original=True)
    def _licence(self, data, dataset, **kwargs):
        """``isopen``, ``license_title`` and ``license_url`` derived from the licence list, as CKAN does."""
        data.update(license_fields(dataset.license_id, request_lang()))
        return data


class ActivityOut(Schema):
    id = fields.String()
    timestamp = CkanDateTime()
    user_id = fields.String(allow_none=True)
    object_id = fields.String()
    activity_type = fields.String()
    data = fields.Dict()
