"""A batch mapped, validated and encoded column by column (polars), for the mappings and schemas that
allow it; every row it cannot vouch for goes the per-row way (:func:`connectors.engine.transform_rows`).

The per-row path maps each row in Python (:meth:`connectors.mapping.Mapping.apply_json`), validates the
record (:class:`schemas.validation.RecordValidator`) and encodes it (the target's ``prepare``: the
DataStore's canonical JSON and content hash). :class:`ColumnarPlan` does the same for a whole batch:

* trimming, dropping empty cells, renaming and splitting member lists are column expressions;
* each field's coercion steps (t2s, value maps, booleans, dates…) are the mapping's own functions, run
  once per *distinct* value of the batch; date-times in the common ``YYYY-MM-DD hh:mm:ss`` shapes (nearly
  every value distinct) are rebuilt as column expressions, the other shapes by the mapping's function;
* the schema's checks are column expressions (type, required, lengths, enum, item counts, the
  ``if working_away then work_place`` form, the resident ID with its birth date and check digit, mobile,
  division code, household number, date-time), or the schema's own compiled validator of that field
  once per distinct value (patterns, other formats);
* the record's canonical JSON (keys sorted, no spaces, non-ASCII kept) is concatenated column-wise.

Exact by construction, or not at all: a row is accepted only when every check is at least as strict
as the per-row path's (a resident ID born within the last two days, a text with a space inside a
member list, a value JSON would escape, a coercion that failed: all flagged), and then its record,
canonical JSON and content hash are the per-row path's. A flagged row is mapped, validated and encoded
by the per-row path, so its errors and quarantine reasons are exactly today's. :meth:`ColumnarPlan.compile`
returns None (the run keeps the per-row path) for any mapping feature or schema keyword it does not
express: dotted rename targets, constants, defaults, computed fields, kept unmapped columns, fields
typed other than string or boolean (integers, numbers), ``$ref``, ``oneOf``… (A step whose result is
not the field's type, such as ``integers`` on a text field, only flags the rows where it happens.)

polars runs its own thread pool, which a forked process does not inherit in working order: the plan is
only run in a transform worker (:func:`connectors.engine._transform_in_worker`), never in the process
that forks them. ``CATALOG_SYNC_COLUMNAR=0`` turns it off.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import polars as pl

from schemas.validation import RecordValidator

from . import coerce
from .mapping import Mapping

__all__ = ["ColumnarPlan", "enabled"]

#: the row's position in the batch, and other helper columns (no field of a plan starts with "\x00")
_ROW, _FLAG, _ITEM, _PARTS, _OBJECT, _COUNT = "\x00row", "\x00flag", "\x00item", "\x00parts", "\x00object", "\x00count"

#: what Python's str.strip() takes that is ASCII (``\x1c``–``\x1f`` are left for the flag below)
_ASCII_SPACE = " \t\n\r\x0b\x0c"
#: a trimmed text still starting or ending with something the per-row trim would take: Unicode white
#: space (Rust's \s; Python's str.isspace adds \x1c-\x1f), BOM, zero-width space
_EDGE = r"^[\s\x1c-\x1f\ufeff\u200b]|[\s\x1c-\x1f\ufeff\u200b]$"
_TRIMMABLE = r"[\s\x1c-\x1f\ufeff\u200b]"
_BLANK = r"^[\s\x1c-\x1f]*$"
#: what json.dumps(ensure_ascii=False) escapes in a string
_ESCAPED = r'["\\\x00-\x1f]'
#: annotations a plan ignores in a schema node
_ANNOTATIONS = {"title", "description", "$comment", "examples", "default", "$schema", "$id", "deprecated",
                "readOnly", "writeOnly"}
_LEAF_KEYWORDS = {"type", "minLength", "maxLength", "enum", "format", "pattern"}
#: formats checked as column expressions (others: the field's own validator per distinct value)
_COLUMN_FORMATS = {"cn-resident-id", "cn-mobile", "cn-division-code", "cn-household-number", "date-time"}
#: a common date-time shape to_datetime reads as these digits (other shapes: to_datetime itself)
_PLAIN_DATE_TIME = r"^[0-9]{4}[-/.][0-9]{2}[-/.][0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}$"


def enabled() -> bool:
    """Whether runs may use a columnar plan (``CATALOG_SYNC_COLUMNAR``, default on)."""
    return os.environ.get("CATALOG_SYNC_COLUMNAR", "1").strip() not in ("0", "false", "no", "off")


class _Unsupported(Exception):
    """Something the plan cannot express exactly."""


@dataclass
class _Leaf:
    """One field the mapping fills from one text (a column, or a part of a member list item)."""

    name: str  # the record's key
    chain: list[Callable[[Any], Any]]  # the mapping's steps of that field, in order
    kind: str  # "string" or "boolean": the schema's type
    min_length: int | None = None
    max_length: int | None = None
    enum: list[str] | None = None
    formats: list[str] = field(default_factory=list)  # checked as column expressions
    checker: RecordValidator | None = None  # the field's schema, for what is checked per distinct value
    zone: str | None = None  # a plain to_datetime step: the offset text its results end with


@dataclass
class _Split:
    name: str
    leaves: list[_Leaf]  # in the split's field order
    items: tuple[str, ...]
    parts: tuple[str, ...]
    min_items: int | None
    max_items: int | None
    required: list[str]
    conditions: list[tuple[str, str]]  # (boolean field, field required when it is true)


class ColumnarPlan:
    """The column-wise form of one mapping and one record schema (see the module's docstring)."""

    def __init__(self, columns: list[tuple[str, str]], leaves: dict[str, _Leaf], split: _Split | None,
                 required: list[str]):
        self.columns = columns  # (source column, record key)
        self.leaves = leaves  # top-level leaves by key (not the split)
        self.split = split
        self.required = required
        self.keys = sorted(name for _column, name in columns)  # canonical JSON: keys sorted

    # --- compiling -------------------------------------------------------------------------------

    @classmethod
    def compile(cls, mapping: Mapping | None, schema: dict[str, Any] | None) -> "ColumnarPlan | None":
        """The plan of ``mapping`` and ``schema``, or None when either holds something it cannot express."""
        if mapping is None or not isinstance(schema, dict):
            return None
        try:
            return cls._compile(mapping, schema)
        except _Unsupported:
            return None

    @classmethod
    def _compile(cls, mapping: Mapping, schema: dict[str, Any]) -> "ColumnarPlan":
        if (not mapping.rename or mapping.unmapped != "drop" or not mapping.trim or not mapping.drop_empty
                or mapping.constants or mapping.defaults or mapping.computed or mapping._tree is None):
            raise _Unsupported("mapping")
        targets = list(mapping.rename.values())
        if len(set(targets)) != len(targets) or any(not _plain_name(t) for t in targets) \
                or any(not isinstance(c, str) for c in mapping.rename):
            raise _Unsupported("rename")
        _object_node(schema, top=True)
        properties = schema.get("properties", {})
        if len(mapping.split) > 1:
            raise _Unsupported("split")
        chains: dict[str, list[Callable[[Any], Any]]] = {}
        for path, _keyword, function in mapping.steps:
            chains.setdefault(path, []).append(function)
        split = None
        for name, rule in mapping.split.items():
            if name not in targets or rule.item_characters is None or rule.field_characters is None:
                raise _Unsupported("split")
            node = properties.get(name)
            split = _compile_split(name, rule, node, chains)
        leaves = {}
        for name in targets:
            if name not in properties:
                raise _Unsupported(f"{name}: not in the schema")
            if split is not None and name == split.name:
                continue
            leaves[name] = _leaf(name, properties[name], chains.pop(name, []))
        if split is not None:
            for item in split.leaves:
                chains.pop(f"{split.name}.*.{item.name}", None)
        if chains:  # a step on a path the plan does not fill
            raise _Unsupported("steps")
        required = list(schema.get("required", []))
        if any(name not in targets for name in required):
            raise _Unsupported("required field not mapped")  # always invalid: let the per-row path say so
        return cls(list(mapping.rename.items()), leaves, split, required)

    # --- running ---------------------------------------------------------------------------------

    def run(self, datas: list[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str] | None]:
        """For each row: (record, canonical JSON, content hash) when the plan vouches for it, else None."""
        count = len(datas)
        if not count:
            return []
        strange = [False] * count  # a value that is not text: the per-row path
        columns: dict[str, list[Any]] = {}
        for column, name in self.columns:
            values = [data.get(column) for data in datas]
            for index, value in enumerate(values):
                if value is not None and type(value) is not str:  # noqa: E721
                    strange[index], values[index] = True, None
            columns[name] = values
        frame = pl.DataFrame(columns, schema={name: pl.String for name in columns})
        frame = frame.with_columns(pl.Series(_FLAG, strange, dtype=pl.Boolean), pl.int_range(count).alias(_ROW))
        flag = pl.col(_FLAG)
        trimmed = []
        for _column, name in self.columns:
            text = pl.col(name).str.strip_chars(_ASCII_SPACE)
            flag = flag | text.str.contains(_EDGE).fill_null(False)
            trimmed.append(pl.when(text != "").then(text).alias(name))
        frame = frame.with_columns(*trimmed, flag.alias(_FLAG))
        # the member list: one line per item, each field checked and written as JSON, then per row again
        if self.split is not None:
            frame = frame.join(self._items(frame), on=_ROW, how="left")
        frame = self._map(frame, list(self.leaves.values()))
        checks = pl.col(_FLAG)
        for leaf in self.leaves.values():
            checks = checks | ~_valid(leaf)
        for name in self.required:
            checks = checks | pl.col(name if name in self.leaves else _COUNT).is_null()
        pieces = []
        for name in self.keys:
            if self.split is not None and name == self.split.name:
                split = self.split
                if split.min_items is not None:
                    checks = checks | (pl.col(_COUNT) < split.min_items).fill_null(False)
                if split.max_items is not None:
                    checks = checks | (pl.col(_COUNT) > split.max_items).fill_null(False)
                checks = checks | pl.col(_ITEM).fill_null(False)
                # a member list of separators only: [] per row, none here
                checks = checks | (pl.col(name).is_not_null() & pl.col(_COUNT).is_null())
                pieces.append(pl.when(pl.col(_COUNT).is_not_null()).then(
                    pl.lit(f'{json.dumps(name, ensure_ascii=False)}:[') + pl.col(_OBJECT) + pl.lit("]")))
            else:
                pieces.append(_member(self.leaves[name]))
        text = pl.lit("{") + pl.concat_str(pieces, separator=",", ignore_nulls=True) + pl.lit("}")
        out = frame.select(checks.alias(_FLAG), text.alias(_OBJECT))
        results: list[tuple[dict[str, Any], str, str] | None] = []
        blake2b, loads = hashlib.blake2b, json.loads
        for flagged, record_text in zip(out.get_column(_FLAG).to_list(), out.get_column(_OBJECT).to_list()):
            if flagged or record_text is None:
                results.append(None)
            else:
                results.append((loads(record_text), record_text,
                                blake2b(record_text.encode(), digest_size=16).hexdigest()))
        return results

    def _items(self, frame: pl.DataFrame) -> pl.DataFrame:
        """Per row of ``frame`` with a member list: whether an item is flagged, the items' JSON, their number."""
        split = self.split
        cell = pl.col(split.name)
        for other in split.items[1:]:
            cell = cell.str.replace_all(other, split.items[0], literal=True)
        items = (frame.select(_ROW, cell.str.split(split.items[0]).alias(_ITEM))
                 .filter(pl.col(_ITEM).is_not_null()).explode(_ITEM)
                 .filter(~pl.col(_ITEM).str.contains(_BLANK)))  # a trailing separator: no item
        chunk = pl.col(_ITEM)
        parts = chunk
        for other in split.parts[1:]:
            parts = parts.str.replace_all(other, split.parts[0], literal=True)
        items = items.with_columns(parts.str.split(split.parts[0]).alias(_PARTS))
        items = items.with_columns(
            (chunk.str.contains(_TRIMMABLE) | (pl.col(_PARTS).list.len() > len(split.leaves))).alias(_FLAG),
            *[pl.col(_PARTS).list.get(index, null_on_oob=True).alias(leaf.name)
              for index, leaf in enumerate(split.leaves)])
        items = items.with_columns(*[pl.when(pl.col(leaf.name) != "").then(pl.col(leaf.name)).alias(leaf.name)
                                     for leaf in split.leaves])
        items = self._map(items, split.leaves)
        checks = pl.col(_FLAG)
        for leaf in split.leaves:
            checks = checks | ~_valid(leaf)
        for name in split.required:
            checks = checks | pl.col(name).is_null()
        for condition, needed in split.conditions:
            checks = checks | ((pl.col(condition) == "true") & pl.col(needed).is_null()).fill_null(False)
        by_name = {leaf.name: leaf for leaf in split.leaves}
        member = pl.lit("{") + pl.concat_str([_member(by_name[name]) for name in sorted(by_name)],
                                             separator=",", ignore_nulls=True) + pl.lit("}")
        return (items.select(_ROW, checks.alias(_ITEM), member.alias(_OBJECT))
                .group_by(_ROW).agg(pl.col(_ITEM).any(), pl.col(_OBJECT).str.join(","), pl.len().alias(_COUNT)))

    def _map(self, frame: pl.DataFrame, leaves: list[_Leaf]) -> pl.DataFrame:
        """Each leaf's column replaced by its mapped value as JSON text material (a text, or true/false
        for a boolean), and ``<name>\\x00ok``: whether the mapping's steps and their type fit the schema."""
        updates = []
        for leaf in leaves:
            column = pl.col(leaf.name)
            if not leaf.chain:
                updates.append((column.is_null() | pl.lit(leaf.kind == "string")).alias(leaf.name + "\x00ok"))
                continue
            if leaf.zone is not None:
                plain = column.str.contains(_PLAIN_DATE_TIME).fill_null(False)
                others = frame.filter(~plain.fill_null(False) & column.is_not_null()).get_column(leaf.name)
                mapped, good = _per_value(leaf, others.unique().to_list())
                rebuilt = (column.str.slice(0, 4) + "-" + column.str.slice(5, 2) + "-" + column.str.slice(8, 2)
                           + "T" + column.str.slice(11, 8) + pl.lit(leaf.zone))
                updates.append(pl.when(plain).then(rebuilt).otherwise(
                    column.replace_strict(mapped, default=None, return_dtype=pl.String)).alias(leaf.name))
                updates.append((column.is_null() | (plain & _real_date_time(column)).fill_null(False)
                                | column.is_in(_texts(good)).fill_null(False)).alias(leaf.name + "\x00ok"))
                continue
            mapped, good = _per_value(leaf, frame.get_column(leaf.name).drop_nulls().unique().to_list())
            updates.append(column.replace_strict(mapped, default=None, return_dtype=pl.String).alias(leaf.name))
            updates.append((column.is_null() | column.is_in(_texts(good)).fill_null(False))
                           .alias(leaf.name + "\x00ok"))
        if updates:
            frame = frame.with_columns(updates)
        checked = []
        for leaf in leaves:  # the field's own validator, once per distinct mapped value
            if leaf.checker is not None:
                values = frame.get_column(leaf.name).drop_nulls().unique().to_list()
                good = [value for value in values if leaf.checker.is_valid(value)]
                checked.append(pl.col(leaf.name).is_in(_texts(good)).alias(leaf.name + "\x00checked"))
        return frame.with_columns(checked) if checked else frame


def _plain_name(name: Any) -> bool:
    """A record key written as itself in JSON, and no helper column's name."""
    return (isinstance(name, str) and name != "" and "." not in name and not name.startswith("\x00")
            and json.dumps(name, ensure_ascii=False) == f'"{name}"')


def _object_node(node: Any, *, top: bool = False) -> None:
    """Refuse an object schema with keywords the plan does not check."""
    allowed = {"type", "properties", "required", "additionalProperties", "if", "then", "minProperties"} \
        | _ANNOTATIONS
    if not isinstance(node, dict) or node.get("type") != "object" or node.get("additionalProperties") is not False:
        raise _Unsupported("object")
    extra = {k for k in node if not k.startswith("x-")} - allowed
    if extra or "minProperties" in node or (top and ("if" in node or "then" in node)):
        raise _Unsupported(f"object keywords {sorted(extra)}")


def _leaf(name: str, node: Any, chain: list[Callable[[Any], Any]]) -> _Leaf:
    """A field's checks from its schema node (a text or a boolean)."""
    if not isinstance(node, dict) or node.get("type") not in ("string", "boolean"):
        raise _Unsupported(f"{name}: type")
    if {k for k in node if not k.startswith("x-")} - _LEAF_KEYWORDS - _ANNOTATIONS:
        raise _Unsupported(f"{name}: keywords")
    leaf = _Leaf(name, chain, node["type"])
    if node["type"] == "boolean":
        if set(node) & (_LEAF_KEYWORDS - {"type"}):
            raise _Unsupported(f"{name}: boolean keywords")
        return leaf
    leaf.min_length, leaf.max_length = node.get("minLength"), node.get("maxLength")
    for bound in (leaf.min_length, leaf.max_length):
        if bound is not None and (type(bound) is not int or bound < 0):  # noqa: E721
            raise _Unsupported(f"{name}: length")
    if "enum" in node:
        if not isinstance(node["enum"], list):
            raise _Unsupported(f"{name}: enum")
        leaf.enum = [value for value in node["enum"] if type(value) is str]  # noqa: E721
    rest = {}
    if "format" in node:
        if node["format"] in _COLUMN_FORMATS:
            leaf.formats.append(node["format"])
        else:
            rest["format"] = node["format"]
    if "pattern" in node:
        rest["pattern"] = node["pattern"]
    if rest:  # the field's own compiled schema, per distinct value
        leaf.checker = RecordValidator({"type": "string", **rest})
    if len(chain) == 1 and isinstance(chain[0], functools.partial) and chain[0].func is coerce.to_datetime \
            and not chain[0].args and set(chain[0].keywords) == {"zone"}:
        zone = chain[0].keywords["zone"]
        leaf.zone = dt.datetime(2000, 1, 1, tzinfo=zone).isoformat()[19:]
    return leaf


def _compile_split(name: str, rule: Any, node: Any, chains: dict[str, list[Callable[[Any], Any]]]) -> _Split:
    if chains.get(name):
        raise _Unsupported("steps on the split field")
    allowed = {"type", "items", "minItems", "maxItems"} | _ANNOTATIONS
    if not isinstance(node, dict) or node.get("type") != "array" \
            or {k for k in node if not k.startswith("x-")} - allowed:
        raise _Unsupported(f"{name}: array")
    items = node.get("items")
    _object_node(items)
    properties = items.get("properties", {})
    if len(set(rule.fields)) != len(rule.fields) or any(not _plain_name(f) or f not in properties
                                                       for f in rule.fields):
        raise _Unsupported(f"{name}: fields")
    leaves = [_leaf(f, properties[f], chains.get(f"{name}.*.{f}", [])) for f in rule.fields]
    conditions = []
    if "if" in items or "then" in items:
        condition, then = items.get("if"), items.get("then")
        # the one form the plan knows: {"if": {"properties": {A: {"const": true}}, "required": [A]},
        # "then": {"required": [B]}} with A a boolean field
        try:
            (flag_name, constant), = condition["properties"].items()
            (needed,) = then["required"]
            ok = (set(condition) == {"properties", "required"} and condition["required"] == [flag_name]
                  and constant == {"const": True} and set(then) == {"required"}
                  and any(leaf.name == flag_name and leaf.kind == "boolean" for leaf in leaves)
                  and needed in rule.fields)
        except (KeyError, TypeError, ValueError, AttributeError):
            ok = False
        if not ok:
            raise _Unsupported(f"{name}: if/then")
        conditions.append((flag_name, needed))
    required = list(items.get("required", []))
    if any(f not in rule.fields for f in required):
        raise _Unsupported(f"{name}: required")
    for bound in (node.get("minItems"), node.get("maxItems")):
        if bound is not None and (type(bound) is not int or bound < 0):  # noqa: E721
            raise _Unsupported(f"{name}: item counts")
    return _Split(name, leaves, rule.item_characters, rule.field_characters, node.get("minItems"),
                  node.get("maxItems"), required, conditions)


def _per_value(leaf: _Leaf, values: list[str]) -> tuple[dict[str, str], list[str]]:
    """The mapping's steps of ``leaf`` on each distinct value: {value: JSON text material} and the values
    whose result has the schema's type (a failed step, or another type: the row goes the per-row way)."""
    mapped: dict[str, str] = {}
    good: list[str] = []
    for value in values:
        result: Any = value
        try:
            for function in leaf.chain:
                result = function(result)
        except coerce.CoercionError:
            continue
        if leaf.kind == "boolean" and type(result) is bool:  # noqa: E721
            mapped[value] = "true" if result else "false"
        elif leaf.kind == "string" and type(result) is str:  # noqa: E721
            mapped[value] = result
        else:
            continue
        good.append(value)
    return mapped, good


def _texts(values: list[str]) -> pl.Expr:
    """``values`` as the one collection ``is_in`` looks in."""
    return pl.lit(pl.Series(values, dtype=pl.String)).implode()


def _valid(leaf: _Leaf) -> pl.Expr:
    """Whether a leaf's (mapped) value passes its schema checks; true where it is absent."""
    column = pl.col(leaf.name)
    ok = pl.lit(True)
    if leaf.kind == "string":
        ok = ~column.str.contains(_ESCAPED)
        length = column.str.len_chars()
        if leaf.min_length is not None:
            ok = ok & (length >= leaf.min_length)
        if leaf.max_length is not None:
            ok = ok & (length <= leaf.max_length)
        if leaf.enum is not None:
            ok = ok & column.is_in(_texts(leaf.enum))
        for name in leaf.formats:
            ok = ok & _FORMATS[name](column)
    if leaf.checker is not None:
        ok = ok & pl.col(leaf.name + "\x00checked")
    return pl.col(leaf.name + "\x00ok") & (column.is_null() | ok.fill_null(False))


def _member(leaf: _Leaf) -> pl.Expr:
    """``"name":value`` of a leaf, null where absent."""
    column = pl.col(leaf.name)
    key = json.dumps(leaf.name, ensure_ascii=False)
    if leaf.kind == "boolean":  # (text + null is null)
        return pl.lit(f"{key}:") + column
    return pl.lit(f'{key}:"') + column + pl.lit('"')


def _digits(column: pl.Expr, start: int, length: int) -> pl.Expr:
    return column.str.slice(start, length).cast(pl.Int32, strict=False)


def _real_date_time(column: pl.Expr) -> pl.Expr:
    """A plain ``YYYY?MM?DD?hh:mm:ss`` text that is a real moment (dt.datetime would take it)."""
    day = (column.str.slice(0, 4) + "-" + column.str.slice(5, 2) + "-" + column.str.slice(8, 2)) \
        .str.strptime(pl.Date, "%Y-%m-%d", strict=False)
    return (day.is_not_null() & (_digits(column, 0, 4) >= 1) & (_digits(column, 11, 2) <= 23)
            & (_digits(column, 14, 2) <= 59) & (_digits(column, 17, 2) <= 59))


def _resident_id(column: pl.Expr) -> pl.Expr:
    """GB 11643 (:func:`schemas.formats.check_resident_id`), stricter on the birth date: before the day
    before yesterday (the per-row check asks the local date only near today)."""
    # as schemas.formats does: the weighted sum is, mod 11, twice the 17 digits read in base 13 (one
    # parse instead of 17; 13**17 < 2**63)
    first17 = column.str.slice(0, 17).str.to_integer(base=13, strict=False).cast(pl.Int64)
    expected = (first17 % 11) * 2 % 11  # the position of the check character in "10X98765432"
    last = column.str.slice(17, 1)
    digit = last.cast(pl.Int64, strict=False)
    # the position of the row's own last character in it: X is 2, 1 and 0 are 0 and 1, d >= 2 is 12 - d
    given = pl.when(last == "X").then(2).when(digit <= 1).then(1 - digit).otherwise(12 - digit)
    birth = column.str.slice(6, 8).str.strptime(pl.Date, "%Y%m%d", strict=False)
    latest = dt.date.today() - dt.timedelta(days=2)
    return (column.str.contains(r"^[0-9]{17}[0-9X]$") & birth.is_not_null() & (birth.dt.year() >= 1900)
            & (birth <= latest) & (given == expected))


def _division(column: pl.Expr) -> pl.Expr:
    """:func:`schemas.formats.check_division_code`."""
    twelve = column.str.len_bytes() == 12
    return (column.str.contains(r"^[0-9]{6}([0-9]{6})?$") & (column.str.slice(0, 2) != "00")
            & (~twelve | (column.str.slice(6, 3) <= "599")))


def _date_time(column: pl.Expr) -> pl.Expr:
    """:func:`schemas.formats.check_date_time`, without fractions or lower-case T and Z (stricter)."""
    shape = column.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$")
    offset = (column.str.len_bytes() == 20) | ((_digits(column, 20, 2) <= 23) & (_digits(column, 23, 2) <= 59))
    return shape & _real_date_time(column) & offset


_FORMATS: dict[str, Callable[[pl.Expr], pl.Expr]] = {
    "cn-resident-id": _resident_id,
    "cn-mobile": lambda column: column.str.contains(r"^1[3-9][0-9]{9}$"),
    "cn-division-code": _division,
    "cn-household-number": lambda column: (column.str.contains(r"^[0-9]{18}$")
                                           & _division(column.str.slice(0, 12))),
    "date-time": _date_time,
}
