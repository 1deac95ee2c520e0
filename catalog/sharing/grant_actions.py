"""Grant and use record actions: delivery and its lists, suspension by the data authority, use records."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, ParamsSchema, id_field, limit_field, offset_field
from ..api.registry import ActionContext, action
from . import grants, usage
from .models import USAGE_KINDS


class ShareGrantOut(Schema):
    id = fields.String()
    package_id = fields.String()
    package_name = fields.String(attribute="dataset.name")
    provider_id = fields.String(attribute="dataset.owner_org")
    organization_id = fields.String()
    organization_name = fields.String(attribute="organization.name")
    request_id = fields.String(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    status = fields.Function(grants.grant_status, metadata={"description": "active, suspended, expired or revoked"})
    created = CkanDateTime()
    expires_at = CkanDateTime(allow_none=True)
    revoked_at = CkanDateTime(allow_none=True)
    delivery_due = fields.Date(allow_none=True, metadata={"description": "20 working days after approval"})
    delivered_at = CkanDateTime(allow_none=True, metadata={"description": "the grantee's first read"})
    delivery_overdue = fields.Function(lambda g: grants.delivery_overdue(g))
    suspended_at = CkanDateTime(allow_none=True)
    suspended_reason = fields.String(allow_none=True)
    #: filled by :func:`_dump` (they need the calendar and the use records)
    destruction_due = fields.Date(allow_none=True, metadata={"description": "10 working days after the last day"})
    destruction_overdue = fields.Boolean()


class UsageRecordOut(Schema):
    id = fields.String()
    grant_id = fields.String()
    kind = fields.String()
    description = fields.String()
    occurred_on = fields.Date()
    retain_until = fields.Date(metadata={"description": "deleting is refused before this day"})
    created_by = fields.String(allow_none=True)
    created = CkanDateTime()


class GrantIdParams(ParamsSchema):
    id = id_field("share grant id")


class GrantReasonParams(ParamsSchema):
    id = id_field("share grant id")
    reason = fields.String(required=True, validate=validate.Length(max=4000))


class GrantListParams(ParamsSchema):
    direction = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["incoming", "outgoing"]),
                              metadata={"description": "grants my departments gave, or hold (default: both)"})
    organization_id = fields.String(load_default=None)
    package_id = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(["active", "suspended", "expired", "revoked"]))
    undelivered = fields.Boolean(load_default=None, allow_none=True)
    overdue = fields.Boolean(load_default=None, allow_none=True,
                             metadata={"description": "undelivered past the delivery day"})
    destruction_overdue = fields.Boolean(load_default=None, allow_none=True,
                                         metadata={"description": "ended without a destruction record in time"})
    offset = offset_field()
    limit = limit_field(100, 1000)


class UsageRecordCreateParams(ParamsSchema):
    grant_id = id_field("share grant id")
    kind = fields.String(required=True, validate=validate.OneOf(USAGE_KINDS))
    description = fields.String(required=True, validate=validate.Length(max=4000))
    occurred_on = fields.Date(load_default=None, allow_none=True, metadata={"description": "default: today"})


class UsageRecordListParams(ParamsSchema):
    grant_id = id_field("share grant id")


class UsageRecordDeleteParams(ParamsSchema):
    id = id_field("use record id")


def _one(ctx: ActionContext, grant) -> dict:
    out = ShareGrantOut().dump(grant)
    due = grants.destruction_due(grant, ctx.config)
    out["destruction_due"] = due.isoformat() if due else None
    out["destruction_overdue"] = grants.destruction_overdue(ctx.session, grant, ctx.config)
    return out


def _dump(ctx: ActionContext, grant, many: bool = False):
    return [_one(ctx, g) for g in grant] if many else _one(ctx, grant)


@action("share_grant_show", params=GrantIdParams, result=ShareGrantOut, read_only=True)
def share_grant_show(ctx: ActionContext, data: dict) -> dict:
    """One grant with its delivery, suspension and destruction days."""
    return _dump(ctx, grants.get_grant(ctx.session, ctx.actor, data["id"], ctx.config))


@action("share_grant_list", params=GrantListParams, result=[ShareGrantOut], read_only=True)
def share_grant_list(ctx: ActionContext, data: dict) -> list:
    """Grants my departments gave or hold (all of them for the data authority), the nearest delivery day first."""
    found = grants.list_grants(ctx.session, ctx.actor, config=ctx.config, direction=data["direction"],
                               organization_id=data["organization_id"], package_id=data["package_id"],
                               undelivered=data["undelivered"], overdue=data["overdue"],
                               destruction_overdue_only=data["destruction_overdue"], status=data["status"],
                               offset=data["offset"], limit=data["limit"])
    return _dump(ctx, found, many=True)


@action("share_grant_suspend", params=GrantReasonParams, result=ShareGrantOut)
def share_grant_suspend(ctx: ActionContext, data: dict) -> dict:
    """The data authority stops a grant for misuse, with a reason: every read under it is refused at once."""
    grant = grants.get_grant(ctx.session, ctx.actor, data["id"], ctx.config)
    grants.suspend_grant(ctx.session, ctx.actor, grant, reason=data["reason"], config=ctx.config)
    return _dump(ctx, grant)


@action("share_grant_resume", params=GrantReasonParams, result=ShareGrantOut)
def share_grant_resume(ctx: ActionContext, data: dict) -> dict:
    """The data authority lifts a suspension, with a reason."""
    grant = grants.get_grant(ctx.session, ctx.actor, data["id"], ctx.config)
    grants.resume_grant(ctx.session, ctx.actor, grant, reason=data["reason"], config=ctx.config)
    return _dump(ctx, grant)


@action("usage_record_create", params=UsageRecordCreateParams, result=UsageRecordOut)
def usage_record_create(ctx: ActionContext, data: dict) -> dict:
    """Record a use, the storage or the destruction of a grant's data (the grantee department)."""
    grant = grants.get_grant(ctx.session, ctx.actor, data["grant_id"], ctx.config)
    record = usage.create_usage_record(ctx.session, ctx.actor, grant, kind=data["kind"],
                                       description=data["description"], occurred_on=data["occurred_on"],
                                       config=ctx.config)
    return UsageRecordOut().dump(record)


@action("usage_record_list", params=UsageRecordListParams, result=[UsageRecordOut], read_only=True)
def usage_record_list(ctx: ActionContext, data: dict) -> list:
    """A grant's use records, oldest first (both departments and the data authority)."""
    grant = grants.get_grant(ctx.session, ctx.actor, data["grant_id"], ctx.config)
    return UsageRecordOut(many=True).dump(usage.list_usage_records(ctx.session, grant))


@action("usage_record_delete", params=UsageRecordDeleteParams)
def usage_record_delete(ctx: ActionContext, data: dict) -> None:
    """Delete a use record once it has been kept 3 years (refused before)."""
    record = usage.get_usage_record(ctx.session, ctx.actor, data["id"], ctx.config)
    usage.delete_usage_record(ctx.session, ctx.actor, record)
    return None
