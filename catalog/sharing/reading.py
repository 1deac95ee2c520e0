"""Reading records and files under the share rules: access decision, masking and the access log.

Every path that returns records (datastore_search, datastore_changes, the dump, the web preview)
opens a :class:`RecordReader` first; every download of an uploaded resource file opens a
:class:`FileReader` (:func:`open_file`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datasets.service import require_readable, show_dataset
from ..datastore.record_schemas import find_record_schema
from ..datastore.service import no_table_message, record_key
from ..errors import NotAuthorized
from . import access_log, masking
from .grants import mark_delivered
from .service import RecordAccess, record_access, require_record_access


@dataclass
class RecordReader:
    """What one actor may see of one DataStore table's records."""

    actor: User | None
    dataset: Dataset
    resource_id: str
    primary_key: list[str]
    access: RecordAccess
    masked: dict[str, str]
    #: what the schema declares, for readers outside the owner department (``None``: the owner)
    declared: masking.Shape | None = None

    @property
    def masked_fields(self) -> set[str]:
        """Top-level fields with masked values."""
        return masking.top_level_masked(self.masked)

    def check_query(self, *, filters: dict | None = None, q: str | None = None, sort: str | None = None) -> None:
        """Refuse queries that would reveal masked values by matching on them."""
        hidden = self.masked_fields
        if not hidden:
            return
        used = set((filters or {}).keys()) if isinstance(filters, dict) else set()
        used |= {part.split()[0].strip('"') for part in (sort or "").split(",") if part.split()}
        blocked = sorted(used & hidden)
        if blocked:
            raise NotAuthorized(f"You cannot filter or sort on masked fields: {', '.join(blocked)}")
        if q:
            raise NotAuthorized("Full-text q is not available to readers with masked fields; "
                                "filter on the fields you can see, or request the sensitive fields")

    def mask(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record (or change-feed entry) as this reader may see it.

        Undeclared fields are left out, sensitive fields not granted are masked, and a ``_key`` made
        of masked fields is rebuilt from their masked values (each part of a composite key, and
        tombstones alike).
        """
        fresh = self.declared is not None
        if fresh:
            record = masking.without_undeclared(record, self.declared)
        masked = masking.mask_record(record, self.masked, in_place=fresh)
        if "_key" in masked:
            key = masking.masked_key(masked, self.primary_key, self.masked, record_key)
            if key is not None:  # some key field is masked, so ``masked`` is already a copy
                masked["_key"] = key
        return masked

    def log(self, session: Session, *, action: str, params: dict[str, Any], count: int) -> None:
        """Append this read to the access log; a grantee's first read delivers its grants."""
        access_log.append_entry(session, self.actor, action=action, dataset=self.dataset,
                                resource_id=self.resource_id, departments=list(self.access.departments),
                                params=params, record_count=count)
        mark_delivered(session, self.actor, self.access.grant_ids)


#: (resource id, table's last modification, granted fields) -> (masked paths, declared shape): what a
#: reader's masking is made of, the same for every read until the table is written or redefined
#: (``DatastoreTable.modified`` moves on both) or the grants differ (part of the key)
_MASKING: dict[tuple, tuple[dict[str, str], masking.Shape | None]] = {}
_MASKING_SIZE = 512


def _masking(table, granted: frozenset[str] | None) -> tuple[dict[str, str], masking.Shape | None]:
    key = (table.resource_id, table.modified, granted)
    found = _MASKING.get(key)
    if found is None:
        document = table.schema_document
        found = (masking.masked_paths(document, None if granted is None else set(granted)),
                 None if granted is None else masking.declared_shape(document))
        if len(_MASKING) >= _MASKING_SIZE:
            _MASKING.clear()
        _MASKING[key] = found
    return dict(found[0]), found[1]


def open_reader(session: Session, actor: User | None, table) -> RecordReader:
    """Check the share rules for ``table``'s dataset and return the reader (or raise)."""
    dataset = table.resource.dataset
    require_readable(session, actor, dataset, no_table_message(table.resource_id))
    access = require_record_access(session, actor, dataset)
    granted = None if access.granted_fields is None else frozenset(access.granted_fields)
    masked, declared = _masking(table, granted)
    return RecordReader(actor=actor, dataset=dataset, resource_id=table.resource_id,
                        primary_key=list(table.primary_key), access=access, masked=masked, declared=declared)


@dataclass
class FileReader:
    """One actor's permission to download one uploaded resource file."""

    actor: User | None
    dataset: Dataset
    resource: Resource
    departments: tuple[str, ...]
    grant_ids: tuple[str, ...] = ()

    def log(self, session: Session, *, filename: str) -> None:
        """Append this download to the access log (the file's name, size and hash as parameters); a
        grantee's first download delivers its grants."""
        access_log.append_entry(session, self.actor, action="resource_download", dataset=self.dataset,
                                resource_id=self.resource.id, departments=list(self.departments),
                                params={"filename": filename, "size": self.resource.size,
                                        "hash": self.resource.hash}, record_count=0)
        mark_delivered(session, self.actor, self.grant_ids)


def file_refusal(session: Session, actor: User | None, dataset: Dataset) -> tuple[str | None, RecordAccess]:
    """Why ``actor`` may not download the files of ``dataset`` (``None``: they may), and the access.

    A file cannot be masked. The files of a published dataset open to the public (开放类型 无条件开放)
    whose record schema marks nothing sensitive go to everyone. Any other file goes only to readers of
    the dataset's records (:func:`record_access`: the owner department, sysadmins, other departments
    under the share type and their grants) who would see every sensitive field of the record schema
    in clear; without a record schema, to every reader of the records.
    """
    access = record_access(session, actor, dataset)
    schema = find_record_schema(session, dataset.record_schema) if dataset.record_schema else None
    sensitive = masking.masked_paths(schema or {}, set())
    if (not sensitive and dataset.open_type == "unconditional" and dataset.state == "active"
            and not dataset.private):
        return None, access
    if not access.allowed:
        return access.reason, access
    if access.granted_fields is None:
        return None, access
    hidden = sorted(masking.masked_paths(schema or {}, set(access.granted_fields)))
    if hidden:
        return (f"Files of dataset {dataset.name} cannot be masked: they are served only to readers who may see "
                f"every sensitive field in clear; your access does not cover {', '.join(hidden)}"), access
    return None, access


def open_file(session: Session, actor: User | None, resource: Resource) -> FileReader:
    """Check the share rules for an uploaded file of ``resource`` and return the reader (or raise)."""
    dataset = resource.dataset
    show_dataset(session, actor, dataset.id, not_found=f"Resource not found: {resource.id}")
    reason, access = file_refusal(session, actor, dataset)
    if reason is not None:
        raise NotAuthorized(reason)
    return FileReader(actor=actor, dataset=dataset, resource=resource, departments=access.departments,
                      grant_ids=access.grant_ids)
