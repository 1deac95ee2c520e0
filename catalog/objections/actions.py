"""Correction request actions: objection_create, _accept, _resolve, _show, _list."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, JsonDict, JsonList, ParamsSchema, id_field, limit_field, offset_field
from ..api.registry import ActionContext, action
from ..datasets.service import show_dataset
from . import service
from .models import OBJECTION_STATES, OUTCOMES


class ObjectionOut(Schema):
    id = fields.String()
    package_id = fields.String()
    package_name = fields.String(attribute="dataset.name")
    package_title = fields.String(attribute="dataset.title", allow_none=True)
    resource_id = fields.String(allow_none=True)
    provider_id = fields.String()
    provider_name = fields.String(attribute="provider.name")
    organization_id = fields.String()
    organization_name = fields.String(attribute="organization.name")
    filer_id = fields.String(allow_none=True)
    scope = fields.String()
    keys = fields.List(fields.String())
    filters = fields.Dict(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    reason = fields.String()
    evidence = fields.String(allow_none=True)
    evidence_url = fields.String(allow_none=True)
    status = fields.String()
    outcome = fields.String(allow_none=True)
    note = fields.String(allow_none=True)
    corrections = fields.List(fields.Dict())
    created = CkanDateTime()
    deadline = fields.Date()
    overdue = fields.Function(lambda o: service.is_overdue(o))
    settled_in_time = fields.Function(lambda o: service.settled_in_time(o))
    accepted = CkanDateTime(allow_none=True)
    resolved = CkanDateTime(allow_none=True)


def _out(ctx: ActionContext, objection) -> dict:
    """The objection as the caller may see it: sensitive keys and filter values masked as their access says."""
    return {**ObjectionOut().dump(objection), **service.shown_to(ctx.session, ctx.actor, objection)}


class ObjectionCreateParams(ParamsSchema):
    package_id = id_field("dataset id or name")
    organization_id = id_field("the filing department (it uses the dataset's shared data)")
    resource_id = fields.String(load_default=None, allow_none=True,
                                metadata={"description": "the DataStore resource; none: the whole dataset"})
    keys = JsonList(fields.Raw(), load_default=None, allow_none=True,
                    metadata={"description": "record keys (_key) or objects of key fields"})
    filters = JsonDict(load_default=None, allow_none=True,
                       metadata={"description": "or the records a filter matches now"})
    fields_ = JsonList(fields.String(), data_key="fields", required=True,
                       metadata={"description": "the fields whose values are doubted"})
    reason = fields.String(required=True, validate=validate.Length(max=service.MAX_TEXT))
    evidence = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=service.MAX_TEXT))
    evidence_url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class ObjectionIdParams(ParamsSchema):
    id = id_field("correction request id")


class ObjectionResolveParams(ParamsSchema):
    id = id_field("correction request id")
    outcome = fields.String(required=True, validate=validate.OneOf(OUTCOMES))
    note = fields.String(required=True, validate=validate.Length(max=service.MAX_TEXT))
    changes = JsonList(fields.Raw(), load_default=None, allow_none=True,
                       metadata={"description": "corrected: change numbers (_seq) or record keys changed after filing"})


class ObjectionListParams(ParamsSchema):
    direction = fields.String(load_default=None, allow_none=True, validate=validate.OneOf(["incoming", "outgoing"]),
                              metadata={"description": "to my departments (as provider), from them, or both"})
    package_id = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(OBJECTION_STATES))
    overdue = fields.Boolean(load_default=None, allow_none=True)
    offset = offset_field()
    limit = limit_field(100, 1000)


@action("objection_create", params=ObjectionCreateParams, result=ObjectionOut)
def objection_create(ctx: ActionContext, data: dict) -> dict:
    """File a correction request (数据异议) on records or a dataset your department uses; settled within 10 working days."""
    dataset = show_dataset(ctx.session, ctx.actor, data["package_id"])
    objection = service.create_objection(
        ctx.session, ctx.actor, dataset=dataset, organization_id=data["organization_id"],
        resource_id=data["resource_id"], keys=data["keys"], filters=data["filters"], fields=data["fields_"],
        reason=data["reason"], evidence=data["evidence"], evidence_url=data["evidence_url"], config=ctx.config)
    return _out(ctx, objection)


@action("objection_show", params=ObjectionIdParams, result=ObjectionOut, read_only=True)
def objection_show(ctx: ActionContext, data: dict) -> dict:
    """One correction request, to its two departments and the data authority."""
    return _out(ctx, service.get_objection(ctx.session, ctx.actor, data["id"], ctx.config))


@action("objection_list", params=ObjectionListParams, result=[ObjectionOut], read_only=True)
def objection_list(ctx: ActionContext, data: dict) -> list:
    """Correction requests to or from my departments (all of them for the authority), earliest deadline first."""
    return [_out(ctx, o) for o in service.list_objections(ctx.session, ctx.actor, config=ctx.config, **data)]


@action("objection_accept", params=ObjectionIdParams, result=ObjectionOut)
def objection_accept(ctx: ActionContext, data: dict) -> dict:
    """The provider takes the correction request up for verification."""
    objection = service.get_objection(ctx.session, ctx.actor, data["id"], ctx.config)
    service.accept_objection(ctx.session, ctx.actor, objection, config=ctx.config)
    return _out(ctx, objection)


@action("objection_resolve", params=ObjectionResolveParams, result=ObjectionOut)
def objection_resolve(ctx: ActionContext, data: dict) -> dict:
    """Settle it: corrected (naming the record changes), confirmed_correct or rejected, with a note; the flag is lifted."""
    objection = service.get_objection(ctx.session, ctx.actor, data["id"], ctx.config)
    service.resolve_objection(ctx.session, ctx.actor, objection, outcome=data["outcome"], note=data["note"],
                              changes=data["changes"], config=ctx.config)
    return _out(ctx, objection)
