"""Sync: jobs with their last runs, a run's detail, and the quarantine (fix and retry, or discard)."""
from __future__ import annotations

import json

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..datastore.models import DatastoreTable
from ..db import get_session
from ..errors import Conflict, NotFound, ValidationError
from ..messages import (RUN_COUNTS, RUN_STATUSES, RUN_TRIGGERS, SYNC_MODES, SYNC_ON_INVALID, SYNC_SOURCES,
                        SYNC_WRITES, term)
from ..sync import quarantine, service, tasks
from ..sync.models import COUNTS, SyncRun
from . import labels
from .common import actor, bp, commit, messages

QUARANTINE_LIMIT = 100


def duration(run: SyncRun) -> str:
    """How long a run took, as 1 h 2 min 3 s in the page language (empty while it runs)."""
    if run.finished is None or run.started is None:
        return ""
    seconds = max(0, int((run.finished - run.started).total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [_("%(n)s h", n=hours)] if hours else []
    if hours or minutes:
        parts.append(_("%(n)s min", n=minutes))
    parts.append(_("%(n)s s", n=seconds))
    return " ".join(parts)


def run_status_label(status: str) -> str:
    """A run status in the page language."""
    return term(RUN_STATUSES, status)


def count_label(count: str) -> str:
    """A run's count (``read``, ``inserted`` …) named in the page language."""
    return term(RUN_COUNTS, count)


def trigger_label(trigger: str | None) -> str:
    """What started a run, in the page language."""
    return term(RUN_TRIGGERS, trigger)


def setting_labels(job) -> dict[str, str]:
    """A job's source, mode, write and on_invalid settings in the page language."""
    return {"source": term(SYNC_SOURCES, job.source), "mode": term(SYNC_MODES, job.mode),
            "write": term(SYNC_WRITES, job.write), "on_invalid": term(SYNC_ON_INVALID, job.on_invalid)}


def _job(name: str):
    session = get_session()
    job = service.get_job(session, name)
    service.can_see_job(session, actor(), job)
    return job


@bp.route("/sync")
@login_required
def sync_jobs():
    """My departments' sync jobs, each with its last run."""
    session = get_session()
    jobs = service.list_jobs(session, actor())
    rows = []
    for job in jobs:
        last = service.list_runs(session, job, limit=1)
        rows.append({"job": job, "last": last[0] if last else None})
    return render_template("sync/jobs.html", rows=rows, duration=duration, status_label=run_status_label,
                           counts=COUNTS, count_label=count_label)


@bp.route("/sync/job/<name>")
@login_required
def sync_job(name: str):
    """A job: its definition in brief and its recent runs."""
    job = _job(name)
    runs = service.list_runs(get_session(), job, limit=20)
    can_run = rules.can_write_records(get_session(), actor(), job.dataset)
    return render_template("sync/job.html", job=job, runs=runs, duration=duration, status_label=run_status_label,
                           counts=COUNTS, count_label=count_label, can_run=can_run, settings=setting_labels(job))


@bp.route("/sync/job/<name>/run", methods=["POST"])
@login_required
def sync_job_run(name: str):
    """Start a run now, in the background; the job page shows it when it is done."""
    job = _job(name)
    rules.require(rules.can_write_records(get_session(), actor(), job.dataset), _("You cannot run this job."))
    try:  # queued like sync_job_run: a broker outage leaves the run for the scheduler to send, never a 503
        tasks.start_run(current_app._get_current_object(), job.id, trigger="manual")
    except Conflict:
        flash(_("This job is running now; its run shows here when it ends."), "warning")
        return redirect(url_for("web.sync_job", name=job.name))
    flash(_("The run has started; reload this page to see it."), "success")
    return redirect(url_for("web.sync_job", name=job.name))


@bp.route("/sync/job/<name>/preview")
@login_required
def sync_job_preview(name: str):
    """试运行: the first rows of the job's source mapped and validated, nothing written."""
    job = _job(name)
    try:
        rows = int(request.args.get("rows", 20))
    except ValueError:
        rows = 20
    problem, shown = None, []
    try:
        shown = service.preview_job(get_session(), actor(), job, rows=rows)
    except ValidationError as error:  # the source cannot be read, or the row count is out of range
        problem = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.errors.items())
    return render_template("sync/preview.html", job=job, rows=shown, problem=problem, count=rows)


@bp.route("/sync/run/<run_id>")
@login_required
def sync_run(run_id: str):
    """One run: status, timings, counts, error and log, and the rows its job left in quarantine."""
    session = get_session()
    run = session.get(SyncRun, run_id)
    if run is None:
        raise NotFound(_("Sync run not found"))
    service.can_see_job(session, actor(), run.job)
    return render_template("sync/run.html", run=run, job=run.job, duration=duration,
                           status_label=run_status_label, counts=COUNTS, count_label=count_label,
                           trigger_label=trigger_label, field_label=_field_labeller(session, run.job))


def _field_labeller(session, job):
    """Names a record field of the job's table in the page language, for its runs' errors and log lines."""
    table = session.get(DatastoreTable, job.resource_id)
    schema = table.schema_document if table is not None else None
    return lambda path: labels.field_label(schema or None, path)


def _quarantine_page(*, errors=None, failed_id=None, drafts=None, status=200):
    session = get_session()
    job_name = request.args.get("job") or request.form.get("job") or ""
    job = _job(job_name) if job_name else None
    entries = quarantine.list_entries(session, actor(), resource_id=None, job_id=job.id if job else None,
                                      status="open", offset=0, limit=QUARANTINE_LIMIT)
    rows = []
    for e in entries:
        source_job = quarantine.job_of(session, e)
        schema = session.get(DatastoreTable, e.resource_id).schema_document or None
        rows.append({"entry": e, "draft": (drafts or {}).get(e.id) or json.dumps(e.raw, ensure_ascii=False, indent=1),
                     "source": (source_job.title or source_job.name) if source_job else _("API upload"),
                     "labels": {p.get("field", ""): labels.field_label(schema, p.get("field", ""))
                                for p in e.errors or []}})
    return render_template("sync/quarantine.html", rows=rows, job=job, errors=errors or {},
                           failed_id=failed_id), status


@bp.route("/sync/quarantine")
@login_required
def sync_quarantine():
    """Open quarantine entries of my departments (of one job with ?job=), each with its errors."""
    return _quarantine_page()


@bp.route("/sync/quarantine/<entry_id>", methods=["POST"])
@login_required
def sync_quarantine_entry(entry_id: str):
    """Retry an entry with the fixed record, or discard it with a reason."""
    session = get_session()
    entry = quarantine.get_entry(session, actor(), entry_id)
    raw = request.form.get("record") or ""
    try:
        if request.form.get("action") == "discard":
            reason = (request.form.get("reason") or "").strip()
            if not reason:
                raise ValidationError.single("reason", "Missing value")
            quarantine.discard(session, actor(), entry, reason=reason)
            message = _("The row was discarded.")
        else:
            try:
                record = json.loads(raw)
            except ValueError as error:
                raise ValidationError.single("record", _("not valid JSON: %(error)s", error=str(error))) from None
            if not isinstance(record, dict):
                raise ValidationError.single("record", _("the record must be a JSON object"))
            quarantine.retry(session, actor(), entry, record=record)
            message = _("The fixed row was written.")
    except ValidationError as invalid:
        session.rollback()
        return _quarantine_page(errors=messages(invalid.errors), failed_id=entry_id, drafts={entry_id: raw},
                                status=422)
    commit()
    flash(message, "success")
    job = request.form.get("job")
    return redirect(url_for("web.sync_quarantine", job=job) if job else url_for("web.sync_quarantine"))
