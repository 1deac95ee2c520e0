"""package_search: full-text matching, fq filters, facets and sorting over the visible datasets."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from schemas import load_schema

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource, Tag, dataset_tag
from ..departments.models import Department
from ..groups.models import DatasetGroup
from ..groups.themes import theme_title, themes
from ..errors import ValidationError
from . import cache, delta, index, memory, text
from .models import CatalogVersion, facet_count, version_rows
from .conditions import NUM_RESOURCES, NUM_TAGS, QUERY_FIELDS, ConditionBuilder, only_words, required_terms
from .query import MatchAll, QuerySyntaxError, parse_query, parse_sort

#: Facetable dataset columns: public name -> column.
COLUMN_FIELDS = {
    "share_type": Dataset.share_type, "update_cycle": Dataset.update_cycle,
    "open_type": Dataset.open_type, "category": Dataset.category, "license_id": Dataset.license_id,
}
FACET_FIELDS = ("organization", "tags", "res_format", "groups", "share_type", "update_cycle", "open_type",
                "category", "license_id")
SORT_FIELDS = {"score": "score", "metadata_modified": "metadata_modified",
               "metadata_created": "metadata_created", "title_string": "title", "title": "title",
               "name": "name", "num_resources": "num_resources", "num_tags": "num_tags", "id": "id"}
#: The marker of page rows in the combined count, facets and page statement.
_PAGE = "#page"
#: The marker of the catalog version's row in the same statement.
_TOKEN = "#version"
_FACET_TITLES = {"organization": {"zh": "部门", "en": "Organizations"}, "tags": {"zh": "标签", "en": "Tags"},
                 "res_format": {"zh": "格式", "en": "Formats"}, "groups": {"zh": "主题", "en": "Groups"}}


@dataclass
class SearchResult:
    """What package_search answers: the count, one page of datasets and the facet counts."""

    count: int
    datasets: list[Dataset]
    facets: dict[str, list[tuple[str, str, int]]] = field(default_factory=dict)
    terms: list[str] = field(default_factory=list)


def _parse(builder: ConditionBuilder, field: str, value: str, index: int | None = None):
    """Parse one q or fq string and build its condition; 409 naming the parameter on a mistake."""
    try:
        tree = parse_query(value, QUERY_FIELDS)
        return tree, (builder.condition(tree) if tree is not None else None)
    except QuerySyntaxError as error:
        message = f"item {index}: {error}" if index is not None else str(error)
        raise ValidationError.single(field, message) from None


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
    if name == "groups":  # (dataset_id, group_name) is the primary key of dataset_group
        return (sa.select(label, DatasetGroup.group_name.label("value"), n)
                .join(hits, hits.c.id == DatasetGroup.dataset_id).group_by(DatasetGroup.group_name))
    if name == "res_format":  # a dataset counts once per format, however many resources have it
        fmt = sa.func.upper(Resource.format)
        formats = (sa.select(Resource.package_id, fmt.label("fmt")).distinct()
                   .join(hits, hits.c.id == Resource.package_id)
                   .where(Resource.format.is_not(None), Resource.format != "")
                   .subquery("formats"))
        return sa.select(label, formats.c.fmt.label("value"), n).group_by(formats.c.fmt)
    column = hits.c[f"f_{name}"]
    return sa.select(label, column.label("value"), n).where(column.is_not(None)).group_by(column)


def _facets(session: Session, counted: dict[str, list[tuple[str, int]]], *, limit: int, mincount: int, lang: str,
            organizations: dict[str, tuple[str, str]] | None = None) -> dict[str, list[tuple[str, str, int]]]:
    """Facet items ``(value, display name, count)``: most frequent first, then by value.

    ``organizations`` (department id -> name, title) when the caller read them already.
    """
    ids = [value for value, _n in counted.get("organization", [])]
    if organizations is None and ids:
        organizations = {d.id: (d.name, d.title) for d in session.scalars(
            sa.select(Department).where(Department.id.in_(ids)))}
    organizations = organizations or {}
    facets = {}
    for name, rows in counted.items():
        labels = _enum_labels().get(name, {})
        items = []
        for value, n in rows:
            if n < max(mincount, 1):
                continue
            if name == "organization":
                value, display = organizations.get(value, (value, value))
            elif name == "groups":
                display = theme_title(value, lang) if value in themes() else value
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
                    include_drafts: bool = False, lang: str = "zh",
                    now: dt.datetime | None = None) -> SearchResult:
    """Find the datasets the actor may see that match ``q`` and every ``fq`` clause."""
    text.check_query_length(q)
    for clause in fq or []:
        text.check_query_length(clause, "fq")
    builder = ConditionBuilder(session, now=now)
    tree, q_condition = _parse(builder, "q", q or "")
    score_terms = builder.score_terms[:]  # only q's words rank; fq's words filter
    filters = [f for f in (fq or []) if f and f.strip()]
    fq_conditions = [_parse(builder, "fq", f, i if len(filters) > 1 else None)[1] for i, f in enumerate(filters)]
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
    conditions.extend(fq_conditions)

    # Plain words (the usual query) keep the one full-text join that matches and scores them;
    # any other query is a condition on datasets, and its words outside NOT score title matches.
    required = required_terms(tree)
    if only_words(tree):
        match = index.matches(session, required) if required else None
    else:
        if q_condition is not None:
            conditions.append(q_condition)
        match = None
        if required:
            match = index.matches(session, required, score_terms=score_terms)
        elif score_terms:
            match = index.matches(session, score_terms, any_term=True)
    terms = score_terms if match is not None else []
    facet_fields = list(dict.fromkeys(facet_fields or []))
    if not order:
        order = [("score", True), ("metadata_modified", True)] if terms else [("metadata_modified", True)]
    if only_words(tree) and required and not fq_conditions:
        # plain words: from the process's replica of the catalogue when it can answer (catalog.search.memory)
        found = memory.answer(session, actor, required, states=states, include_private=include_private,
                              facet_fields=facet_fields, order=order, start=start, rows=rows)
        if found is not None:
            count, counted, page_ids = found
            facets = _facets(session, counted, limit=facet_limit, mincount=facet_mincount, lang=lang)
            return SearchResult(count=count, datasets=_load_page(session, page_ids), facets=facets, terms=terms)
    counts = {"num_resources": NUM_RESOURCES, "num_tags": NUM_TAGS}
    unfiltered = not terms and (tree is None or isinstance(tree, MatchAll)) and not fq_conditions
    if unfiltered:
        # Nothing to match or filter: the count and facets are sums of the counts kept per value and
        # visibility class (migration 0023), exact at every write; the page, read with its datasets,
        # comes from the indexes. Nothing else is built (the statements below cost milliseconds to make).
        page = sa.select(Dataset).where(*conditions).order_by(*_index_order(order, counts)).offset(start).limit(rows)
        return _unfiltered(session, actor, page, facet_fields, states=states, include_private=include_private,
                           limit=facet_limit, mincount=facet_mincount, lang=lang)

    # The matching datasets, computed once per request as a CTE that the count, the facets and
    # (with words) the page all read in one statement. Before, the count, the page and every
    # facet each repeated the full-text match and the visibility conditions in its own query.
    columns = [Dataset.id.label("id"), Dataset.owner_org.label("owner_org")]
    columns += [COLUMN_FIELDS[name].label(f"f_{name}") for name in facet_fields if name in COLUMN_FIELDS]
    base = sa.select(*columns)
    if terms:
        inner = bool(required) or only_words(tree)  # else words only under OR: a hit may lack them all
        score = match.c.score if inner else sa.func.coalesce(match.c.score, 0)
        base = base.add_columns(score.label("score"), Dataset.metadata_modified,
                                Dataset.metadata_created, Dataset.title, Dataset.name)
        base = base.add_columns(*(counts[key].label(key) for key, _desc in order if key in counts))
        base = base.join(match, match.c.dataset_id == Dataset.id, isouter=not inner)
    if (terms or facet_fields) and not builder.uses_now and delta.eligible(order, session):
        # Searches with words, and filtered searches with facets, keep their hits and follow the catalogue's
        # change log (catalog.search.delta): after a write only the datasets it changed are evaluated again.
        # A filter without words or facets is a count and a page the indexes answer (a few ms at 300,000
        # datasets, less than reading its hits once: docs/PERFORMANCE.md, fourth pass); NOW makes a new
        # query at every request.
        followed = base
        if not terms:  # no score: the sort keys of the order (and the newest first, the tie-breaker)
            followed = followed.add_columns(Dataset.metadata_modified, Dataset.metadata_created)
            followed = followed.add_columns(*(counts[key].label(key) for key, _desc in order if key in counts))
        followed = followed.add_columns(*(getattr(Dataset, key) for key in delta.TEXT_KEYS
                                          if not terms and any(key == k for k, _desc in order)))
        hits_select = followed.where(*conditions)
        state_key = (str(session.get_bind().engine.url), tuple(facet_fields), tuple(order),
                     _statement_key(session, hits_select))
        if not delta.too_big(state_key):
            return _followed(session, state_key, hits_select, facet_fields, order, start=start, rows=rows,
                             limit=facet_limit, mincount=facet_mincount, lang=lang, terms=terms)
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
    paging = None
    if not terms:  # without words the newest (or the asked) order comes straight from the indexes
        paging = sa.select(Dataset.id).where(*conditions).order_by(*_index_order(order, counts)) \
            .offset(start).limit(rows)
    # The answer (count, facets and the page's ids) is cached under the catalog version read by
    # the same statement that counts, and found again by the statements' SQL and parameters (which
    # carry the reader's visibility: sysadmin or not, their id for their departments, the flags).
    key = (str(session.get_bind().engine.url), facet_limit, facet_mincount, lang,
           *(_statement_key(session, statement) for statement in (sa.union_all(*parts), paging)))
    token = cache.current_token(session)
    answer = cache.get((token, key)) if token is not None else None
    if answer is None:
        answer, token = _compute(session, parts, facet_fields, terms=bool(terms), limit=facet_limit,
                                 mincount=facet_mincount, lang=lang)
        if paging is not None:  # a later snapshot than the token's: it can only be newer
            answer = (answer[0], answer[1], list(session.scalars(paging)))
        if token is not None and sum(len(items) for items in answer[1].values()) <= cache.MAX_ITEMS:
            cache.put((token, key), answer)
    count, facets, page_ids = answer
    return SearchResult(count=count or 0, datasets=_load_page(session, page_ids), facets=facets, terms=terms)


def _index_order(order: list[tuple[str, bool]], counts: dict) -> list:
    """ORDER BY of a page without words (a score means nothing there), the newest first and the id last."""
    keys = {"metadata_modified": Dataset.metadata_modified, "metadata_created": Dataset.metadata_created,
            "title": Dataset.title, "name": Dataset.name, "id": Dataset.id, **counts}
    sort = [keys[key].desc() if desc else keys[key].asc() for key, desc in order if key in keys]
    return [*sort, Dataset.metadata_modified.desc(), Dataset.id]


def _followed(session: Session, state_key: tuple, hits_select: sa.Select, facet_fields: list[str],
              order: list[tuple[str, bool]], *, start: int, rows: int, limit: int, mincount: int, lang: str,
              terms: list[str]) -> SearchResult:
    """A search answered from its kept hits (:mod:`catalog.search.delta`), cached under the version."""
    key = (state_key, start, rows, limit, mincount, lang)
    token = cache.current_token(session)
    answer = cache.get((token, key)) if token is not None else None
    if answer is None:
        (count, counted, page_ids), token = delta.answer(session, state_key, hits_select, facet_fields, order,
                                                         start, rows)
        facets = _facets(session, counted, limit=limit, mincount=mincount, lang=lang)
        answer = (count, facets, page_ids)
        if token is not None and sum(len(items) for items in facets.values()) <= cache.MAX_ITEMS:
            cache.put((token, key), answer)
    count, facets, page_ids = answer
    return SearchResult(count=count, datasets=_load_page(session, page_ids), facets=facets, terms=terms)


#: A page's datasets come with their tags, resources (one query each) and department (joined).
_PAGE_LOADING = (selectinload(Dataset.tags), selectinload(Dataset.resources), joinedload(Dataset.organization))


def _load_page(session: Session, page_ids: list[str]) -> list[Dataset]:
    """The page's datasets with their tags, resources and department, in the page's order."""
    found = {d.id: d for d in session.scalars(sa.select(Dataset).where(Dataset.id.in_(page_ids))
                                              .options(*_PAGE_LOADING))}
    # a dataset deleted since the page was cut is left out (its deletion gave a new version)
    return [found[i] for i in page_ids if i in found]


def _unfiltered(session: Session, actor: User | None, page: sa.Select, facet_fields: list[str], *,
                states: list[str], include_private: bool, limit: int, mincount: int, lang: str) -> SearchResult:
    """A search without words and filters: the count and facets summed from ``search_facet_count``.

    The rows are kept per (facet, value, department, state, private) by triggers in every writer's
    transaction, so the reader's visibility is the same condition as on ``dataset`` (sysadmin, their
    departments, the include flags) applied to those columns: one read of a few thousand rows instead
    of counting the catalogue, and nothing to recompute after a write.
    """
    table = facet_count
    conditions = [table.c.state.in_(states), rules.readable_datasets_clause(session, actor, table),
                  table.c.facet.in_(["", *facet_fields])]
    if not include_private:
        conditions.append(table.c.private.is_(False))
    total = sa.func.sum(table.c.n)
    # the organization facet's department names come with its counts (one statement fewer)
    department = sa.and_(table.c.facet == "organization", Department.id == table.c.value)
    count, counted, organizations = 0, {name: [] for name in facet_fields}, {}
    for facet, value, n, name, title in session.execute(
            sa.select(table.c.facet, table.c.value, total, Department.name, Department.title)
            .outerjoin(Department, department).where(*conditions)
            .group_by(table.c.facet, table.c.value, Department.name, Department.title).having(total > 0)):
        if facet == "":
            count = int(n)
        else:
            counted[facet].append((value, int(n)))
            if facet == "organization" and name is not None:
                organizations[value] = (name, title)
    facets = _facets(session, counted, limit=limit, mincount=mincount, lang=lang, organizations=organizations)
    return SearchResult(count=count, datasets=list(session.scalars(page.options(*_PAGE_LOADING))), facets=facets)


def _statement_key(session: Session, statement) -> tuple | None:
    """What identifies a statement's result: its structure and bound values.

    SQLAlchemy's own compiled-statement cache key (structure) with the values of its parameters, a
    few microseconds where compiling to a string took about 10 ms; the SQL text if it has none.
    """
    if statement is None:
        return None
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        compiled = statement.compile(dialect=session.get_bind().dialect)
        return compiled.string, repr(sorted(compiled.params.items()))
    return cache_key.key, repr([bind.effective_value for bind in cache_key.bindparams])


def _compute(session: Session, parts: list, facet_fields: list[str], *, terms: bool, limit: int,
             mincount: int, lang: str) -> tuple[tuple, str | None]:
    """Run the count, facets and page statement with the version token in the same snapshot.

    Returns ``(count, facets, page ids or None)`` and the token the statement saw.
    """
    version = sa.select(sa.literal(_TOKEN).label("facet"), CatalogVersion.token.label("value"),
                        CatalogVersion.id.label("n")).where(version_rows())
    count, versions, counted, ranked = 0, [], {name: [] for name in facet_fields}, []
    for facet, value, n in session.execute(sa.union_all(*parts, version)):
        if facet == "":
            count = n
        elif facet == _PAGE:
            ranked.append((n, value))
        elif facet == _TOKEN:
            versions.append((n, value))
        else:
            counted[facet].append((value, n))
    token = cache.token_of(versions)
    page_ids = [value for _n, value in sorted(ranked)] if terms else None
    facets = _facets(session, counted, limit=limit, mincount=mincount, lang=lang)
    return (count or 0, facets, page_ids), token


def facet_title(name: str, lang: str = "zh") -> str:
    """A facet's display title, from the metadata profile's labels where it has them."""
    properties = load_schema("metadata", "dataset", 1)["properties"]
    labels = properties.get(name, {}).get("x-labels") or _FACET_TITLES.get(name, {})
    return labels.get(lang, name)
