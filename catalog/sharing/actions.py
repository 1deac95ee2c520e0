"""Share request, grant and access log actions."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import (MAX_OFFSET, CkanDateTime, JsonDict, JsonList, ParamsSchema, id_field, limit_field,
                          offset_field)
from ..api.registry import ActionContext, action
from ..datasets.service import show_dataset
from ..departments.service import get_department
from . import access_log, service, workflow
from .models import REQUEST_STATES


class ShareRequestOut(Schema):
    id = fields.String()
    package_id = fields.String()
    package_name = fields.String(attribute="dataset.name")
    package_title = fields.String(attribute="dataset.title", allow_none=True)
    provider_id = fields.String(attribute="dataset.owner_org")
    organization_id = fields.String()
    organization_name = fields.String(attribute="organization.name")
    requester_id = fields.String(allow_none=True)
    purpose = fields.String()
    basis = fields.String(metadata={"description": "使用依据; empty for requests filed before it was asked"})
    scenario = fields.String(metadata={"description": "应用场景; empty for requests filed before it was asked"})
    fields_ = fields.List(fields.String(), data_key="fields", attribute="fields")
    expires = fields.Date(allow_none=True)
    status = fields.String()
    deadline = fields.Date(metadata={"description": "the day the answer is due (moved by returns and extensions)"})
    overdue = fields.Function(lambda r: service.is_overdue(r))
    escalated_to = fields.Function(lambda r: "sysadmin" if service.is_overdue(r) else None)
    decided_by = fields.String(allow_none=True)
    decided_at = CkanDateTime(allow_none=True, metadata={"description": "when it was approved or rejected"})
    reason = fields.String(allow_none=True)
    cited_condition = fields.String(allow_none=True)
    missing = fields.Dict(allow_none=True, metadata={"description": "补正: what is missing, part by part"})
    clock_stopped = fields.Function(lambda r: r.status == "returned")
    returned_at = CkanDateTime(allow_none=True)
    resubmitted_at = CkanDateTime(allow_none=True)
    paused_days = fields.Integer()
    extension_status = fields.String(allow_none=True)
    extension_days = fields.Integer(allow_none=True)
    extension_reason = fields.String(allow_none=True)
    extension_requested_at = CkanDateTime(allow_none=True)
    extension_decided_at = CkanDateTime(allow_none=True)
    extension_note = fields.String(allow_none=True)
    created = CkanDateTime()


class AccessLogOut(Schema):
    id = fields.Integer()
    timestamp = CkanDateTime()
    action = fields.String()
    user_id = fields.String(allow_none=True)
    user_name = fields.String(allow_none=True)
    departments = fields.List(fields.String())
    package_id = fields.String()
    owner_org = fields.String()
    resource_id = fields.String(allow_none=True)
    params = fields.Dict()
    record_count = fields.Integer()
    prev_hash = fields.String()
    hash = fields.String()


class ShareRequestCreateParams(ParamsSchema):
    package_id = id_field("dataset id or name")
    organization_id = id_field("the requesting department")
    purpose = fields.String(required=True, validate=validate.Length(max=4000))
    basis = fields.String(required=True, validate=validate.Length(max=4000),
                          metadata={"description": "使用依据: the law, rule or duty the use rests on"})
    scenario = fields.String(required=True, validate=validate.Length(max=4000),
                             metadata={"description": "应用场景: where and how the data is used"})
    fields_ = JsonList(fields.String(), data_key="fields", load_default=list,
                       metadata={"description": "sensitive fields wanted in clear, e.g. head_id_number"})
    expires = fields.Date(load_default=None, allow_none=True)


class ShareRequestShowParams(ParamsSchema):
    id = id_field("share request id")


class ShareRequestApproveParams(ParamsSchema):
    id = id_field("share request id")
    fields_ = JsonList(fields.String(), data_key="fields", load_default=None, allow_none=True,
                       metadata={"description": "fields granted in clear (default: those requested)"})
    expires = fields.Date(load_default=None, allow_none=True)


class ShareRequestRejectParams(ParamsSchema):
    id = id_field("share request id")
    reason = fields.String(required=True, validate=validate.Length(max=4000))
    cite_condition = fields.Boolean(load_default=False,
                                    metadata={"description": "cite the dataset's share condition in the refusal"})


class ShareRequestReturnParams(ParamsSchema):
    id = id_field("share request id")
    missing = JsonDict(keys=fields.String(), values=fields.String(), required=True,
                       metadata={"description": "what is missing, part by part: basis, scenario, purpose, fields, "
                                                "expires, organization_id or other"})


class ShareRequestResubmitParams(ParamsSchema):
    id = id_field("share request id")
    basis = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    scenario = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    purpose = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    fields_ = JsonList(fields.String(), data_key="fields", load_default=None, allow_none=True)
    expires = fields.Date(load_default=None, allow_none=True)


class ShareRequestExtendParams(ParamsSchema):
    id = id_field("share request id")
    # only what the databases can bind is refused here; 1 to the configured maximum is the workflow's rule
    days = fields.Integer(required=True, validate=validate.Range(min=-MAX_OFFSET, max=MAX_OFFSET),
                          metadata={"description": "working days, 1 to 10"})
    reason = fields.String(required=True, validate=validate.Length(max=4000))


class ShareRequestExtensionDecideParams(ParamsSchema):
    id = id_field("share request id")
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "refuse"]))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000),
                           metadata={"description": "required to refuse"})


class ShareRequestRevokeParams(ParamsSchema):
    id = id_field("share request id")
    reason = fields.String(load_default=None, allow_none=True)


class ShareRequestListParams(ParamsSchema):
    direction = fields.String(load_default="incoming", validate=validate.OneOf(["incoming", "outgoing"]),
                              metadata={"description": "requests to my departments, or from them"})
    organization_id = fields.String(load_default=None)
    package_id = fields.String(load_default=None)
    status = fields.String(load_default=None, validate=validate.OneOf(REQUEST_STATES))
    overdue = fields.Boolean(load_default=None, allow_none=True)
    offset = offset_field()
    limit = limit_field(100, 1000)


class AccessLogListParams(ParamsSchema):
    organization_id = fields.String(load_default=None)
    package_id = fields.String(load_default=None)
    offset = offset_field()
    limit = limit_field(100, 1000)


@action("share_request_create", params=ShareRequestCreateParams, result=ShareRequestOut)
def share_request_create(ctx: ActionContext, data: dict) -> dict:
    """Request another department's dataset for a stated purpose (answered within 10 working days)."""
    dataset = show_dataset(ctx.session, ctx.actor, data["package_id"])
    request = service.create_request(ctx.session, ctx.actor, dataset=dataset,
                                     organization_id=data["organization_id"], purpose=data["purpose"],
                                     basis=data["basis"], scenario=data["scenario"],
                                     fields=data["fields_"], expires=data["expires"], config=ctx.config)
    return ShareRequestOut().dump(request)


