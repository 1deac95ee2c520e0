"""Sharing: requests to my department (approve, reject with a reason, return for completion, ask for more
time), my department's own requests (resubmit a returned one), the data authority's decisions on
extensions and suspensions, grants with their delivery and destruction days, and use records."""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from schemas.validation import sensitive_fields

from ..auth import rules
from ..datasets.models import Dataset
from ..datasets.service import show_dataset
from ..datastore.record_schemas import find_record_schema
from ..db import get_session, utcnow
from ..departments.service import departments_of
from ..errors import NotAuthorized, ValidationError
from ..sharing import grants as grant_service
from ..sharing import usage as usage_service
from ..sharing import workflow
from ..sharing.models import USAGE_KINDS, ShareRequest
from ..sharing.notices import list_notices
from ..sharing.service import (approve_request, create_request, get_request, get_request_for_authority,
                               is_overdue, list_requests, reject_request)
from . import labels
from .common import actor, bp, commit, messages, parse_date

LIST_LIMIT = 200
#: the parts of a request a provider can say are missing, in the order of the form
RETURN_PARTS = ("basis", "scenario", "purpose", "fields", "expires", "other")


def status_label(status: str) -> str:
    """A request status in the page language."""
    return {"pending": _("Pending"), "approved": _("Approved"), "rejected": _("Rejected"),
            "revoked": _("Revoked"), "returned": _("Returned for completion")}.get(status, status)


def part_label(part: str) -> str:
    """A part of a request (what a return says is missing) in the page language."""
    return {"basis": _("Basis of use"), "scenario": _("Scenario"), "purpose": _("Purpose"),
            "fields": _("Fields asked for"), "expires": _("Needed until"), "organization_id": _("On behalf of"),
            "other": _("Other")}.get(part, part)


def grant_status_label(status: str) -> str:
    """A grant status in the page language."""
    return {"active": _("Active"), "suspended": _("Suspended"), "expired": _("Expired"),
            "revoked": _("Revoked")}.get(status, status)


def extension_label(status: str | None) -> str:
    """An extension's status in the page language."""
    return {"requested": _("Extension requested"), "approved": _("Extension approved"),
            "refused": _("Extension refused")}.get(status or "", "")


def usage_kind_label(kind: str) -> str:
    """A use record's kind in the page language."""
    return {"use": _("Use"), "storage": _("Storage"), "destruction": _("Destruction")}.get(kind, kind)


def notice_label(kind: str) -> str:
    """What a notice to a department says, in the page language."""
    return {"request.returned": _("the request was returned for completion"),
            "request.resubmitted": _("the request was completed and sent again"),
            "request.extension_requested": _("the provider asked for more time"),
            "request.extension_decided": _("the data authority decided on the extension"),
            "grant.delivered": _("the data reached the requesting department"),
            "grant.suspended": _("the grant was suspended"), "grant.resumed": _("the grant was resumed"),
            "usage.recorded": _("a use record was added"),
            "sharing.narrowed": _("sharing of the dataset stopped or narrowed")}.get(kind, kind)


@bp.app_context_processor
def _sharing_helpers() -> dict:
    return {"notice_label": notice_label}


def _schema(dataset: Dataset):
    return find_record_schema(get_session(), dataset.record_schema) if dataset.record_schema else None


def sensitive_of(dataset: Dataset) -> list[str]:
    """The sensitive fields of the dataset's record schema (what a grant may name)."""
    schema = _schema(dataset)
    return sorted(sensitive_fields(schema)) if schema else []


def _rows(requests) -> list[dict]:
    today = utcnow().date()
    rows = []
    for r in requests:
        sensitive = sorted(set(sensitive_of(r.dataset)) | set(r.fields or []))
        rows.append({"request": r, "overdue": is_overdue(r, today), "status": status_label(r.status),
                     "extension": extension_label(r.extension_status),
                     "missing": [(part_label(k), v) for k, v in (r.missing or {}).items()],
                     "sensitive": sensitive, "labels": labels.field_labels(_schema(r.dataset), sensitive)})
    return rows


