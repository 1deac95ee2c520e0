"""Turn a parsed q or fq (:mod:`catalog.search.query`) into SQLAlchemy conditions on datasets.

Each field's meaning follows CKAN's Solr schema: ``name``, ``tags``, ``organization``,
``res_format``, ``res_url``, ``groups``, ``license_id`` and the profile's code fields are exact strings
(``prefix*`` allowed); ``title``, ``notes``, ``res_name``, ``res_description`` and ``text`` (the
default) are analysed text; ``metadata_modified``/``metadata_created`` are dates and
``num_resources``/``num_tags`` numbers (ranges allowed). Text goes through the same Chinese
analysis as the index (:mod:`catalog.search.text`) and reaches the database only as bound
parameters: an FTS5 MATCH / tsquery made of word-character tokens, or a LIKE pattern.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Optional

import sqlalchemy as sa
from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from ..datasets.models import Dataset, Resource, Tag, dataset_tag
from ..departments.models import Department
from ..groups.models import DatasetGroup
from . import index, text
from .query import And, Exists, MatchAll, Node, Not, Or, QuerySyntaxError, Range, Term

#: Analysed text fields -> the index column they are matched in (None: title and body).
TEXT_FIELDS = {"text": None, "title": "title", "notes": "body", "res_name": None, "res_description": None}
#: Exact string fields stored in a dataset column.
COLUMN_FIELDS = {
    "name": Dataset.name, "id": Dataset.id, "license_id": Dataset.license_id, "state": Dataset.state,
    "share_type": Dataset.share_type, "update_cycle": Dataset.update_cycle,
    "open_type": Dataset.open_type, "category": Dataset.category, "resource_code": Dataset.resource_code,
    "owner_org": Dataset.owner_org, "type": Dataset.type, "dataset_type": Dataset.type,
    "version": Dataset.version, "author": Dataset.author, "maintainer": Dataset.maintainer,
    "url": Dataset.url,
}
DATE_FIELDS = {"metadata_modified": Dataset.metadata_modified, "metadata_created": Dataset.metadata_created}
# Written on the tables, not the mapped classes: a shared statement that names a mapped attribute is changed by
# its first ORM compilation (SQLAlchemy's plugin options), which changed the statement key of every search that
# sorts on it once per process, so that the search's kept hits (catalog.search.delta) were not found again.
_DATASET, _RESOURCE = Dataset.__table__, Resource.__table__
NUM_RESOURCES = (sa.select(sa.func.count()).select_from(_RESOURCE)
                 .where(_RESOURCE.c.package_id == _DATASET.c.id).correlate(_DATASET).scalar_subquery())
NUM_TAGS = (sa.select(sa.func.count()).select_from(dataset_tag)
            .where(dataset_tag.c.dataset_id == _DATASET.c.id).correlate(_DATASET).scalar_subquery())
COUNT_FIELDS = {"num_resources": NUM_RESOURCES, "num_tags": NUM_TAGS}
SPECIAL_FIELDS = ("organization", "tags", "res_format", "res_url", "capacity", "groups", "extras_*")
#: Every field q and fq know (``extras_*`` stands for any ``extras_<key>``).
QUERY_FIELDS = frozenset(TEXT_FIELDS) | frozenset(COLUMN_FIELDS) | frozenset(DATE_FIELDS) \
    | frozenset(COUNT_FIELDS) | frozenset(SPECIAL_FIELDS)

_DATE = re.compile(r"^(NOW|\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
                   r"(?:Z|[+-]\d{2}:?\d{2})?)((?:[+-]\d+[A-Z]+|/[A-Z]+)*)$", re.IGNORECASE)
_MATH = re.compile(r"([+-])(\d+)([A-Z]+)|/([A-Z]+)", re.IGNORECASE)
_UNITS = {"YEAR": "years", "MONTH": "months", "DAY": "days", "DATE": "days", "HOUR": "hours",
          "MINUTE": "minutes", "SECOND": "seconds", "MILLI": "microseconds", "MILLISECOND": "microseconds"}
_ROUND = {"years": dict(month=1, day=1, hour=0, minute=0, second=0, microsecond=0),
          "months": dict(day=1, hour=0, minute=0, second=0, microsecond=0),
          "days": dict(hour=0, minute=0, second=0, microsecond=0),
          "hours": dict(minute=0, second=0, microsecond=0), "minutes": dict(second=0, microsecond=0),
          "seconds": dict(microsecond=0), "microseconds": {}}


def _error(node, message: str) -> QuerySyntaxError:
    position = getattr(node, "position", None)
    where = f" at position {position}" if position is not None else ""
    return QuerySyntaxError(f"{message}{where}", position)


def _unit(name: str, node) -> str:
    unit = name.upper()
    unit = unit[:-1] if unit.endswith("S") and unit[:-1] in _UNITS else unit
    if unit not in _UNITS:
        raise _error(node, f"unknown date unit {name!r} (YEAR, MONTH, DAY, HOUR, MINUTE, SECOND)")
    return _UNITS[unit]


def parse_date(value: str, now: dt.datetime, node=None) -> dt.datetime:
    """A Solr date (``2026-01-01T00:00:00Z``, a date, ``NOW``) with date math (``-1DAY``, ``/DAY``)."""
    match = _DATE.match(value.strip())
    if not match:
        raise _error(node, f"{value!r} is not a date (2026-01-01T00:00:00Z, NOW-1DAY, ...)")
    anchor, math = match.groups()
    if anchor.upper() == "NOW":
        moment = now
    else:
        try:
            moment = dt.datetime.fromisoformat(anchor.replace(" ", "T"))
        except ValueError:
            raise _error(node, f"{value!r} is not a valid date") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
    for sign, amount, unit, rounding in _MATH.findall(math):
        if rounding:
            moment = moment.replace(**_ROUND[_unit(rounding, node)])
        else:
            step = relativedelta(**{_unit(unit, node): int(amount)})
            moment = moment + step if sign == "+" else moment - step
    return moment.astimezone(dt.timezone.utc)


def _present(column) -> sa.ColumnElement:
    return sa.and_(column.is_not(None), column != "")


def _equal(column, value: str) -> sa.ColumnElement:
    """``column = value`` that is false (never NULL) where the column is empty, so NOT inverts it."""
    return sa.and_(column.is_not(None), column == value)


def _starts(column, value: str) -> sa.ColumnElement:
    return sa.and_(column.is_not(None), column.startswith(value, autoescape=True))


def _contains(column, value: str) -> sa.ColumnElement:
    return sa.and_(column.is_not(None), sa.func.lower(column).contains(value, autoescape=True))


def _datasets(select) -> sa.ColumnElement:
    return Dataset.id.in_(select)


class ConditionBuilder:
    """Compile query trees to conditions; collects the words that rank the results."""

    def __init__(self, session: Session, *, now: Optional[dt.datetime] = None):
        self.session = session
        self.now = now or dt.datetime.now(dt.timezone.utc)
        #: index tokens of the default-field words not under NOT: the ones that score a title match
        self.score_terms: list[str] = []
        #: whether a date is relative to ``now`` (NOW-1YEAR): the query means something else each request
        self.uses_now = False

    def date(self, value: str, node) -> dt.datetime:
        """A Solr date (see :func:`parse_date`), noting whether it reads the clock."""
        if value.strip().upper().startswith("NOW"):
            self.uses_now = True
        return parse_date(value, self.now, node)

    def condition(self, node: Node, *, negated: bool = False) -> sa.ColumnElement:
        """The SQL condition that is true for the datasets ``node`` matches."""
        if isinstance(node, MatchAll):
            return sa.true()
        if isinstance(node, And):
            return sa.and_(*(self.condition(item, negated=negated) for item in node.items))
        if isinstance(node, Or):
            return sa.or_(*(self.condition(item, negated=negated) for item in node.items))
        if isinstance(node, Not):
            return sa.not_(self.condition(node.item, negated=not negated))
        if isinstance(node, Exists):
            return self.exists(node)
        if isinstance(node, Range):
            return self.range(node)
        return self.term(node, negated=negated)

    # -- words --------------------------------------------------------------------------------
    def term(self, node: Term, *, negated: bool) -> sa.ColumnElement:
        field = node.field or "text"
        if field in TEXT_FIELDS:
            return self.text(node, field, negated=negated)
        value = node.text
        if field in DATE_FIELDS:
            if node.prefix:
                raise _error(node, f"{field} takes a date or a range, not a prefix")
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):  # a whole day
                start = self.date(value, node)
                return self._between(DATE_FIELDS[field], start, start + dt.timedelta(days=1), True, False)
            return DATE_FIELDS[field] == self.date(value, node)
        if field in COUNT_FIELDS:
            return COUNT_FIELDS[field] == self._number(node, value, field)
        match = _starts if node.prefix else _equal
        if field in COLUMN_FIELDS:
            return match(COLUMN_FIELDS[field], value)
        if field == "organization":
            return Dataset.owner_org.in_(sa.select(Department.id).where(sa.or_(
                match(Department.name, value), match(Department.id, value))))
        if field == "tags":
            return _datasets(sa.select(dataset_tag.c.dataset_id).join(Tag, Tag.id == dataset_tag.c.tag_id)
                             .where(match(Tag.name, value)))
        if field == "res_format":
            return _datasets(sa.select(Resource.package_id).where(
                match(sa.func.upper(Resource.format), value.upper())))
        if field == "res_url":
            return _datasets(sa.select(Resource.package_id).where(match(Resource.url, value)))
        if field == "groups":
            return _datasets(sa.select(DatasetGroup.dataset_id).where(match(DatasetGroup.group_name, value)))
        if field == "capacity":
            if node.prefix or value.lower() not in ("public", "private"):
                raise _error(node, "capacity must be public or private")
            return Dataset.private.is_(value.lower() == "private")
        return match(self._extra(field), value)

    def text(self, node: Term, field: str, *, negated: bool) -> sa.ColumnElement:
        """Analysed words (or a phrase) in a text field; every word is required."""
        terms = index.safe_terms(text.query_terms(node.text))
        if not terms:
            if field == "text" and not node.phrase:
                return sa.true()  # punctuation only: no word to look for, as a blank q
            raise _error(node, f"no word to search for in {node.text!r}")
        # A phrase is looked for as typed and as the index folds it (simplified script, NFKC, lower
        # case), since the stored title, abstract and tags are not folded.
        phrases = list(dict.fromkeys([" ".join(text.normalize(node.text).split()),
                                      " ".join(node.text.lower().split())])) if node.phrase else []

        def has_phrase(column) -> sa.ColumnElement:
            return sa.or_(*(_contains(column, p) for p in phrases))

        if field in ("res_name", "res_description"):
            column = Resource.name if field == "res_name" else Resource.description
            checks = [has_phrase(column)] if phrases else [_contains(column, t) for t in terms]
            return _datasets(sa.select(Resource.package_id).where(*checks))
        if field == "text" and not negated and not node.prefix:
            self.score_terms.extend(t for t in terms if t not in self.score_terms)
        condition = _datasets(index.matching_ids(self.session, terms, column=TEXT_FIELDS[field],
                                                 prefix=node.prefix))
        checks = []
        if field == "notes":  # the body column also holds tags, department and codes
            checks = [has_phrase(Dataset.notes)] if phrases else \
                [_contains(Dataset.notes, t) for t in (terms[:-1] if node.prefix else terms)]
        elif phrases and field == "title":
            checks = [has_phrase(Dataset.title)]
        elif phrases:
            checks = [sa.or_(has_phrase(Dataset.title), has_phrase(Dataset.notes),
                             _datasets(sa.select(dataset_tag.c.dataset_id)
                                       .join(Tag, Tag.id == dataset_tag.c.tag_id).where(has_phrase(Tag.name))))]
        return sa.and_(condition, *checks)

    # -- presence and ranges ------------------------------------------------------------------
    def exists(self, node: Exists) -> sa.ColumnElement:
        field = node.field
        if field in ("text", "organization") or field in DATE_FIELDS or field in COUNT_FIELDS:
            return sa.true()  # every dataset has these
        if field in ("title", "notes"):
            return _present(Dataset.title if field == "title" else Dataset.notes)
        if field in ("res_name", "res_description", "res_format", "res_url"):
            column = {"res_name": Resource.name, "res_description": Resource.description,
                      "res_format": Resource.format, "res_url": Resource.url}[field]
            return _datasets(sa.select(Resource.package_id).where(_present(column)))
        if field in COLUMN_FIELDS:
            return _present(COLUMN_FIELDS[field])
        if field == "tags":
            return _datasets(sa.select(dataset_tag.c.dataset_id))
        if field == "groups":
            return _datasets(sa.select(DatasetGroup.dataset_id))
        if field == "capacity":
            return sa.true()
        return _present(self._extra(field))

    def range(self, node: Range) -> sa.ColumnElement:
        field = node.field
        if field in DATE_FIELDS:
            low, high = (None if v is None else self.date(v, node) for v in (node.low, node.high))
            return self._between(DATE_FIELDS[field], low, high, node.include_low, node.include_high)
        if field in COUNT_FIELDS:
            low, high = (None if v is None else self._number(node, v, field) for v in (node.low, node.high))
            return self._between(COUNT_FIELDS[field], low, high, node.include_low, node.include_high)
        if field in COLUMN_FIELDS:
            column = COLUMN_FIELDS[field]
            return sa.and_(column.is_not(None),
                           self._between(column, node.low, node.high, node.include_low, node.include_high))
        raise _error(node, f"ranges on {field!r} are not supported (only on dates, num_resources, "
                           f"num_tags and code fields)")

    @staticmethod
    def _between(column, low, high, include_low: bool, include_high: bool) -> sa.ColumnElement:
        parts = []
        if low is not None:
            parts.append(column >= low if include_low else column > low)
        if high is not None:
            parts.append(column <= high if include_high else column < high)
        return sa.and_(sa.true(), *parts)

    @staticmethod
    def _number(node, value: str, field: str) -> int:
        if not re.fullmatch(r"\d{1,9}", value):
            raise _error(node, f"{field} takes a whole number, not {value!r}")
        return int(value)

    @staticmethod
    def _extra(field: str):
        """The text value of ``extras[key]`` for an ``extras_<key>`` field (the key is a bound path)."""
        return Dataset.extras[field[len("extras_"):]].as_string()


def required_terms(node: Optional[Node]) -> list[str]:
    """Index tokens of the plain default-field words every hit must contain (the top-level AND)."""
    items = node.items if isinstance(node, And) else (node,) if node is not None else ()
    out: list[str] = []
    for item in items:
        if isinstance(item, Term) and item.field is None and not item.phrase and not item.prefix:
            out.extend(t for t in index.safe_terms(text.query_terms(item.text)) if t not in out)
    return out


def only_words(node: Optional[Node]) -> bool:
    """True when the query is nothing but plain default-field words (today's ranked search)."""
    items = node.items if isinstance(node, And) else (node,) if node is not None else ()
    return bool(items) and all(isinstance(i, Term) and i.field is None and not i.phrase and not i.prefix
                               for i in items)

