"""CKAN's read actions over the published catalog: tag_show, the autocompletes, resource_search,
current_package_list_with_resources, vocabulary_list, package_relationships_list."""
from __future__ import annotations

from marshmallow import fields, validate

from ..api.fields import MAX_QUERY_CHARS, JsonList, ParamsSchema, id_field, limit_field, offset_field, query_field
from ..api.registry import ActionContext, action
from ..errors import ValidationError
from . import lookups, service
from .actions import dataset_dicts
from .schemas import ResourceOut, TagOut


class TagShowParams(ParamsSchema):
    id = id_field("tag name or id")
    include_datasets = fields.Boolean(load_default=False)
    vocabulary_id = fields.String(load_default=None, validate=validate.OneOf([], error="no vocabularies exist"))


class AutocompleteParams(ParamsSchema):
    q = fields.String(required=True, validate=validate.Length(max=MAX_QUERY_CHARS))
    limit = limit_field(10, 1000)


class FormatAutocompleteParams(AutocompleteParams):
    limit = limit_field(5, 1000)


class TagAutocompleteParams(AutocompleteParams):
    query = query_field(metadata={"description": "the text to complete (CKAN's name for q here)"})
    q = query_field()
    offset = offset_field()
    vocabulary_id = fields.String(load_default=None, validate=validate.OneOf([], error="no vocabularies exist"))


class CurrentPackageListParams(ParamsSchema):
    limit = limit_field(1000, 1000)
    offset = offset_field()
    page = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1),
                          metadata={"description": "page of `limit` datasets, from 1 (instead of offset)"})


class ResourceSearchParams(ParamsSchema):
    query = JsonList(fields.String(), required=True, metadata={
        "description": 'field:term, or a list of them (all must match), e.g. ["format:csv", "name:户籍"]'})
    order_by = fields.String(load_default=None)
    offset = offset_field()
    limit = limit_field(1000, 1000)

    def load(self, data, *args, **kwargs):
        """A single ``field:term`` string is a list of one, as in CKAN."""
        if isinstance(data, dict) and isinstance(data.get("query"), str) and not data["query"].startswith("["):
            data = {**data, "query": [data["query"]]}
        if isinstance(data, dict) and "fields" in data:
            raise ValidationError.single("fields", "deprecated in CKAN and not supported: use query")
        return super().load(data, *args, **kwargs)


class RelationshipsParams(ParamsSchema):
    id = id_field("dataset id or name")
    id2 = fields.String(load_default=None, metadata={"description": "only the relationships with this dataset"})
    rel = fields.String(load_default=None, metadata={"description": "links_to or linked_from (CKAN's types)"})


@action("tag_show", params=TagShowParams, result=TagOut, read_only=True)
def tag_show(ctx: ActionContext, data: dict) -> dict:
    """A tag of published datasets, with those datasets (``include_datasets``)."""
    tag = lookups.show_tag(ctx.session, data["id"])
    result = TagOut().dump(tag)
    if data["include_datasets"]:
        result["packages"] = dataset_dicts(ctx, lookups.tag_datasets(ctx.session, tag))
    return result


@action("package_autocomplete", params=AutocompleteParams,
        result={"type": "array", "items": {"type": "object"}}, read_only=True)
def package_autocomplete(ctx: ActionContext, data: dict) -> list:
    """Published datasets whose name or title contains ``q``: name, title, match_field, match_displayed."""
    return lookups.autocomplete_datasets(ctx.session, data["q"] or "", limit=data["limit"])


@action("format_autocomplete", params=FormatAutocompleteParams,
        result={"type": "array", "items": {"type": "string"}}, read_only=True)
def format_autocomplete(ctx: ActionContext, data: dict) -> list:
    """Resource formats containing ``q``, the most used first."""
    return lookups.autocomplete_formats(ctx.session, data["q"] or "", limit=data["limit"])


@action("tag_autocomplete", params=TagAutocompleteParams,
        result={"type": "array", "items": {"type": "string"}}, read_only=True)
def tag_autocomplete(ctx: ActionContext, data: dict) -> list:
    """Names of tags of published datasets containing ``query`` (or ``q``)."""
    text = data["query"] if data["query"] is not None else data["q"]
    if text is None:
        raise ValidationError.single("query", "Missing value")
    return lookups.autocomplete_tags(ctx.session, text, limit=data["limit"], offset=data["offset"])


@action("current_package_list_with_resources", params=CurrentPackageListParams,
        result={"type": "array", "items": {"type": "object"}}, read_only=True)
def current_package_list_with_resources(ctx: ActionContext, data: dict) -> list:
    """Published datasets with their resources, the last changed first."""
    offset = (data["page"] - 1) * data["limit"] if data["page"] else data["offset"]
    return dataset_dicts(ctx, lookups.current_datasets(ctx.session, offset=offset, limit=data["limit"]))


@action("resource_search", params=ResourceSearchParams,
        result={"type": "object", "properties": {"count": {"type": "integer"},
                                                 "results": {"type": "array", "items": {"type": "object"}}}},
        read_only=True)
def resource_search(ctx: ActionContext, data: dict) -> dict:
    """Resources of published datasets matching every ``field:term`` of ``query``."""
    terms = lookups.parse_resource_query(data["query"])
    count, found = lookups.search_resources(ctx.session, terms, order_by=data["order_by"],
                                            offset=data["offset"], limit=data["limit"])
    return {"count": count, "results": ResourceOut(many=True).dump(found)}


@action("vocabulary_list", params=ParamsSchema, result={"type": "array", "items": {"type": "object"}},
        read_only=True)
def vocabulary_list(ctx: ActionContext, data: dict) -> list:
    """Tag vocabularies: none (tags are free keywords; classifications are fields and themes)."""
    return []


@action("package_relationships_list", params=RelationshipsParams,
        result={"type": "array", "items": {"type": "object"}}, read_only=True)
def package_relationships_list(ctx: ActionContext, data: dict) -> list:
    """The dataset's links through 关联资源代码 (related_codes): links_to the codes it names, linked_from
    the published datasets that name its code."""
    dataset = service.show_dataset(ctx.session, ctx.actor, data["id"])
    other = service.show_dataset(ctx.session, ctx.actor, data["id2"]) if data["id2"] else None
    return lookups.relationships(ctx.session, dataset, other=other, rel=data["rel"])
