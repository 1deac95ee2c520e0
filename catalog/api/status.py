"""Actions about the API itself: status_show and help_show."""
from __future__ import annotations

from marshmallow import fields

from .fields import ParamsSchema
from .registry import ACTIONS, ActionContext, action

CKAN_VERSION = "2.10.0"  # the API level we answer as; clients such as ckanapi check it


class HelpParams(ParamsSchema):
    name = fields.String(required=True, metadata={"description": "an action name"})


@action("status_show", result={"type": "object"}, read_only=True)
def status_show(ctx: ActionContext, data: dict) -> dict:
    """The site's title, URL, API level and default locale."""
    from .. import __version__

    return {
        "site_title": ctx.config.get("SITE_TITLE"),
        "site_url": ctx.config.get("SITE_URL"),
        "site_description": "Government data resource catalog (政务数据资源目录)",
        "ckan_version": CKAN_VERSION,
        "catalog_version": __version__,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore"] if "datastore_search" in ACTIONS else [],
    }


@action("help_show", params=HelpParams, result={"type": "string"}, read_only=True)
def help_show(ctx: ActionContext, data: dict) -> str:
    """The documentation of an action."""
    from ..errors import NotFound

    spec = ACTIONS.get(data["name"])
    if spec is None:
        raise NotFound(f"Action not found: {data['name']}")
    return spec.doc
