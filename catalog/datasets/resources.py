"""Resources: the files and links that carry a dataset's data."""
from __future__ import annotations

import contextlib
import hashlib
import mimetypes
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlparse

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.utils import secure_filename

from ..activity.service import changes_between, record_activity
from ..auth import rules
from ..auth.models import User
from ..db import utcnow
from ..errors import NotFound, ValidationError
from ..webhooks.service import metadata_changed as announce_metadata_changed
from .models import Dataset, Resource
from .service import lock_dataset, metadata_of, show_dataset, touch

FIELDS = ("name", "description", "url", "format", "mimetype")
URL_SCHEMES = ("http", "https", "ftp", "ftps")


def _resource_summary(resource: Resource) -> dict[str, Any]:
    return {field: getattr(resource, field) for field in FIELDS + ("url_type", "size", "hash")}


def get_resource(session: Session, actor: User | None, resource_id: str) -> Resource:
    """The resource, if the actor may read its dataset."""
    resource = session.get(Resource, resource_id) if resource_id else None
    if resource is None:
        raise NotFound(f"Resource not found: {resource_id}")
    show_dataset(session, actor, resource.package_id, not_found=f"Resource not found: {resource_id}")
    return resource


def _check_url(url: str | None) -> None:
    if not url:
        raise ValidationError.single("url", "Missing value: give a url or upload a file")
    parsed = urlparse(url)
    if parsed.scheme not in URL_SCHEMES or not parsed.netloc:
        raise ValidationError.single("url", "must be an http, https or ftp address")


def _safe_filename(filename: str | None) -> str:
    """A file name safe on disk and in a URL that keeps the extension the format is guessed from."""
    stem, suffix = os.path.splitext(filename or "")
    # secure_filename drops non-ASCII, so "户籍人口.csv" would otherwise become "csv".
    suffix = secure_filename(suffix)[:10]
    stem = secure_filename(stem)[:100].strip("._") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


# --- files follow the transaction ---------------------------------------------------------------
# A file is written beside the resource's current one as ".pending-…" and takes its place only
# once the transaction that records it has committed; a deleted resource's folder goes only then
# too. A rolled-back change leaves the files as they were (the database still points at them).

_ON_COMMIT, _ON_ROLLBACK = "resource_files_on_commit", "resource_files_on_rollback"


def _after(session: Session, on_commit, on_rollback=None) -> None:
    session.info.setdefault(_ON_COMMIT, []).append(on_commit)
    if on_rollback is not None:
        session.info.setdefault(_ON_ROLLBACK, []).append(on_rollback)


@event.listens_for(Session, "after_commit")
def _apply_file_changes(session: Session) -> None:
    session.info.pop(_ON_ROLLBACK, None)
    for action in session.info.pop(_ON_COMMIT, []):
        with contextlib.suppress(OSError):
            action()


@event.listens_for(Session, "after_rollback")
def _drop_file_changes(session: Session) -> None:
    session.info.pop(_ON_COMMIT, None)
    for action in session.info.pop(_ON_ROLLBACK, []):
        with contextlib.suppress(OSError):
            action()


def _promote(folder: Path, pending: Path, final: Path) -> None:
    """After commit: the new file replaces whatever the folder held."""
    for old in folder.iterdir():
        if old != pending:
            old.unlink()
    pending.rename(final)


def _store_upload(session: Session, resource: Resource, upload: tuple[str, BinaryIO], *,
                  storage_path: str, site_url: str) -> None:
    filename, stream = upload
    safe = _safe_filename(filename)
    folder = Path(storage_path) / "resources" / resource.id
    folder.mkdir(parents=True, exist_ok=True)
    pending = folder / f".pending-{uuid.uuid4().hex}"
    _after(session, lambda: _promote(folder, pending, folder / safe), lambda: pending.unlink(missing_ok=True))
    digest = hashlib.sha256()
    size = 0
    with open(pending, "wb") as target:
        while chunk := stream.read(1 << 16):
            digest.update(chunk)
            size += len(chunk)
            target.write(chunk)
    resource.url = f"{site_url.rstrip('/')}/dataset/{resource.package_id}/resource/{resource.id}/download/{safe}"
    resource.url_type = "upload"
    resource.size = size
    resource.hash = f"sha256:{digest.hexdigest()}"
    resource.mimetype = resource.mimetype or mimetypes.guess_type(safe)[0]
    resource.last_modified = utcnow()


def upload_path(storage_path: str, resource: Resource) -> Path | None:
    """Where an uploaded resource's file is kept, or ``None`` for a link."""
    if resource.url_type != "upload":
        return None
    filename = resource.url.rsplit("/", 1)[-1]
    path = Path(storage_path) / "resources" / resource.id / filename
    return path if path.is_file() else None


def _guess_format(resource: Resource) -> None:
    if not resource.format and resource.url:
        suffix = Path(urlparse(resource.url).path).suffix.lstrip(".")
        if suffix and len(suffix) <= 10:
            resource.format = suffix.upper()


