"""Declarative mapping of a source row onto a record of a schema.

A mapping is data (JSON/YAML in a sync job), for example::

    {"rename": {"户编号": "household_number", "户主姓名": "head_name", "家庭成员": "members",
                "申请人": "applicant.name"},
     "constants": {"applicant.type": "person"},
     "split": {"members": {"fields": ["name", "id_number", "sex", "relation"]}},
     "value_maps": {"members.*.sex": {"男": "1", "女": "2"}},
     "dates": ["last_visit_date"], "datetimes": ["updated_at"], "integers": ["promised_days"],
     "booleans": ["members.*.working_away"], "t2s": ["head_name", "members.*.name"]}

Field paths are dotted (``applicant.name``); ``*`` stands for every item of a list
(``members.*.sex``). The steps run in this order for every row:

1. trim text (``trim``, default on) and drop empty strings and nulls (``drop_empty``, default on);
2. ``rename`` source columns to field paths (unlisted columns are dropped when ``rename`` is given,
   kept as they are otherwise; ``unmapped`` overrides);
3. ``split`` member-list text into lists of objects;
4. ``constants``;
5. per field: ``t2s`` folding, ``value_maps``, then ``strings``/``integers``/``numbers``/``booleans``
   and ``dates``/``datetimes`` coercion (naive date-times get ``timezone``, default +08:00).

:meth:`Mapping.apply` returns ``(record, errors)``; every error is a
:class:`schemas.registry.FieldError` naming the field (``path``), the rule (``keyword``: ``date``,
``integer``…) and what was wrong (``message``, without the path, like the validator's):
``f"{e.path}: {e.message}"`` reads ``accepted_on: '2026-13-01' is not a date``. A value that fails a
coercion keeps its source value in the record.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import jsonschema

from schemas.registry import FieldError

from . import coerce

__all__ = ["MAPPING_SCHEMA", "Mapping", "MappingConfigError"]

_PATHS = {"type": "array", "items": {"type": "string", "minLength": 1}}
_SEPARATORS = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}

#: the JSON Schema of a mapping configuration
MAPPING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rename": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
        "unmapped": {"enum": ["drop", "keep"]},
        "constants": {"type": "object"},
        "trim": {"type": "boolean"},
        "drop_empty": {"type": "boolean"},
        "timezone": {"type": "string", "pattern": r"^(Z|[+-]\d{2}:?\d{2})$"},
        "value_maps": {"type": "object", "additionalProperties": {"type": "object"}},
        "dates": _PATHS, "datetimes": _PATHS, "integers": _PATHS, "numbers": _PATHS,
        "booleans": _PATHS, "strings": _PATHS, "t2s": _PATHS,
        "split": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": False, "required": ["fields"],
            "properties": {
                "fields": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
                "item_separators": _SEPARATORS,
                "field_separators": _SEPARATORS,
            }}},
    },
}

# Chinese exports mix half- and full-width separators, and Excel cells may hold line breaks
DEFAULT_ITEM_SEPARATORS = (";", "；", "\n")
DEFAULT_FIELD_SEPARATORS = (",", "，")
# characters str.strip() leaves but exports carry: BOM, zero-width space
_INVISIBLE = "\ufeff\u200b"


class MappingConfigError(ValueError):
    """A mapping configuration that does not fit :data:`MAPPING_SCHEMA`; the message lists why."""


@dataclass(frozen=True)
class _Split:
    fields: tuple[str, ...]
    items: re.Pattern[str]
    parts: re.Pattern[str]


def _alternation(separators: Any) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(s) for s in separators))


@dataclass
class Mapping:
    """A compiled mapping; build it with :meth:`from_config` (``Mapping()`` keeps rows as they are)."""

    rename: dict[str, str] = field(default_factory=dict)
    unmapped: str = "keep"
    constants: dict[str, Any] = field(default_factory=dict)
    trim: bool = True
    drop_empty: bool = True
    timezone: str = "+08:00"
    value_maps: dict[str, dict[str, Any]] = field(default_factory=dict)
    split: dict[str, _Split] = field(default_factory=dict)
    # per-field transforms in the order they run: (path, keyword, function)
    steps: list[tuple[str, str, Callable[[Any], Any]]] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> "Mapping":
        """Compile a mapping configuration; raise :class:`MappingConfigError` when it is malformed."""
        config = dict(config or {})
        problems = [f"{'.'.join(str(p) for p in e.absolute_path) or 'mapping'}: {e.message}"
                    for e in jsonschema.Draft202012Validator(MAPPING_SCHEMA).iter_errors(config)]
        if problems:
            raise MappingConfigError("invalid mapping: " + "; ".join(sorted(problems)))
        zone = coerce.parse_offset(config.get("timezone", "+08:00"))
        steps: list[tuple[str, str, Callable[[Any], Any]]] = []
        steps += [(p, "t2s", coerce.to_simplified) for p in config.get("t2s", [])]
        for path, table in config.get("value_maps", {}).items():
            steps.append((path, "value_map", lambda v, t=table: _lookup(t, v)))
        for key, keyword, function in (("strings", "string", coerce.to_string),
                                       ("integers", "integer", coerce.to_integer),
                                       ("numbers", "number", coerce.to_number),
                                       ("booleans", "boolean", coerce.to_boolean),
                                       ("dates", "date", coerce.to_date),
                                       ("datetimes", "date-time", lambda v: coerce.to_datetime(v, zone))):
            steps += [(p, keyword, function) for p in config.get(key, [])]
        split = {path: _Split(tuple(spec["fields"]),
                              _alternation(spec.get("item_separators", DEFAULT_ITEM_SEPARATORS)),
                              _alternation(spec.get("field_separators", DEFAULT_FIELD_SEPARATORS)))
                 for path, spec in config.get("split", {}).items()}
        rename = dict(config.get("rename", {}))
        return cls(rename=rename, unmapped=config.get("unmapped", "drop" if rename else "keep"),
                   constants=dict(config.get("constants", {})), trim=config.get("trim", True),
                   drop_empty=config.get("drop_empty", True), timezone=config.get("timezone", "+08:00"),
                   value_maps=dict(config.get("value_maps", {})), split=split, steps=steps)

    # --- applying ------------------------------------------------------------------------------

    def apply(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        """Map one source row to a record; the errors name each field and the rule it broke."""
        errors: list[FieldError] = []
        record: dict[str, Any] = {}
        for column, value in row.items():
            value = self._clean(value)
            if value is _ABSENT:
                continue
            target = self.rename.get(column)
            if target is not None:
                _set(record, target, value, errors)
            elif self.unmapped == "keep":
                record[column] = value
        for path, rule in self.split.items():
            for holder, key in _positions(record, path):
                if isinstance(holder[key], str):
                    holder[key] = self._split(holder[key], rule, path, errors)
        for path, value in self.constants.items():
            _set(record, path, copy.deepcopy(value), errors)  # records must not share one object
        failed: set[str] = set()
        for path, keyword, function in self.steps:
            for holder, key, concrete in _positions(record, path, with_path=True):
                if concrete in failed:
                    continue
                try:
                    holder[key] = function(holder[key])
                except coerce.CoercionError as exc:
                    failed.add(concrete)
                    errors.append(FieldError(concrete, keyword, str(exc)))
        return record, errors

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str) and self.trim:
            value = value.strip().strip(_INVISIBLE).strip()
        if self.drop_empty and (value is None or value == ""):
            return _ABSENT
        return value

    def _split(self, text: str, rule: _Split, path: str, errors: list[FieldError]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for chunk in rule.items.split(text):
            if not chunk.strip():
                continue  # a trailing separator
            values = [self._clean(v) for v in rule.parts.split(chunk)]
            if len(values) > len(rule.fields):
                where = f"{path}.{len(items)}"
                errors.append(FieldError(where, "split", f"{chunk.strip()!r} has {len(values)} values, "
                                         f"expected at most {len(rule.fields)} ({', '.join(rule.fields)})"))
            items.append({name: v for name, v in zip(rule.fields, values) if v is not _ABSENT})
        return items


_ABSENT = object()


def _lookup(table: dict[str, Any], value: Any) -> Any:
    """The mapped value; unknown values pass through (the schema's enum reports them)."""
    if isinstance(value, (dict, list)):
        return value
    return table.get(value if isinstance(value, str) else coerce.to_string(value), value)


def _set(record: dict[str, Any], path: str, value: Any, errors: list[FieldError]) -> None:
    """Put ``value`` at the dotted ``path``, creating the objects on the way."""
    *parents, last = path.split(".")
    node = record
    for depth, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            where = ".".join(parents[:depth + 1])
            errors.append(FieldError(where, "rename", f"holds a value, so {path} cannot be set"))
            return
        node = child
    node[last] = value


def _positions(record: Any, path: str, with_path: bool = False) -> Iterator[Any]:
    """Every (holder, key) where ``path`` leads to an existing value; ``*`` walks list items."""
    def walk(node: Any, parts: list[str], done: list[str]) -> Iterator[Any]:
        head, rest = parts[0], parts[1:]
        if head == "*":
            keys = range(len(node)) if isinstance(node, list) else []
        else:
            keys = [head] if isinstance(node, dict) and head in node else []
        for key in keys:
            if rest:
                yield from walk(node[key], rest, [*done, str(key)])
            else:
                yield (node, key, ".".join([*done, str(key)])) if with_path else (node, key)
    yield from walk(record, path.split("."), [])
