"""Datasets: register, read, change and delete data resources with their core metadata."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..activity.service import changes_between, record_activity
from ..auth import rules
from ..auth.models import User
from ..datastore.record_schemas import find_record_schema
from ..db import utcnow
from ..departments.models import Department
from ..departments.service import get_department
from ..errors import Conflict, NotFound, ValidationError
from ..review import policy as review_policy
from ..search.index import index_dataset
from ..sharing.narrowing import check_narrowing
from ..webhooks.service import metadata_changed as announce_metadata_changed
from .models import Dataset, Tag, dataset_tag
from .validation import validate_metadata

#: Fields a caller sets directly; everything else is derived or managed by the service.
METADATA_FIELDS = (
    "name", "title", "notes", "private", "state", "url", "version", "author", "author_email",
    "maintainer", "maintainer_email", "license_id", "resource_code", "category", "share_type",
    "share_condition", "share_method", "open_type", "open_condition", "update_cycle",
    "publish_date", "related_codes", "items", "record_schema",
)
DEFAULTS: dict[str, Any] = {"private": False, "state": "active", "related_codes": [], "items": []}
PUBLISH_NEEDS_REVIEW = ("Publishing needs the data authority's review: keep the dataset a draft and submit it "
                        "(package_submit)")


def get_dataset(session: Session, id_or_name: str) -> Dataset:
    """The dataset with this id or name in any state, or :class:`NotFound` (no access check)."""
    dataset = session.scalar(sa.select(Dataset).where(
        sa.or_(Dataset.id == id_or_name, Dataset.name == id_or_name)))
    if dataset is None:
        raise NotFound(f"Dataset not found: {id_or_name}")
    return dataset


def show_dataset(session: Session, actor: User | None, id_or_name: str, *,
                 not_found: str | None = None) -> Dataset:
    """The dataset, if the actor may read it; otherwise :class:`NotFound`.

    A dataset the actor may not read gets the very answer a missing one gets, so that outsiders cannot
    tell a private (or draft, or deleted) dataset from none. ``not_found`` is that answer's message when
    the caller looked up something else (a resource, a DataStore table) and must not name the dataset.
    """
    message = not_found or f"Dataset not found: {id_or_name}"
    try:
        dataset = get_dataset(session, id_or_name)
    except NotFound:
        raise NotFound(message) from None
    return require_readable(session, actor, dataset, message)


def require_readable(session: Session, actor: User | None, dataset: Dataset, message: str) -> Dataset:
    """``dataset`` (already loaded) if the actor may read it; otherwise :class:`NotFound` with ``message``
    (:func:`show_dataset` without its lookup, for callers that hold the dataset)."""
    if not rules.can_read_dataset(session, actor, owner_org=dataset.owner_org, private=dataset.private,
                                  state=dataset.state) and not review_policy.authority_may_read(session, actor, dataset):
        raise NotFound(message)
    return dataset


def metadata_of(dataset: Dataset) -> dict[str, Any]:
    """The dataset's caller-set fields as a plain dict (the document the profile validates)."""
    values = {field: getattr(dataset, field) for field in METADATA_FIELDS}
    if isinstance(values["publish_date"], dt.date):
        values["publish_date"] = values["publish_date"].isoformat()
    values["owner_org"] = dataset.owner_org
    values["tags"] = sorted(tag.name for tag in dataset.tags)
    values["extras"] = dict(dataset.extras or {})
    return values


def _document(values: dict[str, Any], tags: list[str]) -> dict[str, Any]:
    document = {k: v for k, v in values.items() if k in METADATA_FIELDS and v is not None}
    document["tags"] = [{"name": t} for t in tags]
    return document


