"""Labels for what officers read instead of codes: record fields and their coded values (the record
schemas' ``x-labels`` / ``x-enumLabels``) and classification codes (schemas/labels/classification.json)."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from flask_babel import gettext as _

import schemas

from ..messages import translate
from .i18n import lang

LABELS = Path(schemas.__file__).resolve().parent / "labels"


def _text(labels: dict[str, str] | None, fallback: str) -> str:
    labels = labels or {}
    return labels.get(lang()) or labels.get("zh") or fallback


@lru_cache(maxsize=1)
def classification_table() -> dict[str, Any]:
    """The class and item names of GB/T 21063.4, as shipped data."""
    with open(LABELS / "classification.json", encoding="utf-8") as f:
        return json.load(f)


def classification_label(code: str | None) -> str:
    """``101`` → 人口基础信息 (101); an unnamed item is shown with its class's name."""
    if not code:
        return ""
    table = classification_table()
    item = table["items"].get(code[:3])
    if item is not None:
        return f"{_text(item, code)} ({code})"
    klass = table["classes"].get(code[:1])
    return f"{_text(klass, code)} ({code})" if klass else code


def _node(schema: dict[str, Any] | None, path: str) -> list[dict[str, Any]]:
    """The schema nodes along a dotted path (``members.*.phone`` or ``members.phone``)."""
    node, trail = schema or {}, []
    for part in path.split("."):
        if part in ("*", "") or part.isdigit():
            continue
        while node.get("type") == "array" or (isinstance(node.get("type"), list) and "array" in node["type"]):
            node = node.get("items") or {}
        node = (node.get("properties") or {}).get(part)
        if node is None:
            return []
        trail.append(node)
    return trail


def field_label(schema: dict[str, Any] | None, path: str) -> str:
    """A record field's label in the page language: 家庭成员 › 联系电话 for ``members.*.phone``."""
    trail = _node(schema, path)
    parts = [p for p in path.split(".") if p not in ("*", "") and not p.isdigit()]
    if len(trail) != len(parts):
        return path
    return " › ".join(_text(node.get("x-labels"), name) for node, name in zip(trail, parts))


def field_help(schema: dict[str, Any] | None, path: str) -> str:
    """A record field's help in the page language (x-help), or ''."""
    trail = _node(schema, path)
    return _text(trail[-1].get("x-help"), "") if trail else ""


def field_labels(schema: dict[str, Any] | None, paths) -> dict[str, str]:
    return {path: field_label(schema, path) for path in paths}


def value_label(schema: dict[str, Any] | None, path: str, value: Any) -> Any:
    """A coded value's label (``sex`` "1" → 男); other values unchanged."""
    trail = _node(schema, path)
    if not trail or not isinstance(value, (str, int)):
        return value
    labels = trail[-1].get("x-enumLabels") or {}
    found = labels.get(str(value))
    return _text(found, str(value)) if found else value


def columns(schema: dict[str, Any] | None, names: list[str]) -> list[dict[str, Any]]:
    """Table columns for records: name, label, and the labelled sub-columns of an array of objects."""
    result = []
    for name in names:
        trail = _node(schema, name)
        node = trail[-1] if trail else {}
        sub = []
        items = node.get("items") if node.get("type") == "array" else None
        if isinstance(items, dict) and items.get("properties"):
            sub = [{"name": k, "label": _text(v.get("x-labels"), k)} for k, v in items["properties"].items()]
        elif node.get("type") == "object" and node.get("properties"):
            sub = [{"name": k, "label": _text(v.get("x-labels"), k)} for k, v in node["properties"].items()]
        result.append({"name": name, "label": _text(node.get("x-labels"), name) if trail else name,
                       "help": _text(node.get("x-help"), "") if trail else "",
                       "sub": sub, "kind": "array" if items is not None else node.get("type")})
    return result


#: The share rules' refusals (English, as the API gives them) by their stable opening, in the page language.
REFUSALS = (
    ("Records are shared with departments' accounts only", lambda m, s: _("Records are shared with departments' "
                                                                          "accounts only: log in.")),
    ("Your account belongs to no department", lambda m, s: _("Your account belongs to no department, so no data "
                                                             "is shared with it.")),
    ("is not published to other departments", lambda m, s: _("This dataset is not published to other "
                                                             "departments.")),
    ("is not shared (不予共享)", lambda m, s: _("This dataset is not shared (不予共享).")),
    ("is shared on conditions", lambda m, s: _("This dataset is shared on conditions: request access first.")),
    ("You cannot filter or sort on masked fields: ", lambda m, s: _(
        "You cannot filter on masked fields: %(fields)s",
        fields="、".join(field_label(s, f.strip()) for f in m.split(": ", 1)[1].split(",")))),
)


def refusal(message: str, schema: dict[str, Any] | None = None) -> str:
    """A share-rule refusal in the page language (the message itself when it is not a known one)."""
    for marker, text in REFUSALS:
        if marker in message:
            return text(message, schema)
    return translate(message)
