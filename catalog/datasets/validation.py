"""Validate dataset metadata against its JSON Schema profile, plus the two rules a schema cannot say."""
from __future__ import annotations

from typing import Any

from schemas import get_validator
from schemas.registry import parse_ref

from ..errors import ValidationError

DEFAULT_PROFILE = "dataset@1"


def metadata_errors(document: dict[str, Any], profile: str = DEFAULT_PROFILE) -> dict[str, list[str]]:
    """Field path → messages for every rule the document breaks."""
    name, version = parse_ref(profile)
    errors: dict[str, list[str]] = {}
    for error in get_validator("metadata", name, version).errors(document):
        errors.setdefault(error.path or "__root__", []).append(error.message)
    for path, message in _cross_field_errors(document):
        errors.setdefault(path, []).append(message)
    return errors


def _cross_field_errors(document: dict[str, Any]):
    # JSON Schema cannot compare one field's value with another's; these two rules live here.
    code, category = document.get("resource_code"), document.get("category")
    if isinstance(code, str) and isinstance(category, str) and "/" in code and category.isdigit():
        prefix = code.split("/", 1)[0]
        if prefix.isdigit() and not prefix.startswith(category):
            yield "resource_code", f"must begin with the classification code {category}"
    seen: set[str] = set()
    for index, item in enumerate(document.get("items") or []):
        name = item.get("name") if isinstance(item, dict) else None
        if isinstance(name, str):
            if name in seen:
                yield f"items.{index}.name", f"duplicate data item name {name}"
            seen.add(name)


def validate_metadata(document: dict[str, Any], profile: str = DEFAULT_PROFILE) -> None:
    """Raise :class:`ValidationError` naming each field that breaks the profile."""
    errors = metadata_errors(document, profile)
    if errors:
        raise ValidationError(errors)