def _validate(session: Session, values: dict[str, Any], tags: list[str], own_id: str | None) -> None:
    document = _document(values, tags)
    try:
        validate_metadata(document)
    except ValidationError as error:
        errors = error.errors
    else:
        errors = {}
    for field, label in (("name", "URL"), ("resource_code", "resource code")):
        value = values.get(field)
        if value and field not in errors:
            clash = session.scalar(sa.select(Dataset.id).where(getattr(Dataset, field) == value))
            if clash and clash != own_id:
                errors[field] = [f"That {label} is already in use: {value}"]
    ref = values.get("record_schema")
    if ref and "record_schema" not in errors:
        if find_record_schema(session, ref) is None:
            errors["record_schema"] = [f"No record schema {ref}; see schema_list"]
    if errors:
        raise ValidationError(errors)


def _owner(session: Session, owner_org: str | None) -> Department:
    if not owner_org:
        raise ValidationError.single("owner_org", "Missing value")
    try:
        return get_department(session, owner_org)
    except NotFound:
        raise ValidationError.single("owner_org", f"Organization does not exist: {owner_org}") from None


def _tag_objects(session: Session, names: list[str]) -> list[Tag]:
    unique = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    existing = {t.name: t for t in session.scalars(sa.select(Tag).where(Tag.name.in_(unique)))}
    tags = []
    for name in unique:
        tag = existing.get(name)
        if tag is None:
            tag = Tag(name=name)
            session.add(tag)
        tags.append(tag)
    return tags


def _apply(dataset: Dataset, values: dict[str, Any]) -> None:
    for field in METADATA_FIELDS:
        if field in values:
            value = values[field]
            if field == "publish_date" and isinstance(value, str):
                value = dt.date.fromisoformat(value)
            setattr(dataset, field, value)


