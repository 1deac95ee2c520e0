"""Catalog review pages: the data authority's queue with the approve / return form (reasons per field), a
review's page with a revision's diff, the department admin's submit button and the dataset's status badge."""
from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..datasets.models import Dataset
from ..datasets.service import METADATA_FIELDS, metadata_of, show_dataset
from ..db import get_session, utcnow
from ..errors import Conflict, NotAuthorized, ValidationError
from ..review import policy
from ..review import service as review_service
from ..review.models import DatasetReview
from . import labels, metadata
from .common import actor, bp, commit, messages

QUEUE_LIMIT = 200


def status_label(review: DatasetReview | None) -> str:
    """A review's status as the badge says it, in the page language."""
    if review is None:
        return ""
    return {("publication", "submitted"): _("Waiting for review"),
            ("publication", "returned"): _("Returned for changes"),
            ("publication", "approved"): _("Approved"),
            ("revision", "submitted"): _("Revision waiting for review"),
            ("revision", "returned"): _("Revision returned"),
            ("revision", "approved"): _("Revision approved"),
            ("revision", "superseded"): _("Revision superseded")}.get((review.kind, review.status), review.status)


def field_label(field: str) -> str:
    """A dataset field's label from the metadata profile."""
    if field == "owner_org":
        return _("Department")
    if field == "resources":
        return _("Resources")
    return labels.field_label(metadata.profile(), field)


def _authority_department() -> str | None:
    return current_app.config.get("AUTHORITY_DEPARTMENT")