@action("share_request_show", params=ShareRequestShowParams,
        result=ShareRequestOut, read_only=True)
def share_request_show(ctx: ActionContext, data: dict) -> dict:
    """One share request, with its deadline and whether it is overdue."""
    return ShareRequestOut().dump(service.get_request(ctx.session, ctx.actor, data["id"]))


@action("share_request_list", params=ShareRequestListParams, result=[ShareRequestOut], read_only=True)
def share_request_list(ctx: ActionContext, data: dict) -> list:
    """Requests to (incoming) or from (outgoing) my departments, earliest deadline first."""
    return ShareRequestOut(many=True).dump(service.list_requests(ctx.session, ctx.actor, **data))


@action("share_request_approve", params=ShareRequestApproveParams, result=ShareRequestOut)
def share_request_approve(ctx: ActionContext, data: dict) -> dict:
    """Approve a request: grant the chosen fields until the expiry date."""
    request = service.get_request(ctx.session, ctx.actor, data["id"])
    service.approve_request(ctx.session, ctx.actor, request, fields=data["fields_"], expires=data["expires"],
                            config=ctx.config)
    return ShareRequestOut().dump(request)


@action("share_request_reject", params=ShareRequestRejectParams, result=ShareRequestOut)
def share_request_reject(ctx: ActionContext, data: dict) -> dict:
    """Reject a complete request, stating the reasons (optionally citing the share condition); an incomplete
    one is returned instead (share_request_return)."""
    request = service.get_request(ctx.session, ctx.actor, data["id"])
    service.reject_request(ctx.session, ctx.actor, request, reason=data["reason"],
                           cite_condition=data["cite_condition"])
    return ShareRequestOut().dump(request)


