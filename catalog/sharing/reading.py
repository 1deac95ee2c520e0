"""Reading records under the share rules: access decision, masking and the access log, in one place.

Every path that returns records (datastore_search, datastore_changes, the dump, and later the web
preview and connectors) opens a :class:`RecordReader` first.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from ..auth.models import User
from ..datasets.models import Dataset
from ..datasets.service import show_dataset
from ..errors import NotAuthorized
from . import access_log, masking
from .service import RecordAccess, require_record_access


@dataclass
class RecordReader:
    """What one actor may see of one DataStore table's records."""

    actor: User | None
    dataset: Dataset
    resource_id: str
    primary_key: list[str]
    access: RecordAccess
    masked: dict[str, str]

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
        """The record as this reader may see it."""
        masked = masking.mask_record(record, self.masked)
        if "_key" in masked and self.primary_key and self.primary_key[0] in self.masked:
            masked["_key"] = masking.mask_value(self.masked[self.primary_key[0]], masked["_key"])
        return masked

    def log(self, session: Session, *, action: str, params: dict[str, Any], count: int) -> None:
        """Append this read to the access log."""
        access_log.append_entry(session, self.actor, action=action, dataset=self.dataset,
                                resource_id=self.resource_id, departments=list(self.access.departments),
                                params=params, record_count=count)


def open_reader(session: Session, actor: User | None, table) -> RecordReader:
    """Check the share rules for ``table``'s dataset and return the reader (or raise)."""
    dataset = table.resource.dataset
    show_dataset(session, actor, dataset.id)
    access = require_record_access(session, actor, dataset)
    granted = None if access.granted_fields is None else set(access.granted_fields)
    return RecordReader(actor=actor, dataset=dataset, resource_id=table.resource_id,
                        primary_key=list(table.primary_key), access=access,
                        masked=masking.masked_paths(table.schema_document, granted))
