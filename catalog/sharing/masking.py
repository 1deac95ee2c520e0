"""Mask sensitive fields: the kind of each field comes from the record schema (``x-sensitive``).

resident-id keeps the first 6 and last 4 characters (``610923********1234``), mobile the first 3
and last 4 (``139****0000``), name the surname (``王*``); free text is withheld.
"""
from __future__ import annotations

import copy
from typing import Any, Callable

from schemas.validation import sensitive_fields

WITHHELD = "***"


def _resident_id(value: str) -> str:
    return value[:6] + "*" * max(len(value) - 10, 0) + value[-4:] if len(value) > 10 else "*" * len(value)


def _mobile(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:] if len(value) > 7 else "*" * len(value)


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
            for item in node:
                if rest:
                    _apply(item, rest, kind)
        return
    if not isinstance(node, dict) or head not in node:
        return
    if rest:
        _apply(node[head], rest, kind)
    else:
        node[head] = mask_value(kind, node[head])


def mask_record(record: dict[str, Any], paths: dict[str, str]) -> dict[str, Any]:
    """A copy of ``record`` with every path in ``paths`` masked (the record itself is untouched)."""
    if not paths:
        return record
    masked = copy.deepcopy(record)
    for path, kind in paths.items():
        _apply(masked, path.split("."), kind)
    return masked


def top_level_masked(paths: dict[str, str]) -> set[str]:
    """Top-level field names that hold masked values (not filterable or sortable by such readers)."""
    return {path.split(".", 1)[0] for path in paths}