def create_dataset(session: Session, actor: User | None, *, values: dict[str, Any],
                   tags: list[str] | None = None, extras: dict[str, str] | None = None) -> Dataset:
    """Register a dataset in ``values['owner_org']``; the caller adds resources afterwards."""
    department = _owner(session, values.get("owner_org"))
    rules.require(rules.can_edit_datasets_of(session, actor, department.id),
                  f"You cannot create datasets in organization {department.name}")
    if review_policy.needs_review(session, actor, department.id):
        if values.get("state") == "active":
            raise ValidationError.single("state", PUBLISH_NEEDS_REVIEW)
        values = {**values, "state": values.get("state") or "draft"}
    values = {**DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    tags = tags or []
    _validate(session, values, tags, None)
    dataset = Dataset(owner_org=department.id, creator_user_id=actor.id if actor else None,
                      extras=dict(extras or {}))
    _apply(dataset, values)
    dataset.tags = _tag_objects(session, tags)
    session.add(dataset)
    session.flush()
    index_dataset(session, dataset)
    record_activity(session, actor, object_id=dataset.id, department_id=department.id,
                    activity_type="new package", data={"package": metadata_of(dataset)})
    return dataset


def lock_dataset(session: Session, dataset: Dataset) -> None:
    """Wait for the other writers of ``dataset`` and reload it, so that changes to one dataset follow each other.

    On PostgreSQL the row is locked (``SELECT ... FOR UPDATE``) until the transaction ends; on SQLite
    the transaction already holds the single write lock (``BEGIN IMMEDIATE``). Without the lock, two
    callers adding resources at once both bumped the revision they had read: one of them failed with
    "changed by someone else" although neither sent a revision (CKAN loses such resources, ckan#6420).
    A caller who does send ``revision`` or ``metadata_modified`` is still checked, against the reloaded
    values (:func:`check_not_stale`).
    """
    session.flush()
    session.refresh(dataset, with_for_update=True)


def check_not_stale(dataset: Dataset, *, metadata_modified: str | None = None,
                    revision: int | None = None) -> None:
    """Refuse (409) a write based on an older version of the dataset than the stored one."""
    if revision is not None and revision != dataset.revision:
        raise Conflict.single("revision", f"The dataset was changed by someone else (revision "
                                          f"{dataset.revision}, yours {revision}); reload and retry")
    if metadata_modified:
        try:
            # RFC 3339 allows a lower-case "z"; fromisoformat reads only "Z"
            given = dt.datetime.fromisoformat(metadata_modified.replace("z", "Z"))
        except ValueError:
            raise ValidationError.single("metadata_modified", "must be an ISO 8601 timestamp") from None
        if given.tzinfo is None:
            given = given.replace(tzinfo=dt.timezone.utc)
        if given != dataset.metadata_modified:
            raise Conflict.single(
                "metadata_modified",
                "The dataset was changed by someone else since "
                f"{metadata_modified}; reload it and apply your change again")


def update_dataset(session: Session, actor: User | None, dataset: Dataset, *,
                   values: dict[str, Any], tags: list[str] | None = None,
                   extras: dict[str, str] | None = None, metadata_modified: str | None = None,
                   revision: int | None = None, reason: str | None = None) -> Dataset:
    """Replace the dataset's metadata with the complete new state ``values``.

    ``metadata_modified`` / ``revision``, when given, are the version the caller read (see
    :func:`check_not_stale`). ``reason``: why sharing stops or narrows, required when it does while
    other departments hold grants (:mod:`catalog.sharing.narrowing`).
    """
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot edit dataset {dataset.name}")
    lock_dataset(session, dataset)
    check_not_stale(dataset, metadata_modified=metadata_modified, revision=revision)
    department = dataset.organization
    new_owner = values.get("owner_org")
    if new_owner and new_owner not in (department.id, department.name):
        department = _owner(session, new_owner)
        rules.require(rules.can_edit_datasets_of(session, actor, department.id),
                      f"You cannot move datasets into organization {department.name}")
    values = {**DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    tags = [t.name for t in dataset.tags] if tags is None else tags
    _validate(session, values, tags, dataset.id)
    before = metadata_of(dataset)
    full = {field: values.get(field) for field in METADATA_FIELDS}
    held = _held_for_review(session, actor, dataset, before, {**full, "owner_org": department.id})
    if held:  # the published core metadata stay until the data authority approves the revision
        full.update({change["field"]: change["old"] for change in held if change["field"] != "owner_org"})
        department = dataset.organization
    # what takes effect now; a revision's narrowing (share_type none) when it is approved (apply_reviewed),
    # so that grantees are not told, nor the activity shows, a value that may be returned
    check_narrowing(session, actor, dataset, full, reason=reason)
    _apply(dataset, full)
    dataset.organization = department  # not owner_org: the loaded relationship must follow the move
    dataset.tags = _tag_objects(session, tags)
    if extras is not None:
        dataset.extras = dict(extras)
    _changed(session, actor, dataset, before)
    if held:
        review_policy.open_review(session, actor, dataset, kind="revision", changes=held)
    return dataset


def _held_for_review(session: Session, actor: User | None, dataset: Dataset, before: dict[str, Any],
                     after: dict[str, Any]) -> list[dict[str, Any]]:
    """The core metadata changes of a published dataset that wait for review as a revision (none when
    the edit takes effect at once: review off, the authority's own edit, a draft)."""
    if not review_policy.needs_review(session, actor, dataset.owner_org):
        return []
    if review_policy.pending_review(session, dataset.id, kind="publication") is not None:
        raise Conflict.single("state", "The dataset is submitted for review; wait for the data authority's "
                                       "decision before changing it")
    if after["state"] == "active" and dataset.state != "active":
        raise ValidationError.single("state", PUBLISH_NEEDS_REVIEW)
    if dataset.state != "active" or after["state"] != "active":
        return []
    if isinstance(after.get("publish_date"), dt.date):
        after = {**after, "publish_date": after["publish_date"].isoformat()}
    return review_policy.core_changes(before, after)


def check_publishable(session: Session, dataset: Dataset) -> None:
    """Refuse (409, every field named) a draft that could not be published as it is (before it is submitted)."""
    _checked(session, dataset, {"state": "active"})


def _checked(session: Session, dataset: Dataset, new_values: dict[str, Any]) -> tuple[dict[str, Any], str, list[str]]:
    values = metadata_of(dataset)
    values.update(new_values)
    owner, tags = values.pop("owner_org"), values.pop("tags")
    values.pop("extras")
    _validate(session, values, tags, dataset.id)
    return values, owner, tags


def apply_reviewed(session: Session, actor: User | None, dataset: Dataset, new_values: dict[str, Any], *,
                   reason: str | None = None) -> None:
    """Apply what the data authority approved (a revision's core values, or ``state: active``); the caller,
    :mod:`catalog.review.service`, has checked who may and that the dataset is locked and current.
    ``reason``: the approval's, required when the revision stops sharing a dataset others hold grants on."""
    values, owner, tags = _checked(session, dataset, new_values)
    check_narrowing(session, actor, dataset, values, reason=reason)
    before = metadata_of(dataset)
    _apply(dataset, values)
    if owner != dataset.owner_org:
        dataset.organization = _owner(session, owner)
    _changed(session, actor, dataset, before)


def _changed(session: Session, actor: User | None, dataset: Dataset, before: dict[str, Any]) -> None:
    """After a change of ``dataset`` (its metadata was ``before``): modified now, re-indexed, the activity
    naming what changed, and the webhooks' metadata.changed."""
    touch(dataset)
    session.flush()
    index_dataset(session, dataset)
    after = metadata_of(dataset)
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type="changed package",
                    data={"package": after, "changes": changes_between(before, after)})
    announce_metadata_changed(session, dataset)  # webhooks outbox


def touch(dataset: Dataset) -> None:
    """Mark the dataset modified now (its revision advances when the row is flushed)."""
    now = utcnow()
    # Two edits within one clock tick must still differ, or the stale check could not see them.
    if dataset.metadata_modified is not None and now <= dataset.metadata_modified:
        now = dataset.metadata_modified + dt.timedelta(microseconds=1)
    dataset.metadata_modified = now


def delete_dataset(session: Session, actor: User | None, dataset: Dataset, *, reason: str | None = None) -> None:
    """Mark a dataset deleted; it disappears from lists at once and can no longer be read by others
    (``reason``: required while other departments hold grants)."""
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot delete dataset {dataset.name}")
    if dataset.state == "deleted":
        return
    check_narrowing(session, actor, dataset, {"state": "deleted"}, reason=reason)
    dataset.state = "deleted"
    touch(dataset)
    session.flush()
    index_dataset(session, dataset)
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type="deleted package", data={"package": metadata_of(dataset)})
    announce_metadata_changed(session, dataset)  # webhooks outbox


