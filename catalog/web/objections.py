"""Correction requests (数据异议) in the browser: filing one from a dataset page, the lists of both sides
with their deadlines, the detail page with the provider's accept and resolve forms, and the dashboard panel."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..datasets.models import Dataset, Resource
from ..datasets.service import show_dataset
from ..datastore.models import DatastoreTable
from ..db import get_session, utcnow
from ..departments.service import departments_of
from ..errors import Conflict, NotAuthorized, ValidationError
from ..demands import service as demands
from ..objections import service
from ..objections.models import Objection
from .common import actor, bp, commit, messages

LIST_LIMIT = 200


def status_label(status: str) -> str:
    """An objection's state in the page language."""
    return {"open": _("Filed, awaiting verification"), "accepted": _("Being verified"),
            "resolved": _("Settled")}.get(status, status)


def outcome_label(outcome: str | None) -> str:
    """An objection's outcome in the page language."""
    return {"corrected": _("Corrected"), "confirmed_correct": _("Confirmed correct"),
            "rejected": _("Rejected")}.get(outcome or "", "")


def _filing_departments(session, viewer, dataset: Dataset) -> list:
    """My departments (editor or admin) that use the dataset's shared data and may object to it."""
    if viewer is None:
        return []
    return [d for d, role in departments_of(session, viewer)
            if role in rules.EDIT_ROLES and service.department_uses(session, dataset, d.id)]


def _tables(session, dataset: Dataset) -> list[DatastoreTable]:
    return list(session.scalars(sa.select(DatastoreTable).join(Resource, Resource.id == DatastoreTable.resource_id)
                                .where(Resource.package_id == dataset.id).order_by(Resource.position, Resource.id)))


@bp.app_context_processor
def _dataset_panel_helper() -> dict[str, Any]:
    return {"objection_panel": objection_panel}


def objection_panel(dataset: Dataset) -> dict[str, Any]:
    """What a dataset page shows: whether I may file a correction request, the requests my departments
    (or, for the authority, anyone) have open on it, and the demands the dataset fulfilled."""
    session = get_session()
    viewer, config = actor(), current_app.config
    if viewer is None:
        return {"can_object": False, "open": [], "fulfilled": []}
    open_ones = [o for o in service.list_objections(session, viewer, config=config, direction=None,
                                                    package_id=dataset.id, status=None, overdue=None, offset=0,
                                                    limit=LIST_LIMIT) if o.status != "resolved"]
    fulfilled = demands.fulfilled_by(session, dataset.id) if demands.can_see_demands(session, viewer, config) else []
    return {"can_object": bool(_filing_departments(session, viewer, dataset)),
            "open": [_row(o, utcnow().date()) for o in open_ones], "fulfilled": fulfilled}


def _row(objection: Objection, today) -> dict[str, Any]:
    return {"o": objection, "status": status_label(objection.status), "outcome": outcome_label(objection.outcome),
            "overdue": service.is_overdue(objection, today)}


@bp.route("/objections")
@login_required
def objections():
    """Correction requests to my departments (to verify) and from them, nearest deadline first."""
    session = get_session()
    viewer, config = actor(), current_app.config
    common = dict(config=config, package_id=None, status=None, overdue=None, offset=0, limit=LIST_LIMIT)
    today = utcnow().date()
    incoming = [_row(o, today) for o in service.list_objections(session, viewer, direction="incoming", **common)]
    outgoing = [_row(o, today) for o in service.list_objections(session, viewer, direction="outgoing", **common)]
    everything = []
    if service.is_authority(session, viewer, config):
        everything = [_row(o, today) for o in service.list_objections(session, viewer, direction=None, **common)]
    return render_template("objections/list.html", incoming=incoming, outgoing=outgoing, everything=everything)


def _detail(objection: Objection, errors: dict | None = None, status: int = 200):
    session = get_session()
    viewer = actor()
    return render_template("objections/show.html", row=_row(objection, utcnow().date()),
                           view=service.shown_to(session, viewer, objection),
                           can_answer=service.can_answer(session, viewer, objection), errors=errors or {},
                           outcomes=[(o, outcome_label(o)) for o in ("corrected", "confirmed_correct", "rejected")],
                           form=request.form if request.method == "POST" else {}), status


@bp.route("/objections/<objection_id>")
@login_required
def objection_page(objection_id: str):
    """One correction request: what is doubted and why, both sides' deadline, the answer."""
    return _detail(service.get_objection(get_session(), actor(), objection_id, current_app.config))


def _changes(raw: str) -> list[Any]:
    """Change numbers or record keys, one per line or separated by commas."""
    items = [part.strip() for line in (raw or "").splitlines() for part in line.split(",")]
    return [int(p) if p.isdigit() else p for p in items if p]


