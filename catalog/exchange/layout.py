"""The layout of the catalog compilation sheet (政务数据资源目录编制表), read from the metadata profile.

Column headings are the profile's ``x-labels`` (zh) and enum cells its ``x-enumLabels`` (zh), so a
label changed in ``schemas/metadata/dataset/1.json`` changes the sheet without touching code. Only
the provider columns (the department is not a profile field) are named here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from schemas.registry import load_schema, parse_ref

from ..datasets.validation import DEFAULT_PROFILE

DATASETS_SHEET = "信息资源"
ITEMS_SHEET = "信息项"
#: separators accepted between list values in one cell (related codes, tags); the first is written
LIST_SEPARATORS = ("；", ";", "，", ",", "\n", "、")

PROVIDER_NAME = "provider_name"
PROVIDER_TITLE = "provider_title"
PROVIDER_CODE = "provider_code"
_PROVIDER_LABELS = {PROVIDER_TITLE: "信息资源提供方", PROVIDER_CODE: "提供方代码", PROVIDER_NAME: "提供方标识名"}

#: dataset columns in sheet order: profile paths, the three provider columns, ``tags``
DATASET_COLUMNS = (
    "category", "title", "resource_code", PROVIDER_TITLE, PROVIDER_CODE, PROVIDER_NAME, "name", "notes",
    "share_type", "share_condition", "share_method.channel", "share_method.type", "open_type",
    "open_condition", "update_cycle", "publish_date", "related_codes", "record_schema", "tags", "state",
    "private", "url", "version", "author", "author_email", "maintainer", "maintainer_email", "license_id",
)
#: item columns: the key of the dataset, a position, then the profile's item fields
ITEM_KEY_COLUMNS = ("resource_code", "name", "title")
ITEM_COLUMNS = ("name", "type", "length", "description")
ITEM_POSITION_LABEL = "序号"


@dataclass(frozen=True)
class Column:
    """One column: its profile path, heading, kind and (for enums) value ↔ label maps."""

    path: str
    label: str
    kind: str  # text, enum, date, list, boolean, integer, tags, provider
    labels: dict[str, str] = field(default_factory=dict)  # value → zh label
    aliases: dict[str, str] = field(default_factory=dict)  # any accepted spelling (folded) → value

    def show(self, value: Any) -> Any:
        """The cell value for a stored value."""
        if value is None:
            return None
        if self.kind == "enum":
            return self.labels.get(value, value)
        if self.kind in ("list", "tags"):
            return LIST_SEPARATORS[0].join(value) if value else None
        if self.kind == "boolean":
            return "是" if value else "否"
        return value


def _fold(text: str) -> str:
    return "".join(str(text).split()).lower()


def _property(profile: dict[str, Any], path: str) -> dict[str, Any]:
    node = profile
    for part in path.split("."):
        node = node["properties"][part]
    return node


def _column(prop: dict[str, Any], path: str) -> Column:
    label = prop.get("x-labels", {}).get("zh", path)
    if "enum" in prop:
        enum_labels = prop.get("x-enumLabels", {})
        labels = {value: enum_labels.get(value, {}).get("zh", value) for value in prop["enum"]}
        aliases: dict[str, str] = {}
        for value in prop["enum"]:
            for spelling in (value, *enum_labels.get(value, {}).values()):
                aliases[_fold(spelling)] = value
        return Column(path, label, "enum", labels, aliases)
    kind = {"boolean": "boolean", "integer": "integer", "array": "list"}.get(prop.get("type"), "text")
    if prop.get("format") == "date":
        kind = "date"
    return Column(path, label, kind)


@lru_cache(maxsize=4)
def dataset_columns(profile: str = DEFAULT_PROFILE) -> tuple[Column, ...]:
    """The dataset sheet's columns."""
    document = load_schema("metadata", *parse_ref(profile))
    columns = []
    for path in DATASET_COLUMNS:
        if path in _PROVIDER_LABELS:
            columns.append(Column(path, _PROVIDER_LABELS[path], "provider"))
        elif path == "tags":
            columns.append(Column(path, document["properties"]["tags"]["x-labels"]["zh"], "tags"))
        else:
            columns.append(_column(_property(document, path), path))
    return tuple(columns)


@lru_cache(maxsize=4)
def item_columns(profile: str = DEFAULT_PROFILE) -> tuple[Column, ...]:
    """The data item sheet's columns: the dataset's key, the position, then the item fields."""
    document = load_schema("metadata", *parse_ref(profile))
    keys = [_column(_property(document, path), path) for path in ITEM_KEY_COLUMNS]
    item = document["properties"]["items"]["items"]
    fields_ = [_column(item["properties"][name], f"items.{name}") for name in ITEM_COLUMNS]
    return (*keys, Column("position", ITEM_POSITION_LABEL, "integer"), *fields_)


def profile_label(path: str, profile: str = DEFAULT_PROFILE) -> str:
    """The zh label of a top-level profile field (``items`` → 信息项), or the path itself."""
    document = load_schema("metadata", *parse_ref(profile))
    prop = document["properties"].get(path.split(".", 1)[0], {})
    return prop.get("x-labels", {}).get("zh", path)


def lookup(columns: tuple[Column, ...]) -> dict[str, Column]:
    """Heading (zh label, or the profile path) → column, for reading a sheet."""
    found: dict[str, Column] = {}
    for column in columns:
        found[_fold(column.label)] = column
        found[_fold(column.path)] = column
    return found


def fold(text: str) -> str:
    """A heading or enum spelling compared without spaces and case."""
    return _fold(text)
