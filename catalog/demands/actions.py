"""Demand list actions: demand_create, _assign, _fulfil, _refuse, _show, _list."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, JsonList, ParamsSchema, id_field, limit_field, offset_field, query_field
from ..api.registry import ActionContext, action
from ..datasets.service import show_dataset
from . import service
from .models import DEMAND_STATES


class DemandOut(Schema):
    id = fields.String()
    title = fields.String()
    description = fields.String(allow_none=True)
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    basis = fields.String()
    purpose = fields.String()
    organization_id = fields.String()
    organization_name = fields.String(attribute="organization.name")
    status = fields.String()
    assignee_id = fields.String(allow_none=True)
    assignee_name = fields.Function(lambda d: d.assignee.name if d.assignee else None)
    assigned = CkanDateTime(allow_none=True)
    deadline = fields.Date(allow_none=True)
    overdue = fields.Function(lambda d: service.is_overdue(d))
    package_id = fields.String(allow_none=True)
    package_name = fields.Function(lambda d: d.dataset.name if d.dataset else None)
    answer = fields.String(allow_none=True)
    answered = CkanDateTime(allow_none=True)
    created = CkanDateTime()


class DemandCreateParams(ParamsSchema):
    organization_id = id_field("the department that needs the data")
    title = fields.String(required=True, validate=validate.Length(max=300), metadata={"description": "what data"})
    description = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=service.MAX_TEXT))
    fields_ = JsonList(fields.String(), data_key="fields", required=True,
                       metadata={"description": "the data items needed"})
    basis = fields.String(required=True, validate=validate.Length(max=service.MAX_TEXT),
                          metadata={"description": "使用依据: the law, policy or duty the need rests on"})
    purpose = fields.String(required=True, validate=validate.Length(max=service.MAX_TEXT))


class DemandIdParams(ParamsSchema):
    id = id_field("demand id")


class DemandAssignParams(ParamsSchema):
    id = id_field("demand id")
    organization_id = id_field("the source department (数源部门)")


class DemandFulfilParams(ParamsSchema):
    id = id_field("demand id")
    package_id = id_field("a dataset of the source department (existing or just created)")
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=service.MAX_TEXT))


class DemandRefuseParams(ParamsSchema):
    id = id_field("demand id")
    basis = fields.String(required=True, validate=validate.Length(max=service.MAX_TEXT),
                          metadata={"description": "the legal basis of the refusal"})


class DemandListParams(ParamsSchema):
    q = query_field(metadata={"description": "words in the title, description or purpose"})
    status = fields.String(load_default=None, validate=validate.OneOf(DEMAND_STATES))
    organization_id = fields.String(load_default=None, metadata={"description": "the department that needs it"})
    assignee_id = fields.String(load_default=None, metadata={"description": "the source department"})
    package_id = fields.String(load_default=None, metadata={"description": "demands this dataset fulfilled"})
    overdue = fields.Boolean(load_default=None, allow_none=True)
    offset = offset_field()
    limit = limit_field(100, 1000)


@action("demand_create", params=DemandCreateParams, result=DemandOut)
def demand_create(ctx: ActionContext, data: dict) -> dict:
    """Register data your department needs that the catalog lacks (需求清单)."""
    demand = service.create_demand(ctx.session, ctx.actor, organization_id=data["organization_id"],
                                   title=data["title"], description=data["description"], fields=data["fields_"],
                                   basis=data["basis"], purpose=data["purpose"], config=ctx.config)
    return DemandOut().dump(demand)


@action("demand_show", params=DemandIdParams, result=DemandOut, read_only=True)
def demand_show(ctx: ActionContext, data: dict) -> dict:
    """One demand, with its source department, deadline and answer."""
    return DemandOut().dump(service.get_demand(ctx.session, ctx.actor, data["id"], ctx.config))


@action("demand_list", params=DemandListParams, result=[DemandOut], read_only=True)
def demand_list(ctx: ActionContext, data: dict) -> list:
    """Search the demand list by words and status; earliest deadline first."""
    return DemandOut(many=True).dump(service.list_demands(ctx.session, ctx.actor, config=ctx.config, **data))


@action("demand_assign", params=DemandAssignParams, result=DemandOut)
def demand_assign(ctx: ActionContext, data: dict) -> dict:
    """The data authority assigns a demand to its source department (answer due in 10 working days)."""
    demand = service.get_demand(ctx.session, ctx.actor, data["id"], ctx.config)
    service.assign_demand(ctx.session, ctx.actor, demand, organization_id=data["organization_id"], config=ctx.config)
    return DemandOut().dump(demand)


@action("demand_fulfil", params=DemandFulfilParams, result=DemandOut)
def demand_fulfil(ctx: ActionContext, data: dict) -> dict:
    """The source department answers by linking a dataset of its own."""
    demand = service.get_demand(ctx.session, ctx.actor, data["id"], ctx.config)
    dataset = show_dataset(ctx.session, ctx.actor, data["package_id"])
    service.fulfil_demand(ctx.session, ctx.actor, demand, dataset=dataset, note=data["note"], config=ctx.config)
    return DemandOut().dump(demand)


@action("demand_refuse", params=DemandRefuseParams, result=DemandOut)
def demand_refuse(ctx: ActionContext, data: dict) -> dict:
    """The source department refuses, citing the legal basis."""
    demand = service.get_demand(ctx.session, ctx.actor, data["id"], ctx.config)
    service.refuse_demand(ctx.session, ctx.actor, demand, basis=data["basis"], config=ctx.config)
    return DemandOut().dump(demand)
