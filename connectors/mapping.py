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
4. ``computed`` fields: sandboxed Jinja2 templates over the row's columns
   (:mod:`connectors.expressions`; ``members[0].name: "{{ 户主姓名 }}"``), compiled once; one that fails
   on a row is an error of that field (keyword ``expression``), so the row is quarantined;
5. ``defaults`` fill the fields still missing; ``constants`` set theirs whatever the row holds
   (paths of 4 and 5 may name list items: ``members[0].relation``);
6. per field: ``t2s`` folding, ``value_maps``, then ``strings``/``integers``/``numbers``/``booleans``
   and ``dates``/``datetimes`` coercion (naive date-times get ``timezone``, default +08:00).

:meth:`Mapping.apply` returns ``(record, errors)``; every error is a
:class:`schemas.registry.FieldError` naming the field (``path``), the rule (``keyword``: ``date``,
``integer``…) and what was wrong (``message``, without the path, like the validator's):
``f"{e.path}: {e.message}"`` reads ``accepted_on: '2026-13-01' is not a date``. A value that fails a
coercion keeps its source value in the record. :meth:`Mapping.apply_json` also makes the record JSON-safe
(:func:`connectors.base.jsonable`), which is what the engine stores.

Speed (a sync maps every row): the per-field steps are compiled once into a tree of path parts, so a
record is walked once for all of them (``members`` once for ``members.*.sex`` and
``members.*.working_away``); the errors are then put back in the order of the steps. Configurations
where one step's path runs through another's field (``members`` and ``members.*.sex``) run the steps
one at a time instead, as written.
"""
from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import jsonschema

from schemas.registry import FieldError

from . import coerce
from .base import jsonable
from .expressions import ExpressionError, WorkingDay, compile_expression, parse_path

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
        # not a mapping step: the share of invalid rows above which a run ends failed (connectors.engine)
        "max_invalid": {"type": "number", "minimum": 0, "maximum": 1},
        "constants": {"type": "object"},
        "defaults": {"type": "object"},
        "computed": {"type": "object", "additionalProperties": {"type": "string", "minLength": 1}},
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
# what str.strip() (\s of a str pattern is str.isspace) and _INVISIBLE would take from the ends of a text
_TRIMMABLE = re.compile(r"[\s\ufeff\u200b]")


class MappingConfigError(ValueError):
    """A mapping configuration that does not fit :data:`MAPPING_SCHEMA`; the message lists why."""


@dataclass(frozen=True)
class _Split:
    fields: tuple[str, ...]
    items: re.Pattern[str]
    parts: re.Pattern[str]
    # the separators of ``items`` and ``parts`` when each is one character: str.split does then
    item_characters: tuple[str, ...] | None = None
    field_characters: tuple[str, ...] | None = None

    def split_items(self, text: str) -> list[str]:
        """``items.split(text)``."""
        return _split_at(self.items, self.item_characters, text)

    def split_parts(self, text: str) -> list[str]:
        """``parts.split(text)``."""
        return _split_at(self.parts, self.field_characters, text)


def _alternation(separators: Any) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(s) for s in separators))


def _characters(separators: Any) -> tuple[str, ...] | None:
    separators = tuple(separators)
    return separators if all(len(s) == 1 for s in separators) else None


def _split_at(pattern: re.Pattern[str], characters: tuple[str, ...] | None, text: str) -> list[str]:
    """``pattern.split(text)``: splitting at any one of single characters is str.replace and str.split."""
    if characters is None:
        return pattern.split(text)
    first = characters[0]
    for other in characters[1:]:
        text = text.replace(other, first)
    return text.split(first)


#: part of every mapping's fingerprint: raise it when a change to the mapping, coercion or validation
#: code changes what an unchanged source row becomes, so that reruns map such rows again
CODE_VERSION = 1

#: computed-field functions whose result depends on the day or on the catalog's calendar, not only on the row
_DAY_DEPENDENT = ("today", "date_add")


def _fingerprint(config: dict[str, Any]) -> str | None:
    """A digest of a mapping configuration (and :data:`CODE_VERSION`): two mappings with the same one
    make the same record of the same row. ``None`` when the result also depends on the day."""
    text = json.dumps([CODE_VERSION, config], sort_keys=True, ensure_ascii=False, separators=(",", ":"),
                      default=repr)
    if any(name in json.dumps(config.get("computed") or {}, ensure_ascii=False) for name in _DAY_DEPENDENT):
        return None
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


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
    # computed fields: path → compiled template (connectors.expressions.compile_expression)
    computed: dict[str, Callable[[dict[str, Any]], str]] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: set by :meth:`from_config`: a digest of the configuration (None: built otherwise, or its computed
    #: fields depend on the day): a sync skips rows whose digest with it was stored with their record
    fingerprint: str | None = field(default=None, compare=False)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None, *, working_day: WorkingDay | None = None) -> "Mapping":
        """Compile a mapping configuration; raise :class:`MappingConfigError` when it is malformed.
        ``working_day`` is the calendar of computed fields' ``date_add(..., working=True)`` (default:
        Monday to Friday; the catalog hands its holidays and make-up working days)."""
        config = dict(config or {})
        problems = [f"{'.'.join(str(p) for p in e.absolute_path) or 'mapping'}: {e.message}"
                    for e in jsonschema.Draft202012Validator(MAPPING_SCHEMA).iter_errors(config)]
        if problems:
            raise MappingConfigError("invalid mapping: " + "; ".join(sorted(problems)))
        zone = coerce.parse_offset(config.get("timezone", "+08:00"))
        steps: list[tuple[str, str, Callable[[Any], Any]]] = []
        steps += [(p, "t2s", coerce.to_simplified) for p in config.get("t2s", [])]
        for path, table in config.get("value_maps", {}).items():
            steps.append((path, "value_map", functools.partial(_lookup, table)))
        for key, keyword, function in (("strings", "string", coerce.to_string),
                                       ("integers", "integer", coerce.to_integer),
                                       ("numbers", "number", coerce.to_number),
                                       ("booleans", "boolean", coerce.to_boolean),
                                       ("dates", "date", coerce.to_date),
                                       ("datetimes", "date-time", functools.partial(coerce.to_datetime,
                                                                                    zone=zone))):
            steps += [(p, keyword, function) for p in config.get(key, [])]
        split = {}
        for path, spec in config.get("split", {}).items():
            items = spec.get("item_separators", DEFAULT_ITEM_SEPARATORS)
            parts = spec.get("field_separators", DEFAULT_FIELD_SEPARATORS)
            split[path] = _Split(tuple(spec["fields"]), _alternation(items), _alternation(parts),
                                 _characters(items), _characters(parts))
        rename = dict(config.get("rename", {}))
        computed, problems = {}, []
        for path, source in config.get("computed", {}).items():
            try:
                parse_path(path)
                computed[path] = compile_expression(path, source, working_day=working_day)
            except ExpressionError as exc:
                problems.append(str(exc))
            except ValueError as exc:
                problems.append(f"computed.{path}: {exc}")
        for key in ("defaults", "constants"):
            for path in config.get(key, {}):
                try:
                    parse_path(path)
                except ValueError as exc:
                    problems.append(f"{key}.{path}: {exc}")
        if problems:
            raise MappingConfigError("invalid mapping: " + "; ".join(problems))
        return cls(computed=computed, defaults=dict(config.get("defaults", {})), rename=rename, unmapped=config.get("unmapped", "drop" if rename else "keep"),
                   constants=dict(config.get("constants", {})), trim=config.get("trim", True),
                   drop_empty=config.get("drop_empty", True), timezone=config.get("timezone", "+08:00"),
                   value_maps=dict(config.get("value_maps", {})), split=split, steps=steps,
                   fingerprint=_fingerprint(config))

    def __post_init__(self) -> None:
        # compiled once: the field steps as one tree walk, and what the records can hold
        self._tree = _step_tree(self.steps)
        self._json_steps = all(_yields_json(function) for _path, _keyword, function in self.steps)
        self._json_names = all(type(name) is str for name in (  # noqa: E721 - jsonable makes keys text
            *self.rename.values(), *self.constants, *(n for rule in self.split.values() for n in rule.fields)))
        self._json_constants = all(_is_json(value) for value in (*self.constants.values(), *self.defaults.values()))
        # constants and defaults as parsed paths; one naming a list item ([0]) is set by _set_parts
        self._constants = [(path, parts, any(type(p) is int for p in parts), value)  # noqa: E721
                           for path, value in self.constants.items() for parts in (parse_path(path),)]
        self._defaults = [(parse_path(path), value) for path, value in self.defaults.items()]
        self._computed = [(".".join(str(p) for p in parse_path(path)), parse_path(path), render)
                          for path, render in self.computed.items()]

    # --- applying ------------------------------------------------------------------------------

    def apply(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        """Map one source row to a record; the errors name each field and the rule it broke."""
        record, errors, _json = self._apply(row)
        return record, errors

    def apply_json(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError]]:
        """:meth:`apply`, with the record made JSON-safe as :func:`connectors.base.jsonable` does."""
        record, errors, is_json = self._apply(row)
        # the walk is skipped only when every value is known to be a JSON type already
        return (record if is_json else jsonable(record)), errors

    def _apply(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[FieldError], bool]:
        """The record, its errors, and whether it holds JSON types only (then jsonable is a copy)."""
        errors: list[FieldError] = []
        record: dict[str, Any] = {}
        rename, keep, trim, drop_empty = self.rename, self.unmapped == "keep", self.trim, self.drop_empty
        is_json = self._json_steps and self._json_constants and self._json_names
        for column, value in row.items():
            if type(value) is str:  # noqa: E721 - the common case of _clean, inline
                if trim:
                    value = value.strip().strip(_INVISIBLE).strip()
                if drop_empty and value == "":
                    continue
            else:
                value = self._clean(value)
                if value is _ABSENT:
                    continue
                if is_json and not (value is None or type(value) in _JSON_SCALARS):
                    is_json = False
            target = rename.get(column)
            if target is not None:
                if "." in target:
                    _set(record, target, value, errors)
                else:
                    record[target] = value
            elif keep:
                record[column] = value
                if is_json and type(column) is not str:  # noqa: E721 - jsonable would turn it into text
                    is_json = False
        for path, rule in self.split.items():
            for holder, key in _positions(record, path):
                if isinstance(holder[key], str):
                    holder[key] = self._split(holder[key], rule, path, errors)
        if self._computed:
            self._compute(row, record, errors)
        if self._defaults:
            for parts, value in self._defaults:
                if not _holds(record, parts):
                    _set_parts(record, parts, copy.deepcopy(value), errors)
        for path, parts, indexed, value in self._constants:
            if indexed:
                _set_parts(record, parts, copy.deepcopy(value), errors)
            else:
                _set(record, path, copy.deepcopy(value), errors)  # records must not share one object
        if self._tree is None:
            self._run_steps(record, errors)
        elif self._tree:
            problems: list[tuple[int, int, FieldError]] = []
            _visit_children(self._tree, record, None, problems)
            if len(problems) > 1:
                problems.sort(key=lambda problem: problem[:2])  # steps in order, each in walk order
            errors.extend(error for _step, _seq, error in problems)
        return record, errors, is_json

    def _compute(self, row: dict[str, Any], record: dict[str, Any], errors: list[FieldError]) -> None:
        """The computed fields, from the row's columns as trimmed and cleaned (empty cells absent)."""
        columns = {}
        for column, value in row.items():
            value = self._clean(value)
            if value is not _ABSENT:
                columns[str(column)] = value
        for path, parts, render in self._computed:
            try:
                text = render(columns)
            except ValueError as exc:
                errors.append(FieldError(path, "expression", str(exc)))
                continue
            if text == "" and self.drop_empty:
                continue
            _set_parts(record, parts, text, errors)

    def _run_steps(self, record: dict[str, Any], errors: list[FieldError]) -> None:
        """The steps one after the other, each walking the record for its path (any configuration)."""
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

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str) and self.trim:
            value = value.strip().strip(_INVISIBLE).strip()
        if self.drop_empty and (value is None or value == ""):
            return _ABSENT
        return value

    def _split(self, text: str, rule: _Split, path: str, errors: list[FieldError]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        fields, trim, drop_empty = rule.fields, self.trim, self.drop_empty
        for chunk in rule.split_items(text):
            if not chunk.strip():
                continue  # a trailing separator
            values = rule.split_parts(chunk)
            if len(values) > len(fields):
                where = f"{path}.{len(items)}"
                errors.append(FieldError(where, "split", f"{chunk.strip()!r} has {len(values)} values, "
                                         f"expected at most {len(fields)} ({', '.join(fields)})"))
            if trim and _TRIMMABLE.search(chunk):  # else no part has anything to trim: skip 3 strips a part
                values = [value.strip().strip(_INVISIBLE).strip() for value in values]
            # _clean, inline: the parts are text, and an empty text is ""
            items.append({name: value for name, value in zip(fields, values) if value or not drop_empty})
        return items


_ABSENT = object()

# types jsonable() returns as they are (a float may be NaN or infinite: not taken on trust)
_JSON_SCALARS = frozenset({str, int, bool})
# step functions that turn JSON values into JSON values
_JSON_FUNCTIONS = frozenset({coerce.to_simplified, coerce.to_string, coerce.to_integer, coerce.to_boolean,
                             coerce.to_date})


def _is_json(value: Any) -> bool:
    """Whether jsonable(value) would be an equal copy (dicts with text keys, lists, JSON scalars)."""
    if isinstance(value, dict):
        return all(type(k) is str and _is_json(v) for k, v in value.items())  # noqa: E721
    if isinstance(value, list):
        return all(_is_json(v) for v in value)
    return value is None or type(value) in _JSON_SCALARS


def _yields_json(function: Callable[[Any], Any]) -> bool:
    """Whether a step function is known to turn JSON values into JSON values."""
    if function in _JSON_FUNCTIONS:
        return True
    if isinstance(function, functools.partial):
        if function.func is coerce.to_datetime:
            return not function.args and set(function.keywords) == {"zone"}
        if function.func is _lookup and len(function.args) == 1 and not function.keywords:
            table = function.args[0]  # its values must not be lists or objects a record would share
            return isinstance(table, dict) and all(v is None or type(v) in _JSON_SCALARS for v in table.values())
    return False


class _Overlap(Exception):
    """One step's path leads through the field another step changes."""


def _step_tree(steps: list[tuple[str, str, Callable[[Any], Any]]]) -> tuple[Any, ...] | None:
    """The steps as a tree of path parts, to be walked once per record: nodes are
    ``(part, ((step index, keyword, function), ...), children)``. ``None`` when a path goes through the
    field of another (``members`` and ``members.*.sex``): the order of the steps matters then."""
    root: dict[str, tuple[list[Any], dict[str, Any]]] = {}
    for index, (path, keyword, function) in enumerate(steps):
        children = root
        *parents, last = path.split(".")
        for part in parents:
            children = children.setdefault(part, ([], {}))[1]
        children.setdefault(last, ([], {}))[0].append((index, keyword, function))

    def freeze(children: dict[str, tuple[list[Any], dict[str, Any]]]) -> tuple[Any, ...]:
        nodes = []
        for part, (ops, below) in children.items():
            if ops and below:
                raise _Overlap(part)
            nodes.append((part, tuple(ops), freeze(below)))
        return tuple(nodes)

    try:
        return freeze(root)
    except _Overlap:
        return None


def _visit_children(nodes: tuple[Any, ...], container: Any, trail: Any,
                    problems: list[tuple[int, int, FieldError]]) -> None:
    """Run the steps of ``nodes`` on ``container``; a failure is kept as (step index, order, error).

    The same walk as :func:`_positions` (``*``: the items of a list; a name: the key of an object), and
    the same rule as the one-step-at-a-time loop: a field's steps run in order and stop at its first failure.
    """
    for part, ops, below in nodes:
        if part == "*":
            if not isinstance(container, list):
                continue
            keys: Any = range(len(container))
        elif isinstance(container, dict) and part in container:
            keys = (part,)
        else:
            continue
        for key in keys:
            if below:
                _visit_children(below, container[key], (trail, key), problems)
                continue
            value = container[key]
            for index, keyword, function in ops:
                try:
                    value = function(value)
                except coerce.CoercionError as exc:
                    problems.append((index, len(problems), FieldError(_concrete(trail, key), keyword, str(exc))))
                    break
                container[key] = value


def _concrete(trail: Any, key: Any) -> str:
    """The dotted path of ``key`` below ``trail`` (a chain of (parent trail, key) pairs)."""
    parts = [str(key)]
    while trail is not None:
        trail, key = trail
        parts.append(str(key))
    return ".".join(reversed(parts))


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


def _holds(record: Any, parts: list[Any]) -> bool:
    """Whether the field at ``parts`` holds a value."""
    node = record
    for part in parts:
        if type(part) is int:  # noqa: E721
            if not isinstance(node, list) or part >= len(node):
                return False
        elif not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return node is not None and node != ""


def _set_parts(record: dict[str, Any], parts: list[Any], value: Any, errors: list[FieldError]) -> None:
    """Put ``value`` at ``parts`` (names and list indexes), creating objects and list items on the way."""
    node: Any = record
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        following = None if last else parts[depth + 1]
        fresh = [] if type(following) is int else {}  # noqa: E721
        if type(part) is int:  # noqa: E721
            if not isinstance(node, list):
                where = ".".join(str(p) for p in parts[:depth])
                errors.append(FieldError(where, "computed", f"holds a value that is not a list, so "
                                         f"{'.'.join(str(p) for p in parts)} cannot be set"))
                return
            while len(node) <= part:
                node.append({})
        elif not isinstance(node, dict):
            where = ".".join(str(p) for p in parts[:depth])
            errors.append(FieldError(where, "computed", f"holds a value, so {'.'.join(str(p) for p in parts)} "
                                     "cannot be set"))
            return
        if last:
            node[part] = value
            return
        child = node[part] if (type(part) is int or part in node) else None  # noqa: E721
        if child is None or (type(following) is int) != isinstance(child, list):  # noqa: E721
            if child not in (None, {}):
                where = ".".join(str(p) for p in parts[:depth + 1])
                errors.append(FieldError(where, "computed", f"holds a value, so "
                                         f"{'.'.join(str(p) for p in parts)} cannot be set"))
                return
            node[part] = child = fresh
        node = child


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