@action("share_request_return", params=ShareRequestReturnParams, result=ShareRequestOut)
def share_request_return(ctx: ActionContext, data: dict) -> dict:
    """Return an incomplete request with everything missing listed at once (补正); its clock stops."""
    request = service.get_request(ctx.session, ctx.actor, data["id"])
    workflow.return_request(ctx.session, ctx.actor, request, missing=data["missing"])
    return ShareRequestOut().dump(request)


@action("share_request_resubmit", params=ShareRequestResubmitParams, result=ShareRequestOut)
def share_request_resubmit(ctx: ActionContext, data: dict) -> dict:
    """Complete a returned request and send it again; the deadline moves on by the working days it was away."""
    request = service.get_request(ctx.session, ctx.actor, data["id"])
    workflow.resubmit_request(ctx.session, ctx.actor, request, config=ctx.config, basis=data["basis"],
                              scenario=data["scenario"], purpose=data["purpose"], fields=data["fields_"],
                              expires=data["expires"])
    return ShareRequestOut().dump(request)


@action("share_request_extend", params=ShareRequestExtendParams, result=ShareRequestOut)
def share_request_extend(ctx: ActionContext, data: dict) -> dict:
    """Ask the data authority for at most 10 more working days to answer, with a reason."""
    request = service.get_request(ctx.session, ctx.actor, data["id"])
    workflow.request_extension(ctx.session, ctx.actor, request, days=data["days"], reason=data["reason"],
                               config=ctx.config)
    return ShareRequestOut().dump(request)


@action("share_request_extension_decide", params=ShareRequestExtensionDecideParams, result=ShareRequestOut)
def share_request_extension_decide(ctx: ActionContext, data: dict) -> dict:
    """The data authority approves or refuses (with a reason) an extension; both departments are told."""
    request = service.get_request_for_authority(ctx.session, ctx.actor, data["id"], ctx.config)
    workflow.decide_extension(ctx.session, ctx.actor, request, approve=data["decision"] == "approve",
                              reason=data["reason"], config=ctx.config)
    return ShareRequestOut().dump(request)


@action("share_request_revoke", params=ShareRequestRevokeParams, result=ShareRequestOut)
def share_request_revoke(ctx: ActionContext, data: dict) -> dict:
    """Revoke an approved request; the grant stops working at once."""
    request = service.get_request(ctx.session, ctx.actor, data["id"])
    service.revoke_request(ctx.session, ctx.actor, request, reason=data["reason"])
    return ShareRequestOut().dump(request)


@action("access_log_list", params=AccessLogListParams, result=[AccessLogOut], read_only=True)
def access_log_list(ctx: ActionContext, data: dict) -> list:
    """Who read which records of a providing department's datasets, newest first."""
    owner = get_department(ctx.session, data["organization_id"]).id if data["organization_id"] else None
    package_id = None
    if data["package_id"]:
        package_id = show_dataset(ctx.session, ctx.actor, data["package_id"]).id
    return AccessLogOut(many=True).dump(access_log.list_entries(
        ctx.session, ctx.actor, owner_org=owner, package_id=package_id,
        offset=data["offset"], limit=data["limit"]))
