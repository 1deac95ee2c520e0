"""Labels, choices and help text of the metadata profile (schemas/metadata/dataset/1.json) and of record
schemas (the schema table) for pages."""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from flask_babel import lazy_gettext as N_

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


#: Value types and formats of record fields, as an officer names them.
TYPE_LABELS = {"string": N_("text"), "integer": N_("whole number"), "number": N_("number"),
               "boolean": N_("yes/no"), "array": N_("list"), "object": N_("group of fields"),
               "date": N_("date"), "date-time": N_("date and time"), "cn-resident-id": N_("resident ID number"),
               "cn-uscc": N_("unified social credit code"), "cn-division-code": N_("division code"),
               "cn-household-number": N_("household number"), "cn-mobile": N_("mobile number")}
#: How a sensitive field is masked (x-sensitive).
SENSITIVE_LABELS = {"name": N_("masked to the surname (王*)"),
                    "resident-id": N_("masked to the first 6 and last 4 characters"),
                    "mobile": N_("masked to the first 3 and last 4 digits"), "text": N_("withheld (***)")}


def _type_label(node: dict[str, Any]) -> str:
    kind = node.get("format") or node.get("type", "")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "")
    label = TYPE_LABELS.get(kind)
    return str(label) if label is not None else str(kind)


def record_field_labels(schema: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A record schema's fields for the schema table: the top-level ones, each followed by the fields of
    its list items (``members.*.phone``), with label, type, help, coded values and how it is masked."""
    if not schema:
        return []
    rows = []

    def add(properties: dict[str, Any], prefix: str, parent: str, depth: int) -> None:
        for name, node in properties.items():
            label = _text(node.get("x-labels"), name)
            codes = [(code, _text(names, code)) for code, names in (node.get("x-enumLabels") or {}).items()]
            sensitive = node.get("x-sensitive", "")
            rows.append({"name": prefix + name, "label": f"{parent} › {label}" if parent else label,
                         "kind": _type_label(node), "help": _text(node.get("x-help"), ""), "codes": codes,
                         "sensitive": str(SENSITIVE_LABELS.get(sensitive, sensitive)) if sensitive else "",
                         "depth": depth})
            items = node.get("items") if node.get("type") == "array" else None
            if isinstance(items, dict) and items.get("properties"):
                add(items["properties"], f"{prefix}{name}.*.", label, depth + 1)

    add(schema.get("properties") or {}, "", "", 0)
    return rows


def record_schema_title(schema: dict[str, Any] | None, ref: str) -> str:
    """A record schema's label in the page language."""
    if not schema:
        return ref
    return _text(schema.get("x-labels"), schema.get("title") or ref)
