"""Sync job, run and quarantine actions."""
from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import Schema, fields, validate

from ..api.fields import CkanDateTime, JsonDict, ParamsSchema, id_field, limit_field, offset_field
from ..api.registry import ActionContext, action
from ..db import get_db
from . import quarantine, secrets, service
from .models import SyncJob, SyncRun
from .tasks import start_run


def redact(config: Any) -> Any:
    """A source config as the API shows it: tokens and passwords (also inside URLs) replaced by ***."""
    if secrets.is_sealed(config):
        return "***"
    if isinstance(config, dict):
        return {k: "***" if secrets.SECRET_KEY_NAMES.search(str(k)) and v else redact(v) for k, v in config.items()}
    if isinstance(config, list):
        return [redact(v) for v in config]
    if isinstance(config, str):
        return secrets.URL_PASSWORD.sub(r"\1***@", config)
    return config


def shown(config: Any) -> Any:
    """A stored config as answers show it: unsealed (so a URL keeps its host), then redacted."""
    from flask import current_app

    from ..errors import ValidationError

    try:
        config = secrets.unseal(config, current_app.config["SECRET_KEY"])
    except ValidationError:
        pass  # sealed under another SECRET_KEY: redact shows *** for what cannot be read
    return redact(config)


class SyncJobOut(Schema):
    id = fields.String()
    name = fields.String()
    title = fields.String(allow_none=True)
    package_id = fields.String()
    resource_id = fields.String()
    source = fields.String()
    source_config = fields.Function(lambda j: shown(j.source_config))
    target = fields.Function(lambda j: shown(j.target))
    stream = fields.String(allow_none=True)
    mapping = fields.Dict()
    mode = fields.String()
    write = fields.String()
    on_invalid = fields.String()
    schedule = fields.String(allow_none=True)
    effective_schedule = fields.Function(
        lambda j: j.schedule or service.schedules.from_update_cycle(j.dataset.update_cycle))
    batch_size = fields.Integer()
    enabled = fields.Boolean()
    state = fields.Dict(allow_none=True)
    created = CkanDateTime()
    modified = CkanDateTime()


class SyncRunOut(Schema):
    id = fields.String()
    job_id = fields.String()
    status = fields.String()
    trigger = fields.String()
    started = CkanDateTime()
    finished = CkanDateTime(allow_none=True)
    counts = fields.Dict()
    error_message = fields.String(allow_none=True)
    error_detail = fields.String(allow_none=True)
    log = fields.List(fields.String())


class QuarantineOut(Schema):
    id = fields.String()
    resource_id = fields.String()
    source = fields.String()
    row_number = fields.Integer(allow_none=True)
    raw = fields.Raw()
    errors = fields.List(fields.Dict())
    status = fields.String()
    reason = fields.String(allow_none=True)
    created = CkanDateTime()
    resolved_at = CkanDateTime(allow_none=True)


class JobFields(ParamsSchema):
    name = fields.String()
    title = fields.String(allow_none=True)
    source = fields.String(metadata={"description": "csv, xlsx, sql, http_json, ckan, dcat, or datastore "
                                                    "(the job's own resource, for a push job)"})
    source_config = JsonDict()
    target = JsonDict(allow_none=True, metadata={
        "description": "a push job's destination: {type: ckan, url, resource_id, token, key_fields}; "
                       "default: the job's DataStore resource"})
    stream = fields.String(allow_none=True)
    mapping = JsonDict()
    mode = fields.String(validate=validate.OneOf(service.MODES))
    write = fields.String(validate=validate.OneOf(service.WRITES))
    on_invalid = fields.String(validate=validate.OneOf(service.ON_INVALID))
    schedule = fields.String(allow_none=True, metadata={"description": "cron; default: from update_cycle"})
    batch_size = fields.Integer(validate=validate.Range(min=1, max=10000))
    enabled = fields.Boolean()


class JobCreateParams(JobFields):
    name = fields.String(required=True)
    source = fields.String(required=True)
    package_id = id_field("the dataset to keep in sync")
    resource_id = fields.String(load_default=None, metadata={"description": "its DataStore resource"})


