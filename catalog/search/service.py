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


def _facet(session: Session, name: str, ids: sa.Subquery, *, limit: int, mincount: int,
           lang: str) -> list[tuple[str, str, int]]:
    count = sa.func.count(sa.distinct(ids.c.id)).label("n")
    if name == "organization":
        stmt = (sa.select(Department.name, Department.title, count)
                .join(Dataset, Dataset.owner_org == Department.id).join(ids, ids.c.id == Dataset.id)
                .group_by(Department.name, Department.title))
    elif name == "tags":
        stmt = (sa.select(Tag.name, Tag.name, count).join(dataset_tag, dataset_tag.c.tag_id == Tag.id)
                .join(ids, ids.c.id == dataset_tag.c.dataset_id).group_by(Tag.name))
    elif name == "res_format":
        fmt = sa.func.upper(Resource.format)
        stmt = (sa.select(fmt, fmt, count).join(ids, ids.c.id == Resource.package_id)
                .where(Resource.format.is_not(None), Resource.format != "").group_by(fmt))
    else:
        column = COLUMN_FIELDS[name]
        stmt = (sa.select(column, column, count).join(ids, ids.c.id == Dataset.id)
                .where(column.is_not(None)).group_by(column))
    stmt = stmt.having(count >= max(mincount, 1)).order_by(sa.desc("n"), sa.text("1"))
    if limit >= 0:
        stmt = stmt.limit(limit)
    labels = _enum_labels().get(name, {})
    rows = []
    for value, display, n in session.execute(stmt):
        display = labels.get(value, {}).get(lang, display) if labels else display
        rows.append((value, display, n))
    return rows


def search_datasets(session: Session, actor: User | None, *, q: str = "", fq: list[str] | None = None,
                    sort: str | None = None, rows: int = 10, start: int = 0,
                    facet_fields: list[str] | None = None, facet_limit: int = 50,
                    facet_mincount: int = 1, include_private: bool = False,
                    include_drafts: bool = False, lang: str = "zh") -> SearchResult:
    """Find the datasets the actor may see that match ``q`` and every ``fq`` clause."""
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
    score = sa.literal(0.0)
    base = sa.select(Dataset.id.label("id"))
    if terms:
        match = index.matches(session, terms)
        base = base.join(match, match.c.dataset_id == Dataset.id)
        score = match.c.score
    base = base.where(*conditions)
    ids = base.subquery("hits")

    count = session.scalar(sa.select(sa.func.count()).select_from(ids))
    if not order:
        order = [("score", True), ("metadata_modified", True)] if terms else [("metadata_modified", True)]
    columns = {"score": score, "metadata_modified": Dataset.metadata_modified,
               "metadata_created": Dataset.metadata_created, "title": Dataset.title, "name": Dataset.name}
    page = sa.select(Dataset.id)
    if terms:
        page = page.join(match, match.c.dataset_id == Dataset.id)
    page = page.where(*conditions).order_by(
        *[columns[key].desc() if desc else columns[key].asc() for key, desc in order],
        Dataset.metadata_modified.desc(), Dataset.id).offset(start).limit(rows)
    page_ids = list(session.scalars(page))
    found = {d.id: d for d in session.scalars(sa.select(Dataset).where(Dataset.id.in_(page_ids)).options(
        selectinload(Dataset.tags), selectinload(Dataset.resources), selectinload(Dataset.organization)))}
    facets = {name: _facet(session, name, ids, limit=facet_limit, mincount=facet_mincount, lang=lang)
              for name in facet_fields or []}
    return SearchResult(count=count or 0, datasets=[found[i] for i in page_ids], facets=facets, terms=terms)


def facet_title(name: str, lang: str = "zh") -> str:
    """A facet's display title, from the metadata profile's labels where it has them."""
    properties = load_schema("metadata", "dataset", 1)["properties"]
    labels = properties.get(name, {}).get("x-labels") or _FACET_TITLES.get(name, {})
    return labels.get(lang, name)
