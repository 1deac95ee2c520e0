"""The demand list (需求清单) in the browser: search, register a need, the authority's assignment to the
source department, and that department's answer (a dataset, or a refusal with its legal basis)."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..datasets.service import show_dataset
from ..db import get_session, utcnow
from ..demands import service
from ..demands.models import DEMAND_STATES, Demand
from ..departments.service import departments_of, list_departments
from ..errors import Conflict, NotFound, ValidationError
from .common import actor, bp, commit, int_arg, messages

PAGE = 50


def status_label(status: str) -> str:
    """A demand's state in the page language."""
    return {"open": _("Registered, awaiting assignment"), "assigned": _("Assigned to the source department"),
            "fulfilled": _("Fulfilled"), "refused": _("Refused")}.get(status, status)


@bp.app_context_processor
def _demand_labels() -> dict[str, Any]:
    return {"demand_status_label": status_label}


@bp.route("/demands")
@login_required
def demands():
    """Search the demand list by words and status, nearest deadline first."""
    session = get_session()
    q = (request.args.get("q") or "").strip() or None
    status = request.args.get("status") or None
    if status not in DEMAND_STATES:
        status = None
    offset = int_arg("offset", 0, maximum=1_000_000)
    try:
        found = service.list_demands(session, actor(), config=current_app.config, q=q, status=status,
                                     organization_id=None, assignee_id=None, package_id=None, overdue=None,
                                     offset=offset, limit=PAGE + 1)
        errors = {}
    except ValidationError as invalid:
        found, errors = [], messages(invalid.errors)
    today = utcnow().date()
    return render_template("demands/list.html", rows=[{"d": d, "overdue": service.is_overdue(d, today)}
                                                      for d in found[:PAGE]],
                           more=len(found) > PAGE, q=q or "", status=status, offset=offset, errors=errors,
                           states=[(s, status_label(s)) for s in DEMAND_STATES],
                           can_create=bool(_my_editing_departments()))


def _my_editing_departments() -> list:
    viewer = actor()
    if rules.is_sysadmin(viewer):
        return list_departments(get_session())
    return [d for d, role in departments_of(get_session(), viewer) if role in rules.EDIT_ROLES]


@bp.route("/demands/new", methods=["GET", "POST"])
@login_required
def demand_new():
    """Register data my department needs that the catalog lacks: what, which fields, the basis, the purpose."""
    session = get_session()
    departments = _my_editing_departments()
    errors: dict = {}
    if request.method == "POST":
        form = request.form
        try:
            demand = service.create_demand(
                session, actor(), organization_id=form.get("organization_id") or "", title=form.get("title"),
                description=form.get("description"),
                fields=[f.strip() for f in (form.get("fields") or "").replace("、", "\n").replace(",", "\n")
                        .splitlines() if f.strip()],
                basis=form.get("basis"), purpose=form.get("purpose"), config=current_app.config)
        except (ValidationError, Conflict) as invalid:
            session.rollback()
            errors = messages(invalid.errors)
        else:
            commit()
            flash(_("The demand was registered; the data authority assigns it to the source department."), "success")
            return redirect(url_for("web.demand_page", demand_id=demand.id))
    return render_template("demands/new.html", departments=departments, form=request.form, errors=errors), \
        422 if errors else 200


def _detail(demand: Demand, errors: dict | None = None, failed: str | None = None, status: int = 200):
    session = get_session()
    viewer, config = actor(), current_app.config
    can_assign = service.is_authority(session, viewer, config) and demand.status in ("open", "assigned")
    can_answer = demand.status == "assigned" and rules.can_edit_datasets_of(session, viewer, demand.assignee_id)
    return render_template("demands/show.html", d=demand, status=status_label(demand.status),
                           overdue=service.is_overdue(demand), can_assign=can_assign, can_answer=can_answer,
                           departments=list_departments(session) if can_assign else [],
                           errors=errors or {}, failed=failed, form=request.form), status


@bp.route("/demands/<demand_id>")
@login_required
def demand_page(demand_id: str):
    """One demand: who needs what and why, the source department, the deadline, the answer."""
    return _detail(service.get_demand(get_session(), actor(), demand_id, current_app.config))


@bp.route("/demands/<demand_id>/<step>", methods=["POST"])
@login_required
def demand_step(demand_id: str, step: str):
    """Assign (the authority), fulfil with a dataset or refuse with the legal basis (the source department)."""
    session = get_session()
    config = current_app.config
    demand = service.get_demand(session, actor(), demand_id, config)
    form = request.form
    try:
        if step == "assign":
            service.assign_demand(session, actor(), demand, organization_id=form.get("organization_id") or "",
                                  config=config)
            message = _("The demand was assigned; the source department answers by %(date)s.",
                        date=demand.deadline.isoformat())
        elif step == "fulfil":
            try:
                dataset = show_dataset(session, actor(), (form.get("package_id") or "").strip())
            except NotFound:
                raise ValidationError.single("package_id", _("No dataset of that name.")) from None
            service.fulfil_demand(session, actor(), demand, dataset=dataset, note=form.get("note"), config=config)
            message = _("The demand is fulfilled; the dataset page lists it.")
        elif step == "refuse":
            service.refuse_demand(session, actor(), demand, basis=form.get("basis"), config=config)
            message = _("The demand was refused.")
        else:
            raise NotFound(f"No such step: {step}")
    except (ValidationError, Conflict) as invalid:
        session.rollback()
        return _detail(demand, messages(invalid.errors), step, status=422)
    commit()
    flash(message, "success")
    return redirect(url_for("web.demand_page", demand_id=demand.id))
