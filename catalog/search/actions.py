"""CKAN's package_search, served from the catalog's own index (no Solr)."""
from __future__ import annotations

from marshmallow import RAISE, fields, validate

from ..api.fields import MAX_OFFSET, JsonList, ParamsSchema, query_field
from ..api.registry import ActionContext, action
from ..datasets.actions import dataset_dicts
from ..datasets.schemas import DatasetOut
from .service import facet_title, search_datasets
from .text import MAX_QUERY_CHARS


class SearchParams(ParamsSchema):
    """package_search parameters (CKAN's names); unknown parameters are refused."""

    class Meta:
        unknown = RAISE

    q = query_field(load_default="", metadata={"description": "words to find (Chinese, pinyin, codes)"})
    fq = query_field(allow_none=True,
                       metadata={"description": 'filters: field:value, field:"a b", -field:value, field:(a OR b)'})
    fq_list = JsonList(fields.String(validate=validate.Length(max=MAX_QUERY_CHARS)), load_default=None,
                       allow_none=True, validate=validate.Length(max=100))
    sort = fields.String(load_default=None, allow_none=True,
                         metadata={"description": "e.g. score desc, metadata_modified desc, title_string asc"})
    rows = fields.Integer(load_default=10, validate=validate.Range(min=0, max=1000))
    start = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))
    facet = fields.Boolean(load_default=True)
    facet_field = JsonList(fields.String(), data_key="facet.field", load_default=None, allow_none=True)
    facet_limit = fields.Integer(data_key="facet.limit", load_default=50,
                                 validate=validate.Range(min=-1, max=MAX_OFFSET))
    facet_mincount = fields.Integer(data_key="facet.mincount", load_default=1,
                                    validate=validate.Range(min=0, max=MAX_OFFSET))
    include_private = fields.Boolean(load_default=False)
    include_drafts = fields.Boolean(load_default=False)
    lang = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]),
                         metadata={"description": "language of facet display names"})


@action("package_search", params=SearchParams, read_only=True, result={
    "type": "object",
    "properties": {"count": {"type": "integer"}, "results": {"type": "array", "items": DatasetOut},
                   "search_facets": {"type": "object"}, "facets": {"type": "object"},
                   "sort": {"type": "string"}}})
def package_search(ctx: ActionContext, data: dict) -> dict:
    """Search datasets by words (Chinese, traditional, pinyin, codes) with filters and facets."""
    fq = [data["fq"]] if data["fq"] else []
    fq.extend(data["fq_list"] or [])
    facet_fields = (data["facet_field"] or []) if data["facet"] else []
    found = search_datasets(
        ctx.session, ctx.actor, q=data["q"], fq=fq, sort=data["sort"], rows=data["rows"],
        start=data["start"], facet_fields=facet_fields, facet_limit=data["facet_limit"],
        facet_mincount=data["facet_mincount"], include_private=data["include_private"],
        include_drafts=data["include_drafts"], lang=data["lang"])
    search_facets = {
        name: {"title": facet_title(name, data["lang"]),
               "items": [{"name": value, "display_name": display, "count": n} for value, display, n in items]}
        for name, items in found.facets.items()}
    return {
        "count": found.count,
        "results": dataset_dicts(ctx, found.datasets),
        "search_facets": search_facets,
        "facets": {name: {value: n for value, _d, n in items} for name, items in found.facets.items()},
        "sort": data["sort"] or ("score desc, metadata_modified desc" if found.terms else "metadata_modified desc"),
    }