def _authority() -> bool:
    return rules.is_authority(get_session(), actor(), current_app.config.get("AUTHORITY_DEPARTMENT"))


def _extensions_waiting(session) -> list[ShareRequest]:
    """Extensions waiting for the data authority (sysadmins see them through the request lists too)."""
    if not _authority():
        return []
    waiting = session.scalars(sa.select(ShareRequest).where(ShareRequest.extension_status == "requested")
                              .order_by(ShareRequest.deadline, ShareRequest.id).limit(LIST_LIMIT))
    return [r for r in waiting
            if rules.can_decide_share_extension(session, actor(), current_app.config.get("AUTHORITY_DEPARTMENT"),
                                                provider_id=r.dataset.owner_org)]


def _page(errors: dict | None = None, failed_id: str | None = None, status: int = 200):
    session = get_session()
    viewer = actor()
    common = dict(organization_id=None, package_id=None, status=None, overdue=None, offset=0, limit=LIST_LIMIT)
    incoming = list_requests(session, viewer, direction="incoming", **common)
    outgoing = list_requests(session, viewer, direction="outgoing", **common)
    deciding = {r.id for r in incoming if rules.is_sysadmin(viewer)
                or rules.role_in(session, viewer, r.dataset.owner_org) == "admin"}
    resubmitting = {r.id for r in outgoing if rules.is_sysadmin(viewer)
                    or rules.role_in(session, viewer, r.organization_id) in rules.EDIT_ROLES}
    return render_template("sharing/list.html", incoming=_rows(incoming), outgoing=_rows(outgoing),
                           extensions=_rows(_extensions_waiting(session)), deciding=deciding,
                           resubmitting=resubmitting, return_parts=[(p, part_label(p)) for p in RETURN_PARTS],
                           errors=errors or {}, failed_id=failed_id), status


@bp.route("/sharing")
@login_required
def sharing():
    """Requests to and from my departments, the nearest deadline first; overdue ones stand out."""
    return _page()


def _days(raw: str | None) -> int:
    try:
        return int(raw or "")
    except ValueError:
        raise ValidationError.single("days", _("must be a whole number of working days")) from None


@bp.route("/sharing/<request_id>/decide", methods=["POST"])
@login_required
def share_decide(request_id: str):
    """Approve (with fields and an expiry date), reject (with a reason), return for completion (with what
    is missing) or ask for more time (days and a reason)."""
    session = get_session()
    share_request = get_request(session, actor(), request_id)
    chosen = request.form.get("action")
    try:
        if chosen == "reject":
            reject_request(session, actor(), share_request, reason=request.form.get("reason") or "",
                           cite_condition=request.form.get("cite_condition") == "1")
            message = _("The request was rejected.")
        elif chosen == "return":
            missing = {part: (request.form.get(f"missing_{part}") or "").strip() for part in RETURN_PARTS}
            workflow.return_request(session, actor(), share_request, missing={k: v for k, v in missing.items() if v})
            message = _("The request was returned for completion; its clock stops until it is resubmitted.")
        elif chosen == "extend":
            workflow.request_extension(session, actor(), share_request, days=_days(request.form.get("days")),
                                       reason=request.form.get("extension_reason") or "", config=current_app.config)
            message = _("The extension was asked of the data authority.")
        else:
            expires, ok = parse_date(request.form.get("expires"))
            if not ok:
                raise ValidationError.single("expires", "must be a date written as YYYY-MM-DD")
            approve_request(session, actor(), share_request, fields=request.form.getlist("fields"), expires=expires,
                            config=current_app.config)
            message = _("The request was approved.")
    except ValidationError as invalid:  # Conflict included
        session.rollback()
        return _page(messages(invalid.errors), request_id, status=422)
    commit()
    flash(message, "success")
    return redirect(url_for("web.sharing"))


