"""Actions about the API itself: status_show and help_show."""
from __future__ import annotations

import logging

import sqlalchemy as sa
from flask import g
from marshmallow import fields

from ..auth import rules
from ..errors import OUTAGES, unavailable
from ..sync.tasks import broker_problem

from .fields import ParamsSchema
from .registry import ACTIONS, ActionContext, action
from .. import __version__
from ..errors import NotFound

log = logging.getLogger(__name__)
CKAN_VERSION = "2.10.0"  # the API level we answer as; clients such as ckanapi check it


class HelpParams(ParamsSchema):
    name = fields.String(required=True, metadata={"description": "an action name"})


@action("status_show", result={"type": "object"}, read_only=True)
def status_show(ctx: ActionContext, data: dict) -> dict:
    """The site's title, URL, API level and default locale."""
    return {
        "site_title": ctx.config.get("SITE_TITLE"),
        "site_url": ctx.config.get("SITE_URL"),
        "site_description": "Government data resource catalog (政务数据资源目录)",
        "ckan_version": CKAN_VERSION,
        "catalog_version": __version__,
        "locale_default": "zh_Hans_CN",
        "extensions": ["datastore"] if "datastore_search" in ACTIONS else [],
        "dependencies": dependencies(ctx),
    }


def dependencies(ctx: ActionContext) -> dict:
    """Whether the database and the broker (when one is configured) answer: ``{"database": "ok"}``, or
    ``{"database": "unavailable"}`` naming the one that is down (docs/OPERATIONS.md); sysadmins also read
    the cause (``"unavailable: <cause>"``), which names hosts and ports that others need not know."""
    found = {}
    explain = rules.is_sysadmin(ctx.actor)
    try:
        ctx.session.execute(sa.text("SELECT 1"))
        found["database"] = "ok"
    except Exception as error:  # noqa: BLE001 - reported, not raised: this action says what is down
        down = unavailable(error)
        if down is None:
            raise
        ctx.session.invalidate()
        OUTAGES.failed("database", down.cause, log)
        g.dependency_down = True
        found["database"] = f"unavailable: {down.cause}" if explain else "unavailable"
    if ctx.config.get("BROKER_URL"):
        problem = broker_problem(ctx.config["BROKER_URL"])
        found["broker"] = "ok" if not problem else f"unavailable: {problem}" if explain else "unavailable"
    return found


@action("help_show", params=HelpParams, result={"type": "string"}, read_only=True)
def help_show(ctx: ActionContext, data: dict) -> str:
    """The documentation of an action."""
    spec = ACTIONS.get(data["name"])
    if spec is None:
        raise NotFound(f"Action not found: {data['name']}")
    return spec.doc