def list_dataset_names(session: Session, *, offset: int = 0, limit: int | None = None) -> list[str]:
    """Names of the public, active datasets (CKAN's ``package_list``), sorted."""
    query = sa.select(Dataset.name).where(Dataset.state == "active", Dataset.private.is_(False))
    query = query.order_by(Dataset.name).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    return list(session.scalars(query))


def list_tags(session: Session, *, query: str | None = None, limit: int = 1000) -> list[Tag]:
    """Tags used by at least one public, active dataset, optionally containing ``query``."""
    used = sa.select(dataset_tag.c.tag_id).join(Dataset, Dataset.id == dataset_tag.c.dataset_id).where(
        Dataset.state == "active", Dataset.private.is_(False))
    stmt = sa.select(Tag).where(Tag.id.in_(used))
    if query:
        stmt = stmt.where(sa.func.lower(Tag.name).contains(query.lower(), autoescape=True))
    return list(session.scalars(stmt.order_by(Tag.name).limit(limit)))


def set_dataset_state(session: Session, actor: User | None, dataset: Dataset, state: str, *,
                      reason: str | None = None) -> Dataset:
    """Withdraw a published dataset (``draft``: readers no longer find it) or restore a deleted one (as a
    draft, to be checked and published again); the activity records the change of state (``reason``:
    required to withdraw while other departments hold grants)."""
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot change dataset {dataset.name}")
    allowed = {("active", "draft"), ("deleted", "draft")}
    if (dataset.state, state) not in allowed:
        raise Conflict.single("state", f"A {dataset.state} dataset cannot become {state}")
    lock_dataset(session, dataset)
    check_narrowing(session, actor, dataset, {"state": state}, reason=reason)
    before = metadata_of(dataset)
    dataset.state = state
    _changed(session, actor, dataset, before)
    return dataset
