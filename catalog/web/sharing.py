"""Sharing: requests to my department (approve with fields and expiry, reject with a reason) and my
department's own requests; the 'request access' form of a conditionally shared dataset."""
from __future__ import annotations

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
from ..sharing.service import (approve_request, create_request, get_request, is_overdue, list_requests,
                               reject_request)
from . import labels
from .common import actor, bp, commit, messages, parse_date

LIST_LIMIT = 200


def status_label(status: str) -> str:
    """A request status in the page language."""
    return {"pending": _("Pending"), "approved": _("Approved"), "rejected": _("Rejected"),
            "revoked": _("Revoked")}.get(status, status)


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
                     "sensitive": sensitive, "labels": labels.field_labels(_schema(r.dataset), sensitive)})
    return rows


def _page(errors: dict | None = None, failed_id: str | None = None, status: int = 200):
    session = get_session()
    viewer = actor()
    common = dict(organization_id=None, package_id=None, status=None, overdue=None, offset=0, limit=LIST_LIMIT)
    incoming = list_requests(session, viewer, direction="incoming", **common)
    outgoing = list_requests(session, viewer, direction="outgoing", **common)
    deciding = {r.id for r in incoming if rules.is_sysadmin(viewer)
                or rules.role_in(session, viewer, r.dataset.owner_org) == "admin"}
    return render_template("sharing/list.html", incoming=_rows(incoming), outgoing=_rows(outgoing),
                           deciding=deciding, errors=errors or {}, failed_id=failed_id), status


@bp.route("/sharing")
@login_required
def sharing():
    """Requests to and from my departments, the nearest deadline first; overdue ones stand out."""
    return _page()


@bp.route("/sharing/<request_id>/decide", methods=["POST"])
@login_required
def share_decide(request_id: str):
    """Approve (with the granted fields and an expiry date) or reject (with a reason) a request."""
    session = get_session()
    share_request = get_request(session, actor(), request_id)
    try:
        if request.form.get("action") == "reject":
            reject_request(session, actor(), share_request, reason=request.form.get("reason") or "")
            message = _("The request was rejected.")
        else:
            expires, ok = parse_date(request.form.get("expires"))
            if not ok:
                raise ValidationError.single("expires", "must be a date written as YYYY-MM-DD")
            approve_request(session, actor(), share_request, fields=request.form.getlist("fields"), expires=expires)
            message = _("The request was approved.")
    except ValidationError as invalid:
        session.rollback()
        return _page(messages(invalid.errors), request_id, status=422)
    commit()
    flash(message, "success")
    return redirect(url_for("web.sharing"))


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
    form = {"organization_id": mine[0].id, "purpose": "", "fields": [], "expires": ""}
    errors: dict = {}
    if request.method == "POST":
        form = {"organization_id": request.form.get("organization_id") or "",
                "purpose": (request.form.get("purpose") or "").strip(),
                "fields": request.form.getlist("fields"), "expires": (request.form.get("expires") or "").strip()}
        expires, ok = parse_date(form["expires"])
        if not ok:
            errors = {"expires": [_("must be a date written as YYYY-MM-DD")]}
        elif form["organization_id"] not in {d.id for d in mine}:
            errors = {"organization_id": [_("Choose one of your departments.")]}
        else:
            try:
                create_request(session, viewer, dataset=dataset, organization_id=form["organization_id"],
                               purpose=form["purpose"], fields=form["fields"], expires=expires,
                               config=current_app.config)
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
