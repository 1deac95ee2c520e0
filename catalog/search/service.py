"""package_search: full-text matching, fq filters, facets and sorting over the visible datasets."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from schemas import load_schema

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource, Tag, dataset_tag
from ..departments.models import Department
from ..errors import ValidationError
from . import index, text
from .query import Clause, QuerySyntaxError, parse_fq_list, parse_sort

#: Filterable and facetable fields: public name -> dataset column (or a special handler below).
COLUMN_FIELDS = {
    "share_type": Dataset.share_type, "update_cycle": Dataset.update_cycle,
    "open_type": Dataset.open_type, "category": Dataset.category, "name": Dataset.name,
    "resource_code": Dataset.resource_code, "license_id": Dataset.license_id,
    "owner_org": Dataset.owner_org, "state": Dataset.state, "id": Dataset.id,
}
SPECIAL_FIELDS = ("organization", "tags", "res_format", "capacity")
FILTER_FIELDS = set(COLUMN_FIELDS) | set(SPECIAL_FIELDS)
FACET_FIELDS = ("organization", "tags", "res_format", "share_type", "update_cycle", "open_type",
                "category", "license_id")
SORT_FIELDS = {"score": "score", "metadata_modified": "metadata_modified",
               "metadata_created": "metadata_created", "title_string": "title", "title": "title",
               "name": "name"}
#: The marker of page rows in the combined count, facets and page statement.
_PAGE = "#page"
_FACET_TITLES = {"organization": {"zh": "部门", "en": "Organizations"}, "tags": {"zh": "标签", "en": "Tags"},
                 "res_format": {"zh": "格式", "en": "Formats"}}


@dataclass
class SearchResult:
    """What package_search answers: the count, one page of datasets and the facet counts."""

    count: int
    datasets: list[Dataset]
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)


def _clause_condition(clause: Clause):
    values = list(clause.values)
    if clause.field in COLUMN_FIELDS:
        condition = COLUMN_FIELDS[clause.field].in_(values)
    elif clause.field == "organization":
        condition = Dataset.owner_org.in_(sa.select(Department.id).where(
            sa.or_(Department.name.in_(values), Department.id.in_(values))))
    elif clause.field == "tags":
        condition = Dataset.id.in_(sa.select(dataset_tag.c.dataset_id).join(
            Tag, Tag.id == dataset_tag.c.tag_id).where(Tag.name.in_(values)))
    elif clause.field == "res_format":
        condition = Dataset.id.in_(sa.select(Resource.package_id).where(
            sa.func.upper(Resource.format).in_([v.upper() for v in values])))
    else:  # capacity: public / private, as CKAN clients send it
        wanted = {v.lower() for v in values}
        if not wanted <= {"public", "private"}:
            raise ValidationError.single("fq", "capacity must be public or private")
        condition = Dataset.private.in_([v == "private" for v in wanted])
    return sa.not_(condition) if clause.negate else condition


def _enum_labels() -> dict[str, dict[str, dict[str, str]]]:
    properties = load_schema("metadata", "dataset", 1)["properties"]
    return {name: prop.get("x-enumLabels", {}) for name, prop in properties.items()}


def _facet_rows(name: str, hits) -> sa.Select:
    """``(facet, value, n)`` rows of one facet over the ``hits`` CTE (one row per dataset).

    Every branch counts rows that are unique per dataset, so ``count(*)`` is exact and no
    ``count(DISTINCT ...)`` (a sort per group) is needed; nothing joins back to ``dataset``.
    """
    label = sa.literal(name).label("facet")
    n = sa.func.count().label("n")
    if name == "organization":
        return sa.select(label, hits.c.owner_org.label("value"), n).group_by(hits.c.owner_org)
    if name == "tags":  # (dataset_id, tag_id) is the primary key of dataset_tag
        return (sa.select(label, Tag.name.label("value"), n)
                .select_from(dataset_tag.join(hits, hits.c.id == dataset_tag.c.dataset_id)
                             .join(Tag, Tag.id == dataset_tag.c.tag_id))
                .group_by(Tag.name))
    if name == "res_format":  # a dataset counts once per format, however many resources have it
        fmt = sa.func.upper(Resource.format)
        formats = (sa.select(Resource.package_id, fmt.label("fmt")).distinct()
                   .join(hits, hits.c.id == Resource.package_id)
                   .where(Resource.format.is_not(None), Resource.format != "")
                   .subquery("formats"))
        return sa.select(label, formats.c.fmt.label("value"), n).group_by(formats.c.fmt)
    column = hits.c[f"f_{name}"]
    return sa.select(label, column.label("value"), n).where(column.is_not(None)).group_by(column)


def _facets(session: Session, counted: dict[str, list[tuple[str, int]]], *, limit: int, mincount: int,
            lang: str) -> dict[str, list[tuple[str, str, int]]]:
    """Facet items ``(value, display name, count)``: most frequent first, then by value."""
    organizations = {}
    ids = [value for value, _n in counted.get("organization", [])]
    if ids:
        organizations = {d.id: (d.name, d.title) for d in session.scalars(
            sa.select(Department).where(Department.id.in_(ids)))}
    facets = {}
    for name, rows in counted.items():
        labels = _enum_labels().get(name, {})
        items = []
        for value, n in rows:
            if n < max(mincount, 1):
                continue
            if name == "organization":
                value, display = organizations.get(value, (value, value))
            else:
                display = labels.get(value, {}).get(lang, value) if labels else value
            items.append((value, display, n))
        items.sort(key=lambda item: (-item[2], item[0]))
        facets[name] = items[:limit] if limit >= 0 else items
    return facets


def search_datasets(session: Session, actor: User | None, *, q: str = "", fq: list[str] | None = None,
                    sort: str | None = None, rows: int = 10, start: int = 0,
                    facet_fields: list[str] | None = None, facet_limit: int = 50,
                    facet_mincount: int = 1, include_private: bool = False,
                    include_drafts: bool = False, lang: str = "zh") -> SearchResult:
    """Find the datasets the actor may see that match ``q`` and every ``fq`` clause."""
    text.check_query_length(q)
    for clause in fq or []:
        text.check_query_length(clause, "fq")
    try:
        clauses = parse_fq_list([f for f in (fq or []) if f and f.strip()], FILTER_FIELDS)
    except QuerySyntaxError as error:
        raise ValidationError.single("fq", str(error)) from None
    try:
        order = parse_sort(sort or "", SORT_FIELDS)
    except QuerySyntaxError as error:
        raise ValidationError.single("sort", str(error)) from None
    unknown = [f for f in facet_fields or [] if f not in FACET_FIELDS]
    if unknown:
        raise ValidationError.single("facet.field", f"cannot facet on {', '.join(unknown)}; "
                                                    f"available: {', '.join(FACET_FIELDS)}")

    table = Dataset.__table__
    states = ["active", "draft"] if include_drafts else ["active"]
    conditions = [Dataset.state.in_(states), rules.readable_datasets_clause(session, actor, table)]
    if not include_private:
        conditions.append(Dataset.private.is_(False))
    conditions.extend(_clause_condition(c) for c in clauses)

    terms = text.query_terms(q or "")
    facet_fields = list(dict.fromkeys(facet_fields or []))
    if not order:
        order = [("score", True), ("metadata_modified", True)] if terms else [("metadata_modified", True)]

    # The matching datasets, computed once per request as a CTE that the count, the facets and
    # (with words) the page all read in one statement. Before, the count, the page and every
    # facet each repeated the full-text match and the visibility conditions in its own query.
    columns = [Dataset.id.label("id"), Dataset.owner_org.label("owner_org")]
    columns += [COLUMN_FIELDS[name].label(f"f_{name}") for name in facet_fields if name in COLUMN_FIELDS]
    base = sa.select(*columns)
    if terms:
        match = index.matches(session, terms)
        base = base.add_columns(match.c.score.label("score"), Dataset.metadata_modified,
                                Dataset.metadata_created, Dataset.title, Dataset.name)
        base = base.join(match, match.c.dataset_id == Dataset.id)
    hits = base.where(*conditions).cte("hits")
    if facet_fields or terms:  # read more than once: compute it once (a lone count inlines it)
        hits = hits.prefix_with("MATERIALIZED")

    parts = [sa.select(sa.literal("").label("facet"), sa.null().label("value"),
                       sa.func.count().label("n")).select_from(hits)]
    parts += [_facet_rows(name, hits) for name in facet_fields]
    if terms:  # the page in relevance (or the asked) order, numbered to survive the UNION
        sort = [hits.c[key].desc() if desc else hits.c[key].asc() for key, desc in order]
        sort += [hits.c.metadata_modified.desc(), hits.c.id]
        page = (sa.select(sa.literal(_PAGE).label("facet"), hits.c.id.label("value"),
                          sa.func.row_number().over(order_by=sort).label("n"))
                .order_by(*sort).offset(start).limit(rows).subquery("page"))
        parts.append(sa.select(page))
    count, counted, ranked = 0, {name: [] for name in facet_fields}, []
    for facet, value, n in session.execute(sa.union_all(*parts)):
        if facet == "":
            count = n
        elif facet == _PAGE:
            ranked.append((n, value))
        else:
            counted[facet].append((value, n))
    if terms:
        page_ids = [value for _n, value in sorted(ranked)]
    else:  # without words the newest (or the asked) order comes straight from the indexes
        keys = {"metadata_modified": Dataset.metadata_modified, "metadata_created": Dataset.metadata_created,
                "title": Dataset.title, "name": Dataset.name}
        sort = [keys[key].desc() if desc else keys[key].asc() for key, desc in order if key in keys]
        page_ids = list(session.scalars(sa.select(Dataset.id).where(*conditions).order_by(
            *sort, Dataset.metadata_modified.desc(), Dataset.id).offset(start).limit(rows)))
    found = {d.id: d for d in session.scalars(sa.select(Dataset).where(Dataset.id.in_(page_ids)).options(
        selectinload(Dataset.tags), selectinload(Dataset.resources), selectinload(Dataset.organization)))}
    facets = _facets(session, counted, limit=facet_limit, mincount=facet_mincount, lang=lang)
    return SearchResult(count=count or 0, datasets=[found[i] for i in page_ids], facets=facets, terms=terms)


def facet_title(name: str, lang: str = "zh") -> str:
    """A facet's display title, from the metadata profile's labels where it has them."""
    properties = load_schema("metadata", "dataset", 1)["properties"]
    labels = properties.get(name, {}).get("x-labels") or _FACET_TITLES.get(name, {})
    return labels.get(lang, name)
