"""CKAN's lookups over the published catalog: tags, autocompletion, resource search, relationships.

Like ``package_list`` and ``tag_list`` they read public, published datasets only, whoever asks: a private or
draft dataset's name, tags, formats and resources never show through them (its department finds it with
``package_search``).
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..errors import NotFound, ValidationError
from .models import Dataset, Resource, Tag, dataset_tag

#: The resource fields resource_search matches on (``field:term``), as CKAN's resource columns.
RESOURCE_SEARCH_FIELDS = ("name", "description", "format", "url", "mimetype", "hash", "url_type", "id",
                          "package_id")
#: CKAN's relationship types; ours come from 关联资源代码 (related_codes), so only links_to / linked_from occur.
RELATIONSHIP_TYPES = ("depends_on", "dependency_of", "derives_from", "has_derivation", "links_to", "linked_from",
                      "child_of", "parent_of")


def _published():
    return sa.and_(Dataset.state == "active", Dataset.private.is_(False))


def _contains(column, text: str):
    # autoescape: a "_" or "%" typed by the caller is a character to find, not a LIKE wildcard.
    return sa.func.lower(column).contains(text.lower(), autoescape=True)


def show_tag(session: Session, name_or_id: str) -> Tag:
    """A tag used by a published dataset, or :class:`NotFound` (a tag only private datasets use is unknown)."""
    tag = session.scalar(sa.select(Tag).where(sa.or_(Tag.name == name_or_id, Tag.id == name_or_id)).where(
        Tag.id.in_(sa.select(dataset_tag.c.tag_id).join(Dataset, Dataset.id == dataset_tag.c.dataset_id)
                   .where(_published()))))
    if tag is None:
        raise NotFound(f"Tag not found: {name_or_id}")
    return tag


def tag_datasets(session: Session, tag: Tag, *, limit: int = 1000) -> list[Dataset]:
    """The published datasets carrying a tag, by name."""
    return list(session.scalars(sa.select(Dataset).join(dataset_tag, dataset_tag.c.dataset_id == Dataset.id)
                                .where(dataset_tag.c.tag_id == tag.id, _published())
                                .order_by(Dataset.name).limit(limit)))


def autocomplete_datasets(session: Session, q: str, *, limit: int) -> list[dict[str, Any]]:
    """Published datasets whose name or title contains ``q``, as CKAN's package_autocomplete answers."""
    rows = session.execute(sa.select(Dataset.name, Dataset.title).where(
        _published(), sa.or_(_contains(Dataset.name, q), _contains(Dataset.title, q)))
        .order_by(Dataset.name).limit(limit))
    result = []
    for name, title in rows:
        if q.lower() in name.lower():
            result.append({"name": name, "title": title, "match_field": "name", "match_displayed": name})
        else:
            result.append({"name": name, "title": title, "match_field": "title",
                           "match_displayed": f"{title} ({name})"})
    return result


def autocomplete_formats(session: Session, q: str, *, limit: int) -> list[str]:
    """Resource formats of published datasets containing ``q``, the most used first (lower case, as CKAN)."""
    fmt = sa.func.lower(sa.func.trim(Resource.format))
    rows = session.execute(sa.select(fmt, sa.func.count()).join(Dataset, Dataset.id == Resource.package_id)
                           .where(_published(), Resource.format.is_not(None), fmt != "", _contains(Resource.format, q))
                           .group_by(fmt).order_by(sa.func.count().desc(), fmt).limit(limit))
    return [value for value, _count in rows]


def autocomplete_tags(session: Session, q: str, *, limit: int, offset: int = 0) -> list[str]:
    """Names of tags of published datasets containing ``q``."""
    used = sa.select(dataset_tag.c.tag_id).join(Dataset, Dataset.id == dataset_tag.c.dataset_id).where(_published())
    return list(session.scalars(sa.select(Tag.name).where(Tag.id.in_(used), _contains(Tag.name, q))
                                .order_by(Tag.name).offset(offset).limit(limit)))


def current_datasets(session: Session, *, offset: int, limit: int) -> list[Dataset]:
    """Published datasets, the last changed first (CKAN's current_package_list_with_resources)."""
    return list(session.scalars(sa.select(Dataset).where(_published())
                                .order_by(Dataset.metadata_modified.desc(), Dataset.id).offset(offset).limit(limit)))


def parse_resource_query(query: list[str]) -> list[tuple[str, str]]:
    """``["format:csv", "name:户籍"]`` as (field, term) pairs; an unknown field or a term-less part is a 409."""
    terms = []
    for index, part in enumerate(query):
        field, sep, term = part.partition(":")
        field = field.strip()
        where = "query" if len(query) == 1 else f"query.{index}"
        if not sep or not term.strip():
            raise ValidationError.single(where, f"must be field:term, got {part!r}")
        if field not in RESOURCE_SEARCH_FIELDS:
            raise ValidationError.single(where, f'Field "{field}" not recognised in resource_search; fields: '
                                         + ", ".join(RESOURCE_SEARCH_FIELDS))
        terms.append((field, term.strip()))
    return terms


def search_resources(session: Session, terms: list[tuple[str, str]], *, order_by: str | None, offset: int,
                     limit: int) -> tuple[int, list[Resource]]:
    """Resources of published datasets matching every term: ``hash`` by prefix, ids exactly, the rest by
    case-insensitive substring, as CKAN's resource_search."""
    query = sa.select(Resource).join(Dataset, Dataset.id == Resource.package_id).where(_published())
    for field, term in terms:
        column = getattr(Resource, field)
        if field == "hash":
            query = query.where(sa.func.lower(column).startswith(term.lower(), autoescape=True))
        elif field in ("id", "package_id"):
            query = query.where(column == term)
        else:
            query = query.where(_contains(column, term))
    count = session.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    if order_by is not None and order_by not in RESOURCE_SEARCH_FIELDS + ("created", "position"):
        raise ValidationError.single("order_by", f"cannot order by {order_by}")
    order = getattr(Resource, order_by) if order_by else Resource.created
    rows = session.scalars(query.order_by(order, Resource.id).offset(offset).limit(limit))
    return count or 0, list(rows)


def relationships(session: Session, dataset: Dataset, *, other: Dataset | None = None,
                  rel: str | None = None) -> list[dict[str, Any]]:
    """The dataset's links to published datasets through 关联资源代码, both ways, as CKAN relationships."""
    if rel is not None and rel not in RELATIONSHIP_TYPES:
        raise ValidationError.single("rel", "must be one of: " + ", ".join(RELATIONSHIP_TYPES))
    found: list[dict[str, Any]] = []
    codes = [c for c in (dataset.related_codes or []) if isinstance(c, str)]
    if codes and rel in (None, "links_to"):
        for target in session.scalars(sa.select(Dataset).where(Dataset.resource_code.in_(codes), _published())
                                      .order_by(Dataset.name)):
            found.append({"subject": dataset.name, "object": target.name, "type": "links_to",
                          "comment": f"关联资源代码 {target.resource_code}"})
    if dataset.resource_code and rel in (None, "linked_from"):
        candidates = session.scalars(sa.select(Dataset).where(_published(), Dataset.id != dataset.id,
                                                              Dataset.related_codes.is_not(None))
                                     .order_by(Dataset.name))
        for source in candidates:
            if dataset.resource_code in (source.related_codes or []):
                found.append({"subject": dataset.name, "object": source.name, "type": "linked_from",
                              "comment": f"关联资源代码 {dataset.resource_code}"})
    if other is not None:
        found = [r for r in found if r["object"] == other.name]
    return found
