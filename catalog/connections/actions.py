"""Connection actions: connection_create/update/delete (sysadmins), connection_list/show."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, JsonDict, JsonList, ParamsSchema, id_field
from ..api.registry import ActionContext, action
from ..auth import rules
from ..sync import secrets
from . import service
from .models import KINDS, Connection

#: config keys whose every value is a credential
ALL_SECRET = ("headers",)


def shown_config(ctx: ActionContext, connection: Connection) -> dict[str, Any] | None:
    """The config as a sysadmin sees it (credentials as ***); None for everyone else."""
    if not rules.is_sysadmin(ctx.actor):
        return None
    try:
        config = service.clear_config(ctx.session, connection)
    except Exception:  # noqa: BLE001 - sealed under another SECRET_KEY: nothing of it can be shown
        return {key: "***" for key in connection.config or {}}

    def redact(value: Any, name: str = "") -> Any:
        if isinstance(value, dict):
            return {k: "***" if name in ALL_SECRET else redact(v, str(k)) for k, v in value.items()}
        if isinstance(value, str) and value and secrets.SECRET_KEY_NAMES.search(name):
            return "***"
        if isinstance(value, str):
            return secrets.URL_PASSWORD.sub(r"\1***@", value)
        return value

    return redact(config)


class ConnectionOut(Schema):
    id = fields.String()
    name = fields.String()
    title = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    kind = fields.String()
    organizations = fields.List(fields.String())
    config = fields.Raw(allow_none=True, metadata={"description": "sysadmins only; credentials as ***"})
    created = CkanDateTime()
    modified = CkanDateTime()


def _out(ctx: ActionContext, connection: Connection | list[Connection], many: bool = False) -> Any:
    """The answer: the stored config never leaves as it is, only :func:`shown_config`'s view of it."""
    if many:
        return [_out(ctx, c) for c in connection]
    return {**ConnectionOut(exclude=("config",)).dump(connection), "config": shown_config(ctx, connection)}


class ConnectionFields(ParamsSchema):
    title = fields.String(allow_none=True, validate=validate.Length(max=200))
    description = fields.String(allow_none=True, validate=validate.Length(max=5000))
    config = JsonDict(metadata={"description": "folder: {path}; database: {url, allow_superuser}; "
                                               "http: {url, headers, token, token_header, token_prefix}"})
    organizations = JsonList(fields.String(), metadata={"description": "the departments whose jobs may use it"})


class ConnectionCreateParams(ConnectionFields):
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(KINDS))
    config = JsonDict(required=True)


class ConnectionUpdateParams(ConnectionFields):
    id = id_field("connection id or name")


class ConnectionIdParams(ParamsSchema):
    id = id_field("connection id or name")


@action("connection_create", params=ConnectionCreateParams, result=ConnectionOut)
def connection_create(ctx: ActionContext, data: dict) -> dict:
    """Register a connection (a folder, a database or an HTTP service) jobs may read (sysadmins only)."""
    connection = service.create_connection(
        ctx.session, ctx.actor, name=data["name"], kind=data["kind"], config=data["config"],
        title=data.get("title"), description=data.get("description"), organizations=data.get("organizations"))
    return _out(ctx, connection)


@action("connection_update", params=ConnectionUpdateParams, result=ConnectionOut)
def connection_update(ctx: ActionContext, data: dict) -> dict:
    """Change a connection (sysadmins only); ``***`` in config keeps the stored credential."""
    rules.require(rules.can_manage_connections(ctx.actor), "Only sysadmins change connections")
    connection = service.get_connection(ctx.session, data.pop("id"))
    return _out(ctx, service.update_connection(ctx.session, ctx.actor, connection, data))


@action("connection_delete", params=ConnectionIdParams, result={"type": "object", "nullable": True})
def connection_delete(ctx: ActionContext, data: dict) -> None:
    """Remove a connection no sync job uses (sysadmins only)."""
    rules.require(rules.can_manage_connections(ctx.actor), "Only sysadmins remove connections")
    service.delete_connection(ctx.session, ctx.actor, service.get_connection(ctx.session, data["id"]))
    return None


@action("connection_list", params=ParamsSchema.from_dict({}, name="ConnectionListParams"),
        result=[ConnectionOut], read_only=True)
def connection_list(ctx: ActionContext, data: dict) -> list:
    """The connections open to my departments (all, for sysadmins): names, kinds and descriptions."""
    return _out(ctx, service.list_connections(ctx.session, ctx.actor), many=True)


@action("connection_show", params=ConnectionIdParams, result=ConnectionOut, read_only=True)
def connection_show(ctx: ActionContext, data: dict) -> dict:
    """One connection (its configuration, credentials as ***, for sysadmins only)."""
    return _out(ctx, service.show_connection(ctx.session, ctx.actor, data["id"]))
