"""Mask sensitive fields: the kind of each field comes from the record schema (``x-sensitive``).

resident-id keeps the first 6 and last 4 characters (``610923********1234``), mobile the first 3
and last 4 (``139****0000``), name the surname (``王*``); free text is withheld.

Readers outside the owner department also never see a field the record schema does not declare
(:func:`declared_shape`, :func:`without_undeclared`): such a field could not be marked sensitive.
Records written before schemas were closed may hold some; their owners still see them.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from schemas.validation import resolve_local, sensitive_fields

WITHHELD = "***"


def _resident_id(value: str) -> str:
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def _mobile(value: str) -> str:
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)


def _name(value: str) -> str:
    return value[:1] + "*" * max(len(value) - 1, 1) if value else value


MASKS: dict[str, Callable[[str], str]] = {
    "resident-id": _resident_id, "mobile": _mobile, "name": _name, "text": lambda _v: WITHHELD,
}


def mask_value(kind: str, value: Any) -> Any:
    """The masked form of one value (non-strings other than None are withheld)."""
    if value is None or value == "":
        return value
    if not isinstance(value, str):
        return WITHHELD
    return MASKS.get(kind, MASKS["text"])(value)


def covered(path: str, granted: set[str]) -> bool:
    """Whether a grant naming ``granted`` fields covers ``path`` (a parent name covers its children)."""
    parts = path.split(".")
    candidates = {".".join(parts[:i]) for i in range(1, len(parts) + 1)}
    candidates |= {c.replace(".*", "") for c in candidates}
    return bool(candidates & granted)


def masked_paths(schema: dict[str, Any], granted: set[str] | None) -> dict[str, str]:
    """The sensitive paths a reader must not see in clear; ``granted=None`` means the owner (none)."""
    if granted is None:
        return {}
    return {path: kind for path, kind in sensitive_fields(schema).items() if not covered(path, granted)}


def _apply(node: Any, parts: list[str], kind: str) -> None:
    if not parts:
        return
    head, rest = parts[0], parts[1:]
    if head == "*":
        if isinstance(node, list):
            for index, item in enumerate(node):
                if rest:
                    _apply(item, rest, kind)
                else:  # an array of sensitive values: each item masked
                    node[index] = mask_value(kind, item)
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _apply(node[head], rest, kind)
    else:
        node[head] = mask_value(kind, node[head])


def mask_record(record: dict[str, Any], paths: dict[str, str], *, in_place: bool = False) -> dict[str, Any]:
    """A copy of ``record`` with every path in ``paths`` masked (the record itself is untouched).

    ``in_place=True``: ``record`` is already the caller's own copy (:func:`without_undeclared` builds
    every object and list on a declared path afresh), so it is masked without copying it again.
    """
    if not paths:
        return record
    masked = record if in_place else copy.deepcopy(record)
    for path, kind in paths.items():
        _apply(masked, path.split("."), kind)
    return masked


def top_level_masked(paths: dict[str, str]) -> set[str]:
    """Top-level field names that hold masked values (not filterable or sortable by such readers)."""
    return {path.split(".", 1)[0] for path in paths}


# --- fields the schema does not declare -----------------------------------------------------------

#: the change feed's own members, kept beside the record's fields
FEED_MEMBERS = frozenset({"_seq", "_key", "_deleted"})


class Shape:
    """What a record schema declares at one place: named properties (``None``: anything) and items."""

    __slots__ = ("properties", "items")

    def __init__(self) -> None:
        self.properties: dict[str, Shape] | None = None
        self.items: Shape | None = None


def declared_shape(schema: dict[str, Any]) -> Shape:
    """The declared properties of ``schema`` at every depth (through $ref, allOf/anyOf/oneOf, then/else)."""
    root = Shape()

    def visit(node: Any, shape: Shape, refs: frozenset[str]) -> None:
        if not isinstance(node, dict):
            return
        ref = node.get("$ref")
        if isinstance(ref, str) and ref not in refs:
            visit(resolve_local(schema, ref), shape, refs | {ref})
        if isinstance(node.get("properties"), dict):
            if shape.properties is None:
                shape.properties = {}
            for name, sub in node["properties"].items():
                visit(sub, shape.properties.setdefault(name, Shape()), refs)
        if isinstance(node.get("items"), dict):
            shape.items = shape.items or Shape()
            visit(node["items"], shape.items, refs)
        for key in ("allOf", "anyOf", "oneOf"):
            if isinstance(node.get(key), list):
                for sub in node[key]:
                    visit(sub, shape, refs)
        for key in ("then", "else"):
            visit(node.get(key), shape, refs)

    visit(schema, root, frozenset())
    return root


def _declared_only(value: Any, shape: Shape) -> Any:
    if isinstance(value, dict) and shape.properties is not None:
        return {name: _declared_only(sub, shape.properties[name])
                for name, sub in value.items() if name in shape.properties}
    if isinstance(value, list) and shape.items is not None:
        return [_declared_only(item, shape.items) for item in value]
    return value


def without_undeclared(record: dict[str, Any], shape: Shape) -> dict[str, Any]:
    """``record`` without the fields ``shape`` does not declare, at any depth (change-feed members kept)."""
    kept = _declared_only({k: v for k, v in record.items() if k not in FEED_MEMBERS}, shape)
    kept.update({k: record[k] for k in FEED_MEMBERS if k in record})
    return kept


def masked_key(entry: dict[str, Any], primary_key: list[str], paths: dict[str, str],
               encode: Callable[[dict[str, Any], list[str]], str]) -> str | None:
    """The change feed's ``_key`` rebuilt from the entry's key fields, once masked (``None``: none is masked).

    ``entry`` must already be masked (:func:`mask_record`); ``encode`` is the DataStore's own key
    encoding (a composite key is a JSON list), so a masked key has the form of a clear one. It is
    built from the masked values only, never from the clear ``_key``.
    """
    if not any(name in paths for name in primary_key):
        return None
    return encode({name: entry.get(name) for name in primary_key}, primary_key)
