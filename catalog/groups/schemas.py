"""What crosses the API for themes (CKAN groups)."""
from __future__ import annotations

from typing import Any

from marshmallow import fields, validate

from ..api.fields import JsonList, ParamsSchema, ShowParams, id_field, limit_field, offset_field, query_field
from .themes import theme_title, themes

#: The keys of a group dict (group_list all_fields, group_show); the OpenAPI result.
GROUP_RESULT = {"type": "object", "properties": {
    key: {"type": kind} for key, kind in (
        ("id", "string"), ("name", "string"), ("title", "string"), ("display_name", "string"),
        ("description", "string"), ("image_url", "string"), ("image_display_url", "string"),
        ("state", "string"), ("type", "string"), ("is_organization", "boolean"),
        ("approval_status", "string"), ("package_count", "integer"), ("num_followers", "integer"))}}


def theme_dict(code: str, *, lang: str, package_count: int | None = None) -> dict[str, Any]:
    """A theme as CKAN shows a group: its code is its id and name, its title in the caller's language."""
    names = themes()[code]
    result: dict[str, Any] = {
        "id": code, "name": code, "title": theme_title(code, lang), "display_name": theme_title(code, lang),
        "description": f"GB/T 21063.4 {code} {names['zh']} / {names.get('en', '')}".rstrip(" /"),
        "image_url": "", "image_display_url": "", "created": None, "state": "active", "type": "group",
        "is_organization": False, "approval_status": "approved", "num_followers": 0,
    }
    if package_count is not None:
        result["package_count"] = package_count
    return result


def theme_ref(code: str, *, lang: str) -> dict[str, Any]:
    """A theme as a dataset's ``groups`` lists it."""
    return {"id": code, "name": code, "title": theme_title(code, lang), "display_name": theme_title(code, lang),
            "description": theme_dict(code, lang=lang)["description"], "image_display_url": ""}


class GroupListParams(ParamsSchema):
    """group_list's parameters, as CKAN's."""

    all_fields = fields.Boolean(load_default=False)
    sort = fields.String(load_default="title asc",
                         metadata={"description": "name, title or package_count, then asc or desc"})
    order_by = fields.String(load_default=None, validate=validate.OneOf(["name", "title", "package_count"]),
                             metadata={"description": "deprecated in CKAN: use sort"})
    q = query_field()
    groups = JsonList(fields.String(), load_default=None, metadata={"description": "only these names"})
    type = fields.String(load_default="group", validate=validate.OneOf(["group"]))
    limit = limit_field(1000, 1000)
    offset = offset_field()
    include_dataset_count = fields.Boolean(load_default=True)
    include_extras = fields.Boolean(load_default=False)
    include_tags = fields.Boolean(load_default=False)
    include_groups = fields.Boolean(load_default=False)
    include_users = fields.Boolean(load_default=False)


class GroupShowParams(ShowParams):
    """group_show's parameters, as CKAN's."""

    id = id_field("group id or name (a GB/T 21063.4 theme code, e.g. 218)")


class GroupPackageShowParams(ParamsSchema):
    """group_package_show's parameters."""

    id = id_field("group id or name")
    limit = limit_field(1000, 1000)
    offset = offset_field()


class MemberParams(ParamsSchema):
    """member_create / member_delete on a theme: file a dataset under it or take it out."""

    id = id_field("group id or name")
    object = fields.String(required=True, metadata={"description": "dataset id or name"})
    object_type = fields.String(required=True, validate=validate.OneOf(["package"]),
                                metadata={"description": "package (a theme's members are datasets)"})
    capacity = fields.String(load_default="public", validate=validate.OneOf(["public"]))