class JobUpdateParams(JobFields):
    id = id_field("job id or name")


class SyncIdParams(ParamsSchema):
    id = id_field()


class RunListParams(ParamsSchema):
    id = id_field("job id or name")
    offset = offset_field()
    limit = limit_field(20, 100)


class QuarantineListParams(ParamsSchema):
    resource_id = fields.String(load_default=None)
    job_id = fields.String(load_default=None)
    status = fields.String(load_default="open", validate=validate.OneOf(["open", "retried", "discarded", "all"]))
    offset = offset_field()
    limit = limit_field(100, 1000)


class QuarantineRetryParams(ParamsSchema):
    id = id_field("quarantine entry id")
    record = JsonDict(load_default=None, metadata={"description": "the fixed record (default: as kept)"})


class QuarantineDiscardParams(ParamsSchema):
    id = id_field("quarantine entry id")
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


def _job(ctx: ActionContext, id_or_name: str) -> SyncJob:
    job = service.get_job(ctx.session, id_or_name)
    service.can_see_job(ctx.session, ctx.actor, job)
    return job


@action("sync_job_create", params=JobCreateParams, result=SyncJobOut)
def sync_job_create(ctx: ActionContext, data: dict) -> dict:
    """Define a sync job for a dataset's DataStore resource."""
    package_id, resource_id = data.pop("package_id"), data.pop("resource_id")
    job = service.create_job(ctx.session, ctx.actor, package_id=package_id, resource_id=resource_id, values=data)
    return SyncJobOut().dump(job)


@action("sync_job_show", params=SyncIdParams, result=SyncJobOut, read_only=True)
def sync_job_show(ctx: ActionContext, data: dict) -> dict:
    """A sync job's definition and committed state."""
    return SyncJobOut().dump(_job(ctx, data["id"]))


@action("sync_job_list", params=ParamsSchema.from_dict({}, name="SyncJobListParams"),
        result=[SyncJobOut], read_only=True)
def sync_job_list(ctx: ActionContext, data: dict) -> list:
    """The sync jobs of my departments (all, for sysadmins)."""
    import sqlalchemy as sa

    from ..auth import rules
    from ..datasets.models import Dataset
    from ..sharing.service import departments_of_actor

    query = sa.select(SyncJob).join(Dataset, Dataset.id == SyncJob.package_id).order_by(SyncJob.name)
    if not rules.is_sysadmin(ctx.actor):
        query = query.where(Dataset.owner_org.in_(departments_of_actor(ctx.session, ctx.actor)))
    return SyncJobOut(many=True).dump(ctx.session.scalars(query))


@action("sync_job_update", params=JobUpdateParams, result=SyncJobOut)
def sync_job_update(ctx: ActionContext, data: dict) -> dict:
    """Change a sync job (a changed source or mapping restarts it from no state)."""
    job = _job(ctx, data.pop("id"))
    return SyncJobOut().dump(service.update_job(ctx.session, ctx.actor, job, data))


@action("sync_job_delete", params=SyncIdParams, result={"type": "object", "nullable": True})
def sync_job_delete(ctx: ActionContext, data: dict) -> None:
    """Delete a sync job and its runs (the records it synced stay)."""
    service.delete_job(ctx.session, ctx.actor, _job(ctx, data["id"]))
    return None


@action("sync_job_run", params=SyncIdParams, result=SyncRunOut)
def sync_job_run(ctx: ActionContext, data: dict) -> dict:
    """Start a sync job now and answer at once with its run, ``queued`` (409 when it is already running):
    follow it with ``sync_run_show``. The run goes to the workers (``CATALOG_BROKER_URL``) or to a
    background thread; with ``CATALOG_SYNC_RUN_IN_REQUEST`` it runs inside the request and the answer is
    the finished run (the tests' setting: their sessions share one connection)."""
    from ..auth import rules

    job = _job(ctx, data["id"])
    rules.require(rules.can_write_records(ctx.session, ctx.actor, job.dataset), f"You cannot run sync job {job.name}")
    ctx.session.commit()
    if ctx.config.get("SYNC_RUN_IN_REQUEST"):
        return SyncRunOut().dump(service.run_job(get_db(), job.id, trigger="api"))
    run_id = start_run(current_app._get_current_object(), job.id, trigger="api")
    return SyncRunOut().dump(ctx.session.get(SyncRun, run_id))


