"""Catalog review: a department submits a draft, the data authority approves it or returns it with what to
fix per field; revisions of published datasets go through the same review (decree 809 arts. 13, 16-17)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets import service as datasets
from ..datasets.models import Dataset
from ..db import utcnow
from ..departments.models import Department
from ..errors import Conflict, NotFound, ValidationError
from . import policy
from .models import DatasetReview

#: fields a return may name besides the metadata fields (the dataset's files and its record data)
RETURNABLE_EXTRA = ("owner_org", "tags", "extras", "resources")


def is_overdue(review: DatasetReview, today: dt.date | None = None) -> bool:
    """A review still waiting after its due day."""
    today = today or utcnow().date()
    return review.status == "submitted" and today > review.due


def _authority(config: Mapping[str, Any]) -> str | None:
    return config.get("AUTHORITY_DEPARTMENT")


def submit_dataset(session: Session, actor: User | None, dataset: Dataset, *, config: Mapping[str, Any],
                   metadata_modified: str | None = None, revision: int | None = None) -> DatasetReview:
    """The department's admin submits a draft for publication; the authority's review is due in
    ``CATALOG_REVIEW_DAYS`` working days."""
    rules.require(rules.can_submit_dataset(session, actor, dataset.owner_org),
                  f"Only an admin of the dataset's department submits dataset {dataset.name} for review")
    datasets.lock_dataset(session, dataset)
    datasets.check_not_stale(dataset, metadata_modified=metadata_modified, revision=revision)
    if not policy.review_enabled(config):
        raise Conflict.single("state", "The catalog review is off (CATALOG_CATALOG_REVIEW=false): "
                                       "publish the dataset directly")
    if dataset.state != "draft":
        raise Conflict.single("state", f"Only a draft is submitted for publication; this dataset is {dataset.state}")
    waiting = policy.pending_review(session, dataset.id)
    if waiting is not None and waiting.kind == "publication":
        raise Conflict.single("state", "The dataset is already waiting for the data authority's review")
    if waiting is not None:  # a revision of the dataset before it was withdrawn: the whole draft is reviewed now
        waiting.status = "superseded"
    datasets.check_publishable(session, dataset)  # the authority reviews a complete catalog entry
    review = policy.open_review(session, actor, dataset, kind="publication")
    datasets.touch(dataset)  # the submission is a change of the dataset: a stale editor is refused
    return review


def get_review(session: Session, actor: User | None, review_id: str, *,
               config: Mapping[str, Any]) -> DatasetReview:
    """A review the actor may see (the department's members, the data authority), else NotFound."""
    review = session.get(DatasetReview, review_id) if review_id else None
    if review is None or not rules.can_see_review(session, actor, _authority(config),
                                                  owner_org=review.dataset.owner_org):
        raise NotFound(f"Review not found: {review_id}")
    return review


def _check_field_reasons(field_reasons: Any) -> dict[str, str]:
    if not isinstance(field_reasons, dict):
        raise ValidationError.single("field_reasons", "must be an object {field: what to fix}")
    known = set(datasets.METADATA_FIELDS) | set(RETURNABLE_EXTRA)
    checked = {}
    for field, message in field_reasons.items():
        if field not in known:
            raise ValidationError.single(f"field_reasons.{field}", "is not a dataset field; use one of: "
                                         + ", ".join(sorted(known)))
        if not isinstance(message, str) or not message.strip():
            raise ValidationError.single(f"field_reasons.{field}", "Missing value: say what to fix")
        checked[field] = message.strip()
    return checked


def review_dataset(session: Session, actor: User | None, dataset: Dataset, *, decision: str,
                   reason: str | None, field_reasons: Any = None, review_id: str | None = None,
                   config: Mapping[str, Any], metadata_modified: str | None = None,
                   revision: int | None = None) -> DatasetReview:
    """The data authority decides the dataset's waiting review: ``approve`` publishes the dataset or applies
    the revision; ``return`` sends it back with a reason and what to fix per field."""
    rules.require(rules.can_review_dataset(session, actor, _authority(config), owner_org=dataset.owner_org),
                  f"Only the data authority reviews dataset {dataset.name} (never its own department)")
    if decision not in ("approve", "return"):
        raise ValidationError.single("decision", "must be approve or return")
    reason = (reason or "").strip() or None
    field_reasons = _check_field_reasons(field_reasons or {})
    if decision == "return" and not reason and not field_reasons:
        raise ValidationError.single("reason", "Missing value: a return says what to fix")
    # Two reviewers at once: the second waits here, then finds the review decided (409).
    datasets.lock_dataset(session, dataset)
    datasets.check_not_stale(dataset, metadata_modified=metadata_modified, revision=revision)
    review = policy.pending_review(session, dataset.id)
    if review_id is not None and (review is None or review.id != review_id):
        decided = session.get(DatasetReview, review_id)
        status = decided.status if decided is not None and decided.package_id == dataset.id else None
        raise Conflict.single("review_id", f"That review is {status} already; reload the dataset"
                              if status else f"No review {review_id} of this dataset")
    if review is None:
        raise Conflict.single("state", "The dataset is not waiting for a review (decided already, or never "
                                       "submitted)")
    if decision == "approve":
        _approve(session, actor, dataset, review, reason=reason)
    review.status = "approved" if decision == "approve" else "returned"
    review.reviewer_id = actor.id if actor else None
    review.decided_at = utcnow()
    review.reason = reason
    review.field_reasons = field_reasons
    if decision == "return":
        datasets.touch(dataset)  # the department sees the return as a change of its dataset
    session.flush()
    policy.announce(session, actor, dataset, review, "approved" if decision == "approve" else "returned")
    return review


def _approve(session: Session, actor: User | None, dataset: Dataset, review: DatasetReview, *,
             reason: str | None) -> None:
    if review.kind == "publication":
        if dataset.state != "draft":
            raise Conflict.single("state", f"The dataset is {dataset.state}; only a draft is published")
        datasets.apply_reviewed(session, actor, dataset, {"state": "active"})
        return
    if dataset.state != "active":
        raise Conflict.single("state", f"The dataset is {dataset.state}: a revision applies to a published one")
    current = datasets.metadata_of(dataset)
    moved = [c["field"] for c in review.changes if current.get(c["field"]) != c["old"]]
    if moved:  # someone changed the published values since the revision was proposed
        raise Conflict.single(moved[0], "The published value changed since this revision was proposed; "
                                        "return it so the department proposes it again")
    datasets.apply_reviewed(session, actor, dataset, {c["field"]: c["new"] for c in review.changes}, reason=reason)


def list_reviews(session: Session, actor: User | None, *, config: Mapping[str, Any], status: str | None = None,
                 kind: str | None = None, overdue: bool | None = None, organization_id: str | None = None,
                 package_id: str | None = None, offset: int = 0, limit: int = 100) -> list[DatasetReview]:
    """Reviews the actor may see (the authority: all; others: their departments'), earliest due first."""
    if actor is None:
        return []
    query = sa.select(DatasetReview).join(Dataset, Dataset.id == DatasetReview.package_id).where(
        Dataset.state != "deleted")
    if not rules.is_authority(session, actor, _authority(config)):
        query = query.where(Dataset.owner_org.in_(rules.member_departments(actor)))
    if status:
        query = query.where(DatasetReview.status == status)
    if kind:
        query = query.where(DatasetReview.kind == kind)
    if organization_id:
        named = sa.select(Department.id).where(Department.name == organization_id)
        query = query.where(sa.or_(Dataset.owner_org == organization_id, Dataset.owner_org.in_(named)))
    if package_id:
        query = query.where(sa.or_(Dataset.id == package_id, Dataset.name == package_id))
    if overdue is not None:
        late = sa.and_(DatasetReview.status == "submitted", DatasetReview.due < utcnow().date())
        query = query.where(late if overdue else sa.not_(late))
    query = query.order_by(DatasetReview.due, DatasetReview.submitted_at, DatasetReview.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def list_revisions(session: Session, actor: User | None, dataset: Dataset, *,
                   config: Mapping[str, Any]) -> list[DatasetReview]:
    """A dataset's revisions, newest first: to the department and the authority; nobody else sees pending
    or returned core changes."""
    if not rules.can_see_review(session, actor, _authority(config), owner_org=dataset.owner_org):
        raise NotFound(f"Dataset not found: {dataset.name}")
    return list(session.scalars(sa.select(DatasetReview).where(
        DatasetReview.package_id == dataset.id, DatasetReview.kind == "revision")
        .order_by(DatasetReview.number.desc())))