def _value(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return "；".join("、".join(str(v) for v in item.values() if v) for item in value)
    if isinstance(value, dict):
        return "、".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        return "、".join(str(v) for v in value)
    return str(value)


@bp.app_context_processor
def _review_helpers() -> dict[str, Any]:
    return {"review_badge": review_badge, "review_queue_panel": review_queue_panel}


def review_badge(dataset: Dataset) -> dict[str, Any] | None:
    """What the dataset page shows of its review (for those who may see it): the status badge, due day,
    reasons, and whether the viewer may submit it; None when there is nothing to show."""
    session, viewer = get_session(), actor()
    config = current_app.config
    if viewer is None or not rules.can_see_review(session, viewer, _authority_department(),
                                                  owner_org=dataset.owner_org):
        return None
    review = policy.latest_review(session, dataset.id)
    may_submit = (policy.review_enabled(config) and dataset.state == "draft"
                  and rules.can_submit_dataset(session, viewer, dataset.owner_org)
                  and policy.pending_review(session, dataset.id) is None)
    if review is None and not may_submit:
        return None
    return {"review": review, "label": status_label(review), "overdue": bool(review) and review_service.is_overdue(review),
            "may_submit": may_submit, "reasons": [(field_label(f), m) for f, m in (review.field_reasons or {}).items()]
            if review else []}


def review_queue_panel() -> dict[str, Any] | None:
    """The dashboard panel: reviews waiting for the data authority (or, for a department, its own), overdue first."""
    session, viewer = get_session(), actor()
    if viewer is None or not policy.review_enabled(current_app.config):
        return None
    waiting = review_service.list_reviews(session, viewer, config=current_app.config, status="submitted",
                                          limit=20)
    if not waiting and not rules.is_authority(session, viewer, _authority_department()):
        return None
    today = utcnow().date()
    return {"rows": [{"review": r, "label": status_label(r), "overdue": review_service.is_overdue(r, today)}
                     for r in waiting],
            "authority": rules.is_authority(session, viewer, _authority_department())}


@bp.route("/review")
@login_required
def review_queue():
    """The review queue: submitted datasets and revisions with their due days; the authority sees every
    department's, a department its own; ``?status=`` and ``?overdue=1`` filter."""
    session, viewer = get_session(), actor()
    status = request.args.get("status") or "submitted"
    if status not in ("submitted", "approved", "returned", "superseded"):
        status = "submitted"
    overdue = True if request.args.get("overdue") == "1" else None
    reviews = review_service.list_reviews(session, viewer, config=current_app.config, status=status,
                                          overdue=overdue, limit=QUEUE_LIMIT)
    today = utcnow().date()
    rows = [{"review": r, "label": status_label(r), "overdue": review_service.is_overdue(r, today),
             "may_review": r.status == "submitted" and rules.can_review_dataset(
                 session, viewer, _authority_department(), owner_org=r.dataset.owner_org)} for r in reviews]
    return render_template("review/queue.html", rows=rows, status=status, overdue=overdue,
                           enabled=policy.review_enabled(current_app.config))


def _review_page(review: DatasetReview, errors: dict[str, list[str]] | None = None, form=None, status: int = 200):
    session, viewer = get_session(), actor()
    current = metadata_of(review.dataset)
    changes = [{"field": c["field"], "label": field_label(c["field"]), "old": _value(c["old"]),
                "new": _value(c["new"]), "current": _value(current.get(c["field"])),
                "moved": current.get(c["field"]) != c["old"]} for c in review.changes or []]
    may_review = review.status == "submitted" and rules.can_review_dataset(
        session, viewer, _authority_department(), owner_org=review.dataset.owner_org)
    fields = [c["field"] for c in review.changes or []] or [f for f in policy.CORE_FIELDS if f != "owner_org"]
    return render_template("review/show.html", review=review, dataset=review.dataset, changes=changes,
                           label=status_label(review), overdue=review_service.is_overdue(review),
                           may_review=may_review, reason_fields=[(f, field_label(f)) for f in fields],
                           reasons=[(field_label(f), m) for f, m in (review.field_reasons or {}).items()],
                           errors=errors or {}, form=form or {}), status


@bp.route("/review/<review_id>")
@login_required
def review_page(review_id: str):
    """One review: the dataset, the revision's diff (field, published when proposed, proposed, published
    now), the due day, the decision and its reasons; the approve / return form for the authority."""
    review = review_service.get_review(get_session(), actor(), review_id, config=current_app.config)
    return _review_page(review)


@bp.route("/review/<review_id>/decide", methods=["POST"])
@login_required
def review_decide(review_id: str):
    """Approve or return (with a reason and what to fix per field) the waiting review."""
    session, viewer = get_session(), actor()
    review = review_service.get_review(session, viewer, review_id, config=current_app.config)
    decision = request.form.get("decision", "")
    field_reasons = {}
    for field in list(METADATA_FIELDS) + ["owner_org", "resources"]:
        text = (request.form.get(f"reason-{field}") or "").strip()
        if text:
            field_reasons[field] = text
    try:
        review_service.review_dataset(session, viewer, review.dataset, decision=decision,
                                      reason=request.form.get("reason"), field_reasons=field_reasons,
                                      review_id=review.id, config=current_app.config)
    except NotAuthorized:
        raise
    except (ValidationError, Conflict) as error:
        session.rollback()
        review = review_service.get_review(session, viewer, review_id, config=current_app.config)
        return _review_page(review, messages(error.errors), request.form, 409)
    commit()
    flash(_("Approved: the dataset is published.") if decision == "approve" and review.kind == "publication"
          else _("Approved: the revision is published.") if decision == "approve"
          else _("Returned to the department with what to fix."), "success")
    return redirect(url_for("web.review_page", review_id=review.id))


@bp.route("/dataset/<name>/submit", methods=["POST"])
@login_required
def dataset_submit(name: str):
    """The department's admin submits the draft for the data authority's review."""
    session, viewer = get_session(), actor()
    dataset = show_dataset(session, viewer, name)
    try:
        review = review_service.submit_dataset(session, viewer, dataset, config=current_app.config)
    except (ValidationError, Conflict) as error:
        session.rollback()
        for field_messages in messages(error.errors).values():
            for message in field_messages:
                flash(message, "error")
        return redirect(url_for("web.dataset_page", name=name))
    commit()
    flash(_("Submitted for review; the data authority's decision is due on %(due)s.", due=review.due.isoformat()),
          "success")
    return redirect(url_for("web.dataset_page", name=name))
