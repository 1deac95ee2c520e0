"""Marshmallow building blocks shared by the action schemas."""
from __future__ import annotations

import datetime as dt
import json

from flask import has_request_context
from flask_babel import get_locale
from marshmallow import EXCLUDE, Schema, ValidationError, fields
from marshmallow.validate import Length, Range

from ..search.text import MAX_QUERY_CHARS


class ParamsSchema(Schema):
    """Base of action parameter schemas: unknown keys are ignored, as CKAN does."""

    class Meta:
        unknown = EXCLUDE


class ShowParams(ParamsSchema):
    """The ``include_*`` switches CKAN's ``organization_show`` and ``group_show`` share (same names, same defaults)."""

    include_datasets = fields.Boolean(load_default=False)
    include_dataset_count = fields.Boolean(load_default=True)
    include_extras = fields.Boolean(load_default=True)
    include_users = fields.Boolean(load_default=True)
    include_groups = fields.Boolean(load_default=True)
    include_tags = fields.Boolean(load_default=True)
    include_followers = fields.Boolean(load_default=True)


class CkanDateTime(fields.Field):
    """A UTC timestamp written as CKAN does: ISO 8601 without a zone (``2026-01-03T08:00:00.123456``)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


class JsonList(fields.List):
    """A list that may also arrive as a JSON string (GET query parameters, forms)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError("must be a JSON list") from None
        return super()._deserialize(value, attr, data, **kwargs)


class JsonDict(fields.Dict):
    """A mapping that may also arrive as a JSON string (GET query parameters, forms)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                raise ValidationError("must be a JSON object") from None
        return super()._deserialize(value, attr, data, **kwargs)


def limit_field(default: int, maximum: int) -> fields.Integer:
    """A page size parameter between 0 and ``maximum``."""
    return fields.Integer(load_default=default, validate=Range(min=0, max=maximum),
                          metadata={"description": f"page size, at most {maximum}"})


#: The largest offset or page size the databases take (SQLite and PostgreSQL bind at most 64-bit
#: integers; a larger one made the driver raise instead of the API answering 409).
MAX_OFFSET = 2**31 - 1


def offset_field() -> fields.Integer:
    """A non-negative offset parameter (at most :data:`MAX_OFFSET`)."""
    return fields.Integer(load_default=0, validate=Range(min=0, max=MAX_OFFSET))


def revision_field() -> fields.Integer:
    """The dataset revision a writer last read (optional): a newer stored one makes the write fail with 409."""
    return fields.Integer(allow_none=True, validate=Range(min=0, max=MAX_OFFSET), metadata={
        "description": "the revision you last read; a newer stored one makes the write fail with 409"})


def query_field(**kwargs) -> fields.String:
    """A free-text query parameter of at most :data:`~catalog.search.text.MAX_QUERY_CHARS` characters."""
    kwargs.setdefault("load_default", None)
    return fields.String(validate=Length(max=MAX_QUERY_CHARS), **kwargs)


def id_field(description: str = "id or name") -> fields.String:
    """A required id-or-name parameter."""
    return fields.String(required=True, metadata={"description": description})


def request_lang() -> str:
    """The caller's language for names shipped in two (``zh`` or ``en``), from the request's locale."""
    locale = get_locale() if has_request_context() else None
    return "en" if locale is not None and locale.language == "en" else "zh"
