"""Freshness actions: freshness_show, freshness_report, freshness_overdue_list, petition_timeliness_show."""
from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import fields

from ..api.fields import ParamsSchema, id_field, limit_field, offset_field
from ..api.registry import ActionContext, action
from ..datasets.service import show_dataset
from ..departments.service import get_department
from ..errors import NotFound, ValidationError
from . import clock, petitions, service


def ckan_time(value: dt.datetime | None) -> str | None:
    """A UTC moment as CKAN writes it (ISO 8601 without a zone)."""
    if value is None:
        return None
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def _grace(ctx: ActionContext) -> clock.Grace:
    try:
        return service.grace_setting(ctx.config)
    except ValueError as error:  # a bad setting is the operator's error; say which one
        raise ValidationError.single("FRESHNESS_GRACE", str(error)) from None


def freshness_out(entry: dict[str, Any]) -> dict[str, Any]:
    """A freshness entry as the API writes it."""
    return {**entry, **{k: ckan_time(entry[k]) for k in ("last_change", "due_at", "overdue_at")}}


_COUNT = {"type": "integer"}
_TIME = {"type": "string", "nullable": True, "description": "UTC, ISO 8601 without a zone"}
FRESHNESS_OUT = {"type": "object", "properties": {
    "package_id": {"type": "string"}, "name": {"type": "string"}, "title": {"type": "string", "nullable": True},
    "owner_org": {"type": "string"}, "update_cycle": {"type": "string", "nullable": True},
    "status": {"type": "string", "enum": list(clock.STATUSES)}, "last_change": _TIME,
    "last_change_source": {"type": "string", "enum": ["records", "sync", "metadata"]},
    "due_at": _TIME, "overdue_at": _TIME,
    "petition_timeliness": {"type": "object", "nullable": True}}}
REPORT_OUT = {"type": "array", "items": {"type": "object", "properties": {
    "id": {"type": "string"}, "name": {"type": "string"}, "title": {"type": "string"}, "total": _COUNT,
    "fresh": _COUNT, "due": _COUNT, "overdue": _COUNT, "irregular": _COUNT,
    "share_on_time": {"type": "number", "nullable": True}, "rank": {"type": "integer", "nullable": True}}}}
TIMELINESS_OUT = {"type": "object", "properties": {
    "package_id": {"type": "string"}, "as_of": {"type": "string", "format": "date"},
    "resource_ids": {"type": "array", "items": {"type": "string"}},
    "total": {"type": "object"}, "units": {"type": "array", "items": {"type": "object"}}}}


class FreshnessShowParams(ParamsSchema):
    id = id_field("dataset id or name")


class FreshnessReportParams(ParamsSchema):
    pass


class OverdueListParams(ParamsSchema):
    owner_org = fields.String(load_default=None, metadata={"description": "only this department (id or name)"})
    offset = offset_field()
    limit = limit_field(100, 1000)


@action("freshness_show", params=FreshnessShowParams, result=FRESHNESS_OUT, read_only=True)
def freshness_show(ctx: ActionContext, data: dict) -> dict:
    """A dataset's freshness: status (fresh, due, overdue), last change, due date; petition datasets
    also answer how many petitions were answered in time."""
    dataset = show_dataset(ctx.session, ctx.actor, data["id"])
    result = freshness_out(service.dataset_freshness(ctx.session, dataset, grace=_grace(ctx)))
    result["petition_timeliness"] = (petitions.petition_timeliness(ctx.session, dataset)
                                     if petitions.is_petition_dataset(ctx.session, dataset) else None)
    return result


@action("freshness_report", params=FreshnessReportParams, result=REPORT_OUT, read_only=True)
def freshness_report(ctx: ActionContext, data: dict) -> list:
    """Per department: datasets fresh, due and overdue, the share on time and the rank (best first),
    over the datasets the caller may read."""
    return service.department_report(ctx.session, actor=ctx.actor, grace=_grace(ctx))


@action("freshness_overdue_list", params=OverdueListParams,
        result={"type": "array", "items": FRESHNESS_OUT}, read_only=True)
def freshness_overdue_list(ctx: ActionContext, data: dict) -> list:
    """The overdue datasets the caller may read, longest overdue first."""
    owner = None
    if data["owner_org"]:
        try:
            owner = get_department(ctx.session, data["owner_org"]).id
        except NotFound:
            raise ValidationError.single("owner_org", f"Organization does not exist: {data['owner_org']}") from None
    entries = service.overdue_datasets(ctx.session, actor=ctx.actor, grace=_grace(ctx), owner_org=owner)
    return [freshness_out(e) for e in entries[data["offset"]:data["offset"] + data["limit"]]]


@action("petition_timeliness_show", params=FreshnessShowParams, result=TIMELINESS_OUT, read_only=True)
def petition_timeliness_show(ctx: ActionContext, data: dict) -> dict:
    """Petitions answered in time, open overdue, per responsible unit (a petition dataset's records)."""
    dataset = show_dataset(ctx.session, ctx.actor, data["id"])
    if not petitions.is_petition_dataset(ctx.session, dataset):
        raise ValidationError.single("id", f"Dataset {dataset.name} holds no petition records (no DataStore "
                                           "table bound to the petition record schema)")
    return petitions.petition_timeliness(ctx.session, dataset)
