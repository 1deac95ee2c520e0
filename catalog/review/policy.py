"""When an edit needs the data authority's review, and the pending revision it creates instead.

This module sits below :mod:`catalog.datasets.service` (which calls it on every create and update) and
knows no dataset service: the decisions themselves are in :mod:`catalog.review.service`.

Core metadata (what a revision holds) are the GB/T 21063.3 elements of the profile
(``schemas/metadata/dataset/1.json``, ``../shared/DOMAIN.md``): name, abstract, code, classification,
provider, items, share and open attributes, update cycle, publication date, related codes. The rest
(tags, CKAN's descriptive fields, extras, the record schema, private) and the resources and their data
keep flowing as before: they change the published dataset at once.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy.orm import Session

from ..activity.service import record_activity
from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..db import utcnow
from ..sharing.workdays import Calendar
from ..webhooks.service import enqueue
from .models import DatasetReview

CORE_FIELDS = ("title", "notes", "resource_code", "category", "owner_org", "items", "share_type",
               "share_condition", "share_method", "open_type", "open_condition", "update_cycle",
               "publish_date", "related_codes")


def settings() -> Mapping[str, Any]:
    """The running app's configuration; none outside an app (scripts, factories): review is then off."""
    return current_app.config if has_app_context() else {}


def review_enabled(config: Mapping[str, Any]) -> bool:
    """Whether publishing and core metadata changes wait for the data authority (``CATALOG_REVIEW``)."""
    return bool(config.get("CATALOG_REVIEW", False))


def may_review(session: Session, actor: User | None, owner_org: str, config: Mapping[str, Any]) -> bool:
    """The actor reviews datasets of ``owner_org`` (:func:`catalog.auth.rules.can_review_dataset`)."""
    return rules.can_review_dataset(session, actor, config.get("AUTHORITY_DEPARTMENT"), owner_org=owner_org)


def needs_review(session: Session, actor: User | None, owner_org: str) -> bool:
    """Whether the actor's publishing or core edit in ``owner_org`` must wait for a review (the authority's
    own reviewers publish what they could approve)."""
    config = settings()
    return review_enabled(config) and not may_review(session, actor, owner_org, config)


def review_due(submitted_on: dt.date, config: Mapping[str, Any]) -> dt.date:
    """The day the review is due: ``CATALOG_REVIEW_DAYS`` working days after the day of submission."""
    return Calendar.from_config(config).add(submitted_on, int(config.get("CATALOG_REVIEW_DAYS", 2)))


def pending_review(session: Session, dataset_id: str, *, kind: str | None = None) -> DatasetReview | None:
    """The dataset's review that waits for a decision, if any."""
    query = sa.select(DatasetReview).where(DatasetReview.package_id == dataset_id,
                                           DatasetReview.status == "submitted")
    if kind:
        query = query.where(DatasetReview.kind == kind)
    return session.scalar(query.order_by(DatasetReview.number.desc()).limit(1))


def latest_review(session: Session, dataset_id: str) -> DatasetReview | None:
    """The dataset's most recent review (any kind and status)."""
    return session.scalar(sa.select(DatasetReview).where(DatasetReview.package_id == dataset_id)
                          .order_by(DatasetReview.number.desc()).limit(1))


def core_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The core fields whose values differ, as ``{field, old, new}`` entries in profile order."""
    return [{"field": field, "old": before.get(field), "new": after.get(field)}
            for field in CORE_FIELDS if before.get(field) != after.get(field)]


def open_review(session: Session, actor: User | None, dataset: Dataset, *, kind: str,
                changes: list[dict[str, Any]] | None = None) -> DatasetReview:
    """Write a submitted review of ``dataset`` due in ``CATALOG_REVIEW_DAYS`` working days, with its
    activity and webhook; a revision replaces (supersedes) the dataset's earlier pending revision."""
    if kind == "revision":
        earlier = pending_review(session, dataset.id, kind="revision")
        if earlier is not None:
            earlier.status = "superseded"
    number = (session.scalar(sa.select(sa.func.max(DatasetReview.number))
                             .where(DatasetReview.package_id == dataset.id)) or 0) + 1
    now = utcnow()
    review = DatasetReview(package_id=dataset.id, kind=kind, number=number, status="submitted",
                           changes=list(changes or []), submitted_by=actor.id if actor else None,
                           submitted_at=now, due=review_due(now.date(), settings()), field_reasons={})
    session.add(review)
    session.flush()
    announce(session, actor, dataset, review, "submitted")
    return review


#: the activity type and webhook event of each (kind, step)
EVENTS = {
    ("publication", "submitted"): ("submitted package", "package.submitted"),
    ("publication", "approved"): ("approved package", "package.approved"),
    ("publication", "returned"): ("returned package", "package.returned"),
    ("revision", "submitted"): ("proposed package revision", "package.revision_submitted"),
    ("revision", "approved"): ("approved package revision", "package.revision_approved"),
    ("revision", "returned"): ("returned package revision", "package.revision_returned"),
}


def announce(session: Session, actor: User | None, dataset: Dataset, review: DatasetReview, step: str) -> None:
    """Record the activity naming what happened and write the webhook deliveries of the event.

    Both carry only the review's id, kind, number, status and due day: a published dataset's activity and
    webhooks reach readers outside the department, and a revision's values and the authority's reasons are
    for the department and the authority (package_revision_show) only.
    """
    activity_type, event = EVENTS[(review.kind, step)]
    thin = {"id": review.id, "kind": review.kind, "number": review.number, "status": review.status,
            "due": review.due.isoformat()}
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type=activity_type,
                    data={"package": {"id": dataset.id, "name": dataset.name, "title": dataset.title},
                          "review": thin})
    enqueue(session, dataset, event, {"package_id": dataset.id, "package_name": dataset.name,
                                      "state": dataset.state, "review": thin})


def authority_may_read(session: Session, actor: User | None, dataset: Dataset) -> bool:
    """The data authority reads a dataset it has under review or returned, as the department does."""
    if actor is None or dataset.state == "deleted":
        return False
    if not rules.is_authority(session, actor, settings().get("AUTHORITY_DEPARTMENT")):
        return False
    return session.scalar(sa.select(sa.exists().where(
        DatasetReview.package_id == dataset.id, DatasetReview.status.in_(("submitted", "returned"))))) is True