@bp.route("/sharing/<request_id>/resubmit", methods=["POST"])
@login_required
def share_resubmit(request_id: str):
    """Complete a returned request (basis, scenario, purpose) and send it again."""
    session = get_session()
    share_request = get_request(session, actor(), request_id)
    try:
        workflow.resubmit_request(session, actor(), share_request, config=current_app.config,
                                  **{k: request.form.get(k) for k in ("basis", "scenario", "purpose")})
    except ValidationError as invalid:  # Conflict included
        session.rollback()
        return _page(messages(invalid.errors), request_id, status=422)
    commit()
    flash(_("The request was sent again."), "success")
    return redirect(url_for("web.sharing"))


@bp.route("/sharing/<request_id>/extension", methods=["POST"])
@login_required
def share_extension_decide(request_id: str):
    """The data authority approves or refuses (with a reason) an extension."""
    session = get_session()
    share_request = get_request_for_authority(session, actor(), request_id, current_app.config)
    try:
        workflow.decide_extension(session, actor(), share_request, approve=request.form.get("decision") == "approve",
                                  reason=request.form.get("reason"), config=current_app.config)
    except ValidationError as invalid:  # Conflict included
        session.rollback()
        return _page(messages(invalid.errors), request_id, status=422)
    commit()
    flash(_("The decision on the extension was sent to both departments."), "success")
    return redirect(url_for("web.sharing"))


def _grant_rows(found) -> list[dict]:
    session = get_session()
    config = current_app.config
    return [{"grant": g, "state": grant_service.grant_status(g),
             "status": grant_status_label(grant_service.grant_status(g)),
             "delivery_overdue": grant_service.delivery_overdue(g),
             "destruction_due": grant_service.destruction_due(g, config),
             "destruction_overdue": grant_service.destruction_overdue(session, g, config),
             "records": [{"record": u, "kind": usage_kind_label(u.kind)}
                         for u in usage_service.list_usage_records(session, g)],
             "recording": rules.can_record_use(session, actor(), g.organization_id)} for g in found]


def _grants_page(errors: dict | None = None, failed_id: str | None = None, status: int = 200):
    session = get_session()
    common = dict(config=current_app.config, organization_id=None, package_id=None, undelivered=None,
                  overdue=None, destruction_overdue_only=None, status=None, offset=0, limit=LIST_LIMIT)
    given = grant_service.list_grants(session, actor(), direction="incoming", **common)
    held = grant_service.list_grants(session, actor(), direction="outgoing", **common)
    everything = grant_service.list_grants(session, actor(), direction=None, **common)
    late = [g for g in everything if grant_service.delivery_overdue(g)]
    destruction_late = [g for g in everything if grant_service.destruction_overdue(session, g, current_app.config)]
    return render_template("sharing/grants.html", given=_grant_rows(given), held=_grant_rows(held),
                           late=_grant_rows(late), destruction_late=_grant_rows(destruction_late),
                           authority=_authority(), kinds=[(k, usage_kind_label(k)) for k in USAGE_KINDS],
                           errors=errors or {}, failed_id=failed_id, today=utcnow().date()), status


@bp.route("/sharing/grants")
@login_required
def share_grants():
    """Grants my departments gave or hold: delivery and destruction days, suspensions, use records."""
    return _grants_page()


@bp.route("/sharing/grants/<grant_id>/suspend", methods=["POST"])
@login_required
def share_grant_suspend(grant_id: str):
    """The data authority suspends or resumes a grant, with a reason."""
    session = get_session()
    grant = grant_service.get_grant(session, actor(), grant_id, current_app.config)
    resume = request.form.get("action") == "resume"
    try:
        change = grant_service.resume_grant if resume else grant_service.suspend_grant
        change(session, actor(), grant, reason=request.form.get("reason"), config=current_app.config)
    except ValidationError as invalid:  # Conflict included
        session.rollback()
        return _grants_page(messages(invalid.errors), grant_id, status=422)
    commit()
    flash(_("The grant was resumed.") if resume else _("The grant was suspended; reads under it stop at once."),
          "success")
    return redirect(url_for("web.share_grants"))


