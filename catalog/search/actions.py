"""CKAN's package_search, served from the catalog's own index (no Solr)."""
from __future__ import annotations

from marshmallow import RAISE, ValidationError, fields, pre_load, validate

from ..api.fields import MAX_OFFSET, JsonList, ParamsSchema, query_field
from ..api.registry import ActionContext, action
from ..datasets.actions import dataset_dicts
from ..datasets.schemas import DatasetOut
from ..errors import ValidationError as CatalogValidationError
from .service import facet_title, search_datasets
from .text import MAX_QUERY_CHARS


#: CKAN caps ``rows`` at 1000 without an error (``ckan.search.rows_max``); so does the catalog.
ROWS_MAX = 1000


class FacetFields(JsonList):
    """``facet.field``: a JSON list, or one field name given bare (``facet.field=tags``)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and not value.lstrip().startswith("["):
            value = [value.strip()]
        return super()._deserialize(value, attr, data, **kwargs)


class FieldList(fields.Field):
    """``fl``: field names separated by commas or spaces, or a JSON list (CKAN takes all three)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str) and value.lstrip().startswith("["):
            value = JsonList(fields.String())._deserialize(value, attr, data, **kwargs)
        if isinstance(value, str):
            value = value.replace(",", " ").split()
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise ValidationError("must be field names separated by commas, or a list of them")
        return list(dict.fromkeys(value))


class SearchParams(ParamsSchema):
    """package_search parameters (CKAN's names); unknown parameters are refused."""

    class Meta:
        unknown = RAISE

    q = query_field(load_default="", metadata={
        "description": "Solr syntax: words (Chinese, pinyin, codes), \"phrases\", field:value, field:prefix*, "
                       "field:[a TO b], AND/OR/NOT/-/+, ( ); see docs/API.md"})
    fq = query_field(allow_none=True, metadata={
        "description": "a filter in the same syntax as q, e.g. metadata_modified:[2026-01-01T00:00:00Z TO *]"})
    fq_list = JsonList(fields.String(validate=validate.Length(max=MAX_QUERY_CHARS)), load_default=None,
                       allow_none=True, validate=validate.Length(max=100))
    sort = fields.String(load_default=None, allow_none=True,
                         metadata={"description": "e.g. score desc, metadata_modified desc, title_string asc"})
    # Capped, not refused, up to the largest offset the databases bind (a larger one is a mistake)
    rows = fields.Integer(load_default=10, validate=validate.Range(min=0, max=MAX_OFFSET),
                          metadata={"description": f"page size; more than {ROWS_MAX} gives {ROWS_MAX}, as CKAN"})
    start = fields.Integer(load_default=0, validate=validate.Range(min=0, max=MAX_OFFSET))
    facet = fields.Boolean(load_default=True)
    facet_field = FacetFields(fields.String(), data_key="facet.field", load_default=None, allow_none=True)
    facet_limit = fields.Integer(data_key="facet.limit", load_default=50,
                                 validate=validate.Range(min=-1, max=MAX_OFFSET))
    facet_mincount = fields.Integer(data_key="facet.mincount", load_default=1,
                                    validate=validate.Range(min=0, max=MAX_OFFSET))
    include_private = fields.Boolean(load_default=False)
    include_drafts = fields.Boolean(load_default=False)
    lang = fields.String(load_default="zh", validate=validate.OneOf(["zh", "en"]),
                         metadata={"description": "language of facet display names"})
    fl = FieldList(load_default=None, allow_none=True,
                   metadata={"description": "only these fields of each result, e.g. id,name"})
    use_default_schema = fields.Boolean(load_default=False,
                                        metadata={"description": "accepted and ignored, as CKAN without plugins"})

    @pre_load
    def _drop_extension_parameters(self, data, **kwargs):
        """CKAN hands ``ext_*`` parameters to search plugins and ignores them without one; so do we."""
        if hasattr(data, "items"):
            return {k: v for k, v in data.items() if not str(k).startswith("ext_")}
        return data


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
    fl = data["fl"]
    if fl and "*" not in fl:
        unknown = [f for f in fl if f not in RESULT_FIELDS and not (f.startswith("extras_") and len(f) > 7)]
        if unknown:
            raise CatalogValidationError.single("fl", f"unknown field {unknown[0]!r}; fields: {', '.join(RESULT_FIELDS)}")
    found = search_datasets(
        ctx.session, ctx.actor, q=data["q"], fq=fq, sort=data["sort"], rows=min(data["rows"], ROWS_MAX),
        start=data["start"], facet_fields=facet_fields, facet_limit=data["facet_limit"],
        facet_mincount=data["facet_mincount"], include_private=data["include_private"],
        include_drafts=data["include_drafts"], lang=data["lang"])
    search_facets = {
        name: {"title": facet_title(name, data["lang"]),
               "items": [{"name": value, "display_name": display, "count": n} for value, display, n in items]}
        for name, items in found.facets.items()}
    results = dataset_dicts(ctx, found.datasets)
    if fl and "*" not in fl:
        results = [_only(result, fl) for result in results]
    return {
        "count": found.count,
        "results": results,
        "search_facets": search_facets,
        "facets": {name: {value: n for value, _d, n in items} for name, items in found.facets.items()},
        "sort": data["sort"] or ("score desc, metadata_modified desc" if found.terms else "metadata_modified desc"),
    }


#: The names ``fl`` may ask for: a result's keys (``extras_<key>`` picks one extra).
RESULT_FIELDS = tuple(sorted(set(DatasetOut._declared_fields) | {"isopen", "license_title", "license_url"}))


def _only(result: dict, names: list[str]) -> dict:
    """The asked fields of one result, in the asked order; ``extras_<key>`` reads that extra."""
    extras = {e["key"]: e["value"] for e in result.get("extras") or []}
    return {name: extras.get(name[len("extras_"):]) if name not in result and name.startswith("extras_")
            else result.get(name) for name in names}