def _dataset_changed(session: Session, actor: User | None, dataset: Dataset, before: dict[str, Any],
                     what: dict[str, Any]) -> None:
    touch(dataset)
    session.flush()
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type="changed package",
                    data={"package": metadata_of(dataset), **what,
                          "changes": changes_between(before, metadata_of(dataset))})
    announce_metadata_changed(session, dataset)  # webhooks outbox: resources are part of the metadata


def create_resource(session: Session, actor: User | None, dataset: Dataset, *, values: dict[str, Any],
                    upload: tuple[str, BinaryIO] | None = None, storage_path: str = "",
                    site_url: str = "", record: bool = True) -> Resource:
    """Add a link or an uploaded file to a dataset."""
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot add resources to dataset {dataset.name}")
    if upload is None:
        _check_url(values.get("url"))
    lock_dataset(session, dataset)  # concurrent additions queue up: each gets its own position, none fails
    position = session.scalar(sa.select(sa.func.count()).select_from(Resource).where(
        Resource.package_id == dataset.id)) or 0
    resource = Resource(package_id=dataset.id, position=position, extras=values.get("extras") or {},
                        **{f: values.get(f) for f in FIELDS if values.get(f) is not None})
    session.add(resource)
    session.flush()
    if upload is not None:
        _store_upload(session, resource, upload, storage_path=storage_path, site_url=site_url)
    _guess_format(resource)
    session.flush()
    if record:
        before = metadata_of(dataset)
        session.refresh(dataset, ["resources"])
        _dataset_changed(session, actor, dataset, before,
                         {"resource": {"id": resource.id, "new": _resource_summary(resource)}})
    return resource


def update_resource(session: Session, actor: User | None, resource: Resource, *,
                    values: dict[str, Any], upload: tuple[str, BinaryIO] | None = None,
                    storage_path: str = "", site_url: str = "") -> Resource:
    """Change a resource's fields (``values`` holds only what changes) or replace its file."""
    dataset = resource.dataset
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot edit resources of dataset {dataset.name}")
    lock_dataset(session, dataset)
    before_resource = _resource_summary(resource)
    if upload is None and "url" in values and values["url"] != resource.url:
        _check_url(values["url"])
        resource.url_type = None
    for field in FIELDS:
        if field in values:
            setattr(resource, field, values[field])
    if "extras" in values:
        resource.extras = values["extras"] or {}
    if upload is not None:
        _store_upload(session, resource, upload, storage_path=storage_path, site_url=site_url)
    _guess_format(resource)
    resource.metadata_modified = utcnow()
    changes = changes_between(before_resource, _resource_summary(resource))
    _dataset_changed(session, actor, dataset, metadata_of(dataset),
                     {"resource": {"id": resource.id, "changes": changes}})
    return resource


def delete_resource(session: Session, actor: User | None, resource: Resource, *,
                    storage_path: str = "") -> None:
    """Remove a resource and its uploaded file."""
    dataset = resource.dataset
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot delete resources of dataset {dataset.name}")
    lock_dataset(session, dataset)
    summary = _resource_summary(resource)
    if storage_path:
        folder = Path(storage_path) / "resources" / resource.id
        _after(session, lambda: shutil.rmtree(folder, ignore_errors=True))
    dataset.resources.remove(resource)
    session.delete(resource)
    for position, other in enumerate(dataset.resources):
        other.position = position
    _dataset_changed(session, actor, dataset, metadata_of(dataset),
                     {"resource": {"id": resource.id, "deleted": summary}})


def reorder_resources(session: Session, actor: User | None, dataset: Dataset, *, order: list[str]) -> list[str]:
    """Put the resources listed in ``order`` first, in that order; the others follow in their own order
    (CKAN's package_resource_reorder). Returns the dataset's resource ids in their new order."""
    rules.require(rules.can_edit_datasets_of(session, actor, dataset.owner_org),
                  f"You cannot reorder resources of dataset {dataset.name}")
    lock_dataset(session, dataset)
    existing = {resource.id: resource for resource in dataset.resources}
    problems: dict[str, list[str]] = {}
    for index, resource_id in enumerate(order):
        if resource_id not in existing:
            problems[f"order.{index}"] = [f"no resource {resource_id} in dataset {dataset.name}"]
        elif resource_id in order[:index]:
            problems[f"order.{index}"] = ["lists a resource a second time"]
    if problems:
        raise ValidationError(problems)
    before = metadata_of(dataset)
    listed = [existing[resource_id] for resource_id in order]
    ordered = listed + [r for r in dataset.resources if r.id not in set(order)]
    if ordered == list(dataset.resources):
        return [r.id for r in ordered]
    for position, resource in enumerate(ordered):
        resource.position = position
    session.flush()
    session.refresh(dataset, ["resources"])
    _dataset_changed(session, actor, dataset, before, {"resources_reordered": [r.id for r in ordered]})
    return [r.id for r in ordered]