@bp.route("/sharing/grants/<grant_id>/usage", methods=["POST"])
@login_required
def share_usage_record(grant_id: str):
    """Record a use, the storage or the destruction of a grant's data."""
    session = get_session()
    grant = grant_service.get_grant(session, actor(), grant_id, current_app.config)
    try:
        occurred_on, ok = parse_date(request.form.get("occurred_on"))
        if not ok:
            raise ValidationError.single("occurred_on", "must be a date written as YYYY-MM-DD")
        usage_service.create_usage_record(session, actor(), grant, kind=request.form.get("kind") or "",
                                          description=request.form.get("description"), occurred_on=occurred_on,
                                          config=current_app.config)
    except ValidationError as invalid:  # Conflict included
        session.rollback()
        return _grants_page(messages(invalid.errors), grant_id, status=422)
    commit()
    flash(_("The use record was saved."), "success")
    return redirect(url_for("web.share_grants"))


def dashboard_panel(session, viewer) -> dict:
    """What the sharing workflow asks of my departments: notices, returned requests, extensions to decide,
    late deliveries and missing destruction records (the dashboard's sharing card)."""
    config = current_app.config
    mine = [d.id for d, _role in departments_of(session, viewer)]
    common = dict(organization_id=None, package_id=None, overdue=None, offset=0, limit=LIST_LIMIT)
    returned = list_requests(session, viewer, direction="outgoing", status="returned", **common)
    everything = grant_service.list_grants(session, viewer, config=config, direction=None, organization_id=None,
                                           package_id=None, undelivered=None, overdue=True,
                                           destruction_overdue_only=None, status=None, offset=0, limit=LIST_LIMIT)
    destruction = grant_service.list_grants(session, viewer, config=config, direction="outgoing",
                                            organization_id=None, package_id=None, undelivered=None, overdue=None,
                                            destruction_overdue_only=True, status=None, offset=0, limit=LIST_LIMIT)
    return {"notices": list_notices(session, mine, limit=10), "returned": returned,
            "extensions": _extensions_waiting(session), "late_deliveries": everything,
            "destruction_late": destruction}


@bp.route("/dataset/<name>/request-access", methods=["GET", "POST"])
@login_required
def request_access(name: str):
    """File a request for a conditionally shared dataset on behalf of one of my departments."""
    session = get_session()
    viewer = actor()
    dataset = show_dataset(session, viewer, name)
    mine = [d for d, role in departments_of(session, viewer)
            if role in rules.EDIT_ROLES and d.id != dataset.owner_org]
    if not mine:
        raise NotAuthorized(_("Only editors and admins of another department can request this data."))
    form = {"organization_id": mine[0].id, "purpose": "", "basis": "", "scenario": "", "fields": [], "expires": ""}
    errors: dict = {}
    if request.method == "POST":
        form = {"organization_id": request.form.get("organization_id") or "",
                "purpose": (request.form.get("purpose") or "").strip(),
                "basis": (request.form.get("basis") or "").strip(),
                "scenario": (request.form.get("scenario") or "").strip(),
                "fields": request.form.getlist("fields"), "expires": (request.form.get("expires") or "").strip()}
        expires, ok = parse_date(form["expires"])
        if not ok:
            errors = {"expires": [_("must be a date written as YYYY-MM-DD")]}
        elif form["organization_id"] not in {d.id for d in mine}:
            errors = {"organization_id": [_("Choose one of your departments.")]}
        else:
            try:
                create_request(session, viewer, dataset=dataset, organization_id=form["organization_id"],
                               purpose=form["purpose"], basis=form["basis"], scenario=form["scenario"],
                               fields=form["fields"], expires=expires, config=current_app.config)
            except ValidationError as invalid:
                session.rollback()
                errors = messages(invalid.errors)
            else:
                commit()
                flash(_("Your request was sent to %(department)s.", department=dataset.organization.title),
                      "success")
                return redirect(url_for("web.sharing"))
    return render_template("sharing/request.html", dataset=dataset, departments=mine, form=form, errors=errors,
                           sensitive=sensitive_of(dataset),
                           labels=labels.field_labels(_schema(dataset), sensitive_of(dataset))), 422 if errors else 200
