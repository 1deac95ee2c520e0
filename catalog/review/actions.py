"""Catalog review actions: package_submit, package_review, package_review_list, package_revision_list|show."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, JsonDict, ParamsSchema, id_field, limit_field, offset_field, revision_field
from ..api.registry import ActionContext, action
from ..datasets.service import metadata_of, show_dataset
from . import service
from .models import DECISIONS, KINDS, STATUSES


class ChangeOut(Schema):
    field = fields.String()
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)


class ReviewOut(Schema):
    id = fields.String()
    package_id = fields.String()
    package_name = fields.String(attribute="dataset.name")
    package_title = fields.String(attribute="dataset.title", allow_none=True)
    owner_org = fields.String(attribute="dataset.owner_org")
    kind = fields.String(metadata={"description": "publication (a draft) or revision (of a published dataset)"})
    number = fields.Integer()
    status = fields.String(metadata={"description": "submitted, approved, returned or superseded"})
    changes = fields.List(fields.Nested(ChangeOut), metadata={"description": "a revision's core changes"})
    submitted_by = fields.String(allow_none=True)
    submitted_at = CkanDateTime()
    due = fields.Date(metadata={"description": "CATALOG_REVIEW_DAYS working days after submission"})
    overdue = fields.Function(lambda r: service.is_overdue(r))
    reviewer_id = fields.String(allow_none=True)
    decided_at = CkanDateTime(allow_none=True)
    reason = fields.String(allow_none=True)
    field_reasons = fields.Dict(keys=fields.String(), values=fields.String())


class SubmitParams(ParamsSchema):
    id = id_field("dataset id or name")
    metadata_modified = fields.String(load_default=None)
    revision = revision_field()


class ReviewParams(ParamsSchema):
    id = id_field("dataset id or name")
    decision = fields.String(required=True, validate=validate.OneOf(DECISIONS))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=4000))
    field_reasons = JsonDict(load_default=None, allow_none=True,
                             metadata={"description": 'what to fix per field, e.g. {"share_condition": "…"}'})
    review_id = fields.String(load_default=None, metadata={"description": "the review decided (refused when "
                                                                          "it is no longer the waiting one)"})
    metadata_modified = fields.String(load_default=None)
    revision = revision_field()


class ReviewListParams(ParamsSchema):
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    kind = fields.String(load_default=None, validate=validate.OneOf(KINDS))
    overdue = fields.Boolean(load_default=None, allow_none=True)
    organization_id = fields.String(load_default=None)
    package_id = fields.String(load_default=None)
    offset = offset_field()
    limit = limit_field(100, 1000)


class RevisionListParams(ParamsSchema):
    id = id_field("dataset id or name")


class RevisionShowParams(ParamsSchema):
    id = id_field("revision (review) id")


@action("package_submit", params=SubmitParams, result=ReviewOut)
def package_submit(ctx: ActionContext, data: dict) -> dict:
    """Submit a draft for the data authority's review (the department's admin); due in 2 working days."""
    dataset = show_dataset(ctx.session, ctx.actor, data["id"])
    review = service.submit_dataset(ctx.session, ctx.actor, dataset, config=ctx.config,
                                    metadata_modified=data["metadata_modified"], revision=data.get("revision"))
    return ReviewOut().dump(review)


@action("package_review", params=ReviewParams, result=ReviewOut)
def package_review(ctx: ActionContext, data: dict) -> dict:
    """Approve (publish, or apply the revision) or return a dataset's waiting review, with what to fix per field."""
    dataset = show_dataset(ctx.session, ctx.actor, data["id"])
    review = service.review_dataset(ctx.session, ctx.actor, dataset, decision=data["decision"],
                                    reason=data["reason"], field_reasons=data["field_reasons"],
                                    review_id=data["review_id"], config=ctx.config,
                                    metadata_modified=data["metadata_modified"], revision=data.get("revision"))
    return ReviewOut().dump(review)


@action("package_review_list", params=ReviewListParams, result=[ReviewOut], read_only=True)
def package_review_list(ctx: ActionContext, data: dict) -> list:
    """Reviews: the authority's queue (all departments) or a department's own, earliest due first;
    ``overdue=true`` lists those past their due day."""
    return ReviewOut(many=True).dump(service.list_reviews(ctx.session, ctx.actor, config=ctx.config, **data))


@action("package_revision_list", params=RevisionListParams, result=[ReviewOut], read_only=True)
def package_revision_list(ctx: ActionContext, data: dict) -> list:
    """A dataset's revisions (pending, approved, returned, superseded), newest first, each with its diff."""
    dataset = show_dataset(ctx.session, ctx.actor, data["id"])
    return ReviewOut(many=True).dump(service.list_revisions(ctx.session, ctx.actor, dataset, config=ctx.config))


@action("package_revision_show", params=RevisionShowParams, result=ReviewOut, read_only=True)
def package_revision_show(ctx: ActionContext, data: dict) -> dict:
    """One revision (or publication review) with its diff: field, old (published when proposed), new, and
    ``current``, the value published now."""
    review = service.get_review(ctx.session, ctx.actor, data["id"], config=ctx.config)
    result = ReviewOut().dump(review)
    current = metadata_of(review.dataset)
    for change in result["changes"]:
        change["current"] = current.get(change["field"])
    return result