class SyncPreviewParams(ParamsSchema):
    id = id_field("the job's id or name")
    rows = fields.Integer(load_default=20, validate=validate.Range(min=1, max=service.PREVIEW_MAX),
                          metadata={"description": "how many of the source's first rows to map"})


class PreviewFieldOut(Schema):
    field = fields.String()
    value = fields.Raw(allow_none=True)
    errors = fields.List(fields.String())


class PreviewRowOut(Schema):
    row_number = fields.Integer()
    valid = fields.Boolean()
    # "fields" is the name marshmallow keeps a schema's own fields under
    fields_ = fields.List(fields.Nested(PreviewFieldOut), data_key="fields", attribute="fields")


@action("sync_job_preview", params=SyncPreviewParams, result=[PreviewRowOut], read_only=True)
def sync_job_preview(ctx: ActionContext, data: dict) -> list:
    """试运行: map and validate the first rows of the job's source without writing anything; each row's
    fields with their values and errors side by side (for those who may run the job)."""
    job = _job(ctx, data["id"])
    return [PreviewRowOut().dump(row) for row in service.preview_job(ctx.session, ctx.actor, job, rows=data["rows"])]


@action("sync_run_list", params=RunListParams, result=[SyncRunOut], read_only=True)
def sync_run_list(ctx: ActionContext, data: dict) -> list:
    """A job's runs, newest first, with their counts."""
    job = _job(ctx, data["id"])
    return SyncRunOut(many=True).dump(service.list_runs(ctx.session, job, offset=data["offset"], limit=data["limit"]))


@action("sync_run_show", params=SyncIdParams, result=SyncRunOut, read_only=True)
def sync_run_show(ctx: ActionContext, data: dict) -> dict:
    """One run: status, timings, counts, errors and log."""
    from ..errors import NotFound
    from .models import SyncRun

    run = ctx.session.get(SyncRun, data["id"])
    if run is None:
        raise NotFound(f"Sync run not found: {data['id']}")
    service.can_see_job(ctx.session, ctx.actor, run.job)
    return SyncRunOut().dump(run)


@action("quarantine_list", params=QuarantineListParams, result=[QuarantineOut], read_only=True)
def quarantine_list(ctx: ActionContext, data: dict) -> list:
    """Rows kept out of the DataStore by validation, with their row numbers, raw values and errors."""
    return QuarantineOut(many=True).dump(quarantine.list_entries(ctx.session, ctx.actor, **data))


@action("quarantine_show", params=SyncIdParams, result=QuarantineOut, read_only=True)
def quarantine_show(ctx: ActionContext, data: dict) -> dict:
    """One quarantined row."""
    return QuarantineOut().dump(quarantine.get_entry(ctx.session, ctx.actor, data["id"]))


@action("quarantine_retry", params=QuarantineRetryParams, result=QuarantineOut)
def quarantine_retry(ctx: ActionContext, data: dict) -> dict:
    """Write a (fixed) quarantined record into the DataStore; 409 with its errors if still invalid."""
    entry = quarantine.get_entry(ctx.session, ctx.actor, data["id"])
    return QuarantineOut().dump(quarantine.retry(ctx.session, ctx.actor, entry, record=data["record"]))


@action("quarantine_discard", params=QuarantineDiscardParams, result=QuarantineOut)
def quarantine_discard(ctx: ActionContext, data: dict) -> dict:
    """Discard a quarantined row, with the reason."""
    entry = quarantine.get_entry(ctx.session, ctx.actor, data["id"])
    return QuarantineOut().dump(quarantine.discard(ctx.session, ctx.actor, entry, reason=data["reason"]))