@bp.route("/objections/<objection_id>/answer", methods=["POST"])
@login_required
def objection_answer(objection_id: str):
    """The provider accepts the request, or settles it with an outcome, a note and the corrections."""
    session = get_session()
    config = current_app.config
    objection = service.get_objection(session, actor(), objection_id, config)
    try:
        if request.form.get("action") == "accept":
            service.accept_objection(session, actor(), objection, config=config)
            message = _("The correction request is being verified.")
        else:
            service.resolve_objection(session, actor(), objection, outcome=request.form.get("outcome"),
                                      note=request.form.get("note"), changes=_changes(request.form.get("changes")),
                                      config=config)
            message = _("The correction request is settled; its flag is lifted.")
    except (ValidationError, Conflict) as invalid:
        session.rollback()
        return _detail(objection, messages(invalid.errors), status=422)
    commit()
    flash(message, "success")
    return redirect(url_for("web.objection_page", objection_id=objection.id))


def _filing_form(dataset: Dataset, departments: list, errors: dict | None = None, status: int = 200):
    session = get_session()
    tables = _tables(session, dataset)
    fields = sorted({f["id"] for t in tables for f in t.fields}
                    | {i.get("name") for i in dataset.items or [] if isinstance(i, dict) and i.get("name")})
    form = request.form if request.method == "POST" else {"resource_id": request.args.get("resource_id", "")}
    return render_template("objections/new.html", dataset=dataset, departments=departments, tables=tables,
                           fields=fields, form=form, chosen=request.form.getlist("fields"),
                           errors=errors or {}), status


def _filters(raw: str | None) -> Any:
    """``field = value`` lines as a filter object (several lines: all must match)."""
    lines = [line for line in (raw or "").splitlines() if line.strip()]
    if not lines:
        return None
    found: dict[str, Any] = {}
    for line in lines:
        if "=" not in line:
            raise ValidationError.single("filters", _("write one condition per line as field = value"))
        name, value = line.split("=", 1)
        found[name.strip()] = value.strip()
    return found


@bp.route("/dataset/<name>/objection", methods=["GET", "POST"])
@login_required
def objection_new(name: str):
    """File a correction request on records (by key or by condition) or on the whole dataset."""
    session = get_session()
    viewer, config = actor(), current_app.config
    dataset = show_dataset(session, viewer, name)
    departments = _filing_departments(session, viewer, dataset)
    if not departments:
        raise NotAuthorized(_("None of your departments uses this dataset's shared data."))
    if request.method == "GET":
        return _filing_form(dataset, departments)
    form = request.form
    scope = form.get("scope", "records")
    keys = [k.strip() for k in (form.get("keys") or "").splitlines() if k.strip()] if scope == "records" else None
    try:
        filters = _filters(form.get("filters")) if scope == "filter" else None
        objection = service.create_objection(
            session, viewer, dataset=dataset, organization_id=form.get("organization_id") or "",
            resource_id=(form.get("resource_id") or None) if scope != "dataset" else None,
            keys=keys if scope == "records" else None, filters=filters, fields=form.getlist("fields"),
            reason=form.get("reason"), evidence=form.get("evidence"), evidence_url=form.get("evidence_url"),
            config=config)
    except (ValidationError, Conflict) as invalid:
        session.rollback()
        return _filing_form(dataset, departments, messages(invalid.errors), status=422)
    commit()
    flash(_("The correction request was filed; the provider settles it by %(date)s.",
            date=objection.deadline.isoformat()), "success")
    return redirect(url_for("web.objection_page", objection_id=objection.id))


def dashboard_panel(session, viewer, config) -> dict[str, Any]:
    """The dashboard's panel: correction requests to verify and those filed, demands to answer (and, for
    the authority, demands to assign), each with its deadline."""
    today = utcnow().date()
    common = dict(config=config, package_id=None, overdue=None, offset=0, limit=20)
    unsettled = [o for o in service.list_objections(session, viewer, direction="incoming", status=None, **common)
                 if o.status != "resolved"]
    to_verify = [_row(o, today) for o in unsettled if service.can_answer(session, viewer, o)]
    filed = [_row(o, today) for o in service.list_objections(session, viewer, direction="outgoing", status=None,
                                                             **common) if o.status != "resolved"]
    answering, assigning = [], []
    if demands.can_see_demands(session, viewer, config):
        mine = [d.id for d, role in departments_of(session, viewer) if role in rules.EDIT_ROLES]
        for department_id in mine[:5]:
            answering += demands.list_demands(session, viewer, config=config, q=None, status="assigned",
                                              organization_id=None, assignee_id=department_id, package_id=None,
                                              overdue=None, offset=0, limit=20)
        if demands.is_authority(session, viewer, config):
            assigning = demands.list_demands(session, viewer, config=config, q=None, status="open",
                                             organization_id=None, assignee_id=None, package_id=None, overdue=None,
                                             offset=0, limit=20)
    return {"to_verify": to_verify, "filed": filed, "today": today,
            "answering": [{"d": d, "overdue": demands.is_overdue(d, today)} for d in answering],
            "assigning": assigning}
