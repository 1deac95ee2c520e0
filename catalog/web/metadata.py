"""Labels, choices and help text of the metadata profile (schemas/metadata/dataset/1.json) for pages."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from schemas import load_schema

from .i18n import lang


@lru_cache(maxsize=4)
def profile(version: int = 1) -> dict[str, Any]:
    """The dataset metadata profile document."""
    return load_schema("metadata", "dataset", version)


def prop(path: str) -> dict[str, Any]:
    """The schema of a field by dotted path (``share_method.channel``, ``items.type``)."""
    node = profile()
    for part in path.split("."):
        if node.get("type") == "array":
            node = node.get("items", {})
        node = node.get("properties", {}).get(part, {})
    return node


def _text(labels: dict[str, str] | None, fallback: str) -> str:
    labels = labels or {}
    return labels.get(lang()) or labels.get("zh") or fallback


def label(path: str) -> str:
    """A field's label in the page language (x-labels)."""
    return _text(prop(path).get("x-labels"), path.rsplit(".", 1)[-1])


def help_text(path: str) -> str:
    """A field's help in the page language (x-help), or ''."""
    return _text(prop(path).get("x-help"), "")


def choices(path: str) -> list[tuple[str, str]]:
    """``(value, label)`` of a field's enum, labelled by x-enumLabels."""
    node = prop(path)
    labels = node.get("x-enumLabels", {})
    return [(value, _text(labels.get(value), value)) for value in node.get("enum", [])]


def choice_label(path: str, value: Any) -> str:
    """The display label of one enum value (the value itself when unknown)."""
    if value is None or value == "":
        return ""
    return dict(choices(path)).get(value, str(value))


def required_when_published() -> set[str]:
    """Fields the profile requires of a published dataset."""
    for rule in profile().get("allOf", []):
        if rule.get("if", {}).get("properties", {}).get("state", {}).get("const") == "active":
            return set(rule["then"].get("required", []))
    return set()


def record_field_labels(schema: dict[str, Any] | None) -> list[tuple[str, str, str, str]]:
    """``(name, label, type, sensitive kind)`` of a record schema's top-level properties."""
    if not schema:
        return []
    rows = []
    for name, node in (schema.get("properties") or {}).items():
        kind = node.get("type", "")
        if isinstance(kind, list):
            kind = "/".join(k for k in kind if k != "null")
        rows.append((name, _text(node.get("x-labels"), name), str(kind), node.get("x-sensitive", "")))
    return rows


def record_schema_title(schema: dict[str, Any] | None, ref: str) -> str:
    """A record schema's label in the page language."""
    if not schema:
        return ref
    return _text(schema.get("x-labels"), schema.get("title") or ref)
