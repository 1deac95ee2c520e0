"""CKAN group actions on themes: group_list, group_show, group_package_show, member_create / member_delete."""
from __future__ import annotations

from ..api.fields import request_lang
from ..api.registry import ActionContext, action
from ..datasets import service as dataset_service
from ..datasets.actions import dataset_dicts
from ..errors import ValidationError
from . import service
from .schemas import (GROUP_RESULT, GroupListParams, GroupPackageShowParams, GroupShowParams, MemberParams,
                      theme_dict)

_LIST_RESULT = {"type": "array", "items": {"oneOf": [{"type": "string"}, GROUP_RESULT]}}


@action("group_list", params=GroupListParams, result=_LIST_RESULT, read_only=True)
def group_list(ctx: ActionContext, data: dict) -> list:
    """The themes (GB/T 21063.4's theme items): names, or whole dicts with ``all_fields``."""
    lang = request_lang()
    sort = data["order_by"] or data["sort"]
    codes = service.list_themes(ctx.session, ctx.actor, q=data["q"], sort=sort, offset=data["offset"],
                                limit=data["limit"], names=data["groups"], lang=lang)
    if not data["all_fields"]:
        return codes
    counts = service.theme_counts(ctx.session, ctx.actor, codes) if data["include_dataset_count"] else None
    result = []
    for code in codes:
        group = theme_dict(code, lang=lang, package_count=None if counts is None else counts.get(code, 0))
        for flag, key in (("include_extras", "extras"), ("include_tags", "tags"), ("include_groups", "groups"),
                          ("include_users", "users")):
            if data[flag]:
                group[key] = []  # themes have none of these: they are fixed by the standard
        result.append(group)
    return result


@action("group_show", params=GroupShowParams, result=GROUP_RESULT, read_only=True)
def group_show(ctx: ActionContext, data: dict) -> dict:
    """One theme, with the datasets filed under it that you can see (``include_datasets``)."""
    code = service.get_theme(data["id"])
    count = service.theme_counts(ctx.session, ctx.actor, [code]).get(code, 0) \
        if data["include_dataset_count"] else None
    result = theme_dict(code, lang=request_lang(), package_count=count)
    for flag, key in (("include_extras", "extras"), ("include_tags", "tags"), ("include_groups", "groups"),
                      ("include_users", "users")):
        if data[flag]:
            result[key] = []
    if data["include_datasets"]:
        result["packages"] = dataset_dicts(ctx, service.theme_datasets(ctx.session, ctx.actor, code))
    return result


@action("group_package_show", params=GroupPackageShowParams,
        result={"type": "array", "items": {"type": "object"}}, read_only=True)
def group_package_show(ctx: ActionContext, data: dict) -> list:
    """The datasets filed under a theme that you can see, the last changed first."""
    code = service.get_theme(data["id"])
    return dataset_dicts(ctx, service.theme_datasets(ctx.session, ctx.actor, code, offset=data["offset"],
                                                     limit=data["limit"]))


@action("member_create", params=MemberParams, result={"type": "object"})
def member_create(ctx: ActionContext, data: dict) -> dict:
    """File a dataset under a theme (its department's editors and admins)."""
    dataset = dataset_service.show_dataset(ctx.session, ctx.actor, data["object"])
    service.file_dataset(ctx.session, ctx.actor, dataset, data["id"])
    return {"group_id": data["id"], "table_id": dataset.id, "table_name": "package",
            "capacity": data["capacity"], "state": "active"}


@action("member_delete", params=MemberParams, result={"type": "object", "nullable": True})
def member_delete(ctx: ActionContext, data: dict) -> None:
    """Take a dataset out of a theme (its department's editors and admins)."""
    dataset = dataset_service.show_dataset(ctx.session, ctx.actor, data["object"])
    if not data["id"]:
        raise ValidationError.single("id", "Missing value")
    service.unfile_dataset(ctx.session, ctx.actor, dataset, data["id"])
    return None
