"""The dataset form: read the posted fields into the service's ``values``, and back for re-display.

The fields follow the metadata profile; the 信息项 (data items) come as numbered rows
``items-<i>-name|type|length|description``. Blank rows are dropped, so the page can always offer
a few empty ones to fill without JavaScript.
"""
from __future__ import annotations

import re
from typing import Any

from pypinyin import lazy_pinyin
from werkzeug.datastructures import MultiDict

from ..datasets.models import Dataset
from ..datasets.service import metadata_of

TEXT_FIELDS = ("name", "title", "notes", "resource_code", "category", "share_type", "share_condition",
               "open_type", "open_condition", "update_cycle", "publish_date", "record_schema", "url",
               "version", "author", "author_email", "maintainer", "maintainer_email", "license_id")
ITEM_FIELDS = ("name", "type", "length", "description")
BLANK_ROWS = 2
MAX_ROWS = 500
_ROW = re.compile(r"^items-(\d{1,3})-(name|type|length|description)$")


def empty_form() -> dict[str, Any]:
    """The values of a new dataset's form."""
    form: dict[str, Any] = {field: "" for field in TEXT_FIELDS}
    form.update({"owner_org": "", "private": False, "tags": "", "related_codes": "", "share_channel": "",
                 "share_method_type": "", "items": []})
    return form


def form_from_dataset(dataset: Dataset) -> dict[str, Any]:
    """The form values of a stored dataset."""
    values = metadata_of(dataset)
    form = empty_form()
    for field in TEXT_FIELDS:
        form[field] = "" if values.get(field) is None else str(values[field])
    method = values.get("share_method") or {}
    form.update({"owner_org": dataset.owner_org, "private": bool(dataset.private),
                 "tags": ", ".join(values.get("tags") or []),
                 "related_codes": "\n".join(values.get("related_codes") or []),
                 "share_channel": method.get("channel", ""), "share_method_type": method.get("type", ""),
                 "items": [{k: "" if item.get(k) is None else str(item.get(k)) for k in ITEM_FIELDS}
                           for item in values.get("items") or []]})
    return form


def form_from_post(posted: MultiDict) -> dict[str, Any]:
    """The form values as posted (strings), rows in their posted order, blank rows dropped."""
    form = empty_form()
    for field in TEXT_FIELDS:
        form[field] = (posted.get(field) or "").strip()
    form["owner_org"] = (posted.get("owner_org") or "").strip()
    form["private"] = posted.get("private") in ("1", "on", "true", "y")
    for field in ("tags", "related_codes", "share_channel", "share_method_type"):
        form[field] = (posted.get(field) or "").strip()
    rows: dict[int, dict[str, str]] = {}
    for key in posted:
        match = _ROW.match(key)
        if match:
            rows.setdefault(int(match.group(1)), {})[match.group(2)] = (posted.get(key) or "").strip()
    items = []
    for index in sorted(rows)[:MAX_ROWS]:
        row = {k: rows[index].get(k, "") for k in ITEM_FIELDS}
        if any(row[k] for k in ("name", "length", "description")):
            items.append(row)
    form["items"] = items
    return form


def apply_row_action(form: dict[str, Any], action: str) -> bool:
    """Carry out a no-JavaScript row button (``up-2``, ``down-0``, ``remove-1``); say if it was one."""
    match = re.match(r"^(up|down|remove)-(\d{1,3})$", action or "")
    if not match:
        return False
    kind, index = match.group(1), int(match.group(2))
    items = form["items"]
    if not 0 <= index < len(items):
        return True
    if kind == "remove":
        items.pop(index)
    elif kind == "up" and index > 0:
        items[index - 1], items[index] = items[index], items[index - 1]
    elif kind == "down" and index < len(items) - 1:
        items[index + 1], items[index] = items[index], items[index + 1]
    return True


def _split(raw: str, pattern: str) -> list[str]:
    return [part.strip() for part in re.split(pattern, raw) if part.strip()]


def name_from_title(title: str) -> str:
    """A URL name from a title: its pinyin, lower case, words joined by - (宁陕县低保对象 → ning-shan-xian-...)."""
    words = [re.sub(r"[^a-z0-9]+", "-", w.lower()).strip("-") for w in lazy_pinyin(title or "")]
    name = re.sub(r"-{2,}", "-", "-".join(w for w in words if w))[:90].strip("-")
    return name if len(name) >= 2 else ""


def values_from_form(form: dict[str, Any], *, state: str) -> tuple[dict[str, Any], list[str], dict[str, list[str]]]:
    """The service's ``values`` and ``tags``, and the errors found before the service runs."""
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {field: form[field] or None for field in TEXT_FIELDS}
    values["owner_org"] = form["owner_org"] or None
    values["private"] = form["private"]
    values["state"] = state
    values["related_codes"] = _split(form["related_codes"], r"[\s,，;；]+")
    if form["share_channel"] or form["share_method_type"]:
        values["share_method"] = {"channel": form["share_channel"] or None, "type": form["share_method_type"] or None}
        values["share_method"] = {k: v for k, v in values["share_method"].items() if v}
    items = []
    for index, row in enumerate(form["items"]):
        item: dict[str, Any] = {"name": row["name"], "type": row["type"]}
        if not row["name"]:
            item.pop("name")
        if not row["type"]:
            item.pop("type")
        if row["length"]:
            try:
                item["length"] = int(row["length"])
            except ValueError:
                errors[f"items.{index}.length"] = ["must be a whole number"]
        if row["description"]:
            item["description"] = row["description"]
        items.append(item)
    values["items"] = items
    tags = _split(form["tags"], r"[,，;；]+")
    return values, tags, errors
