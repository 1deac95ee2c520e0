"""The catalog's own DataStore resource as a connectors Source: what a push job sends on.

It reads the resource's change feed in the database (no HTTP, no masking: a push job is defined by
the owner department, which reads its own records in clear), in commit order, with a checkpoint
after each chunk; tombstones come out as :class:`~connectors.base.Deletion` values, so the peer
loses what the owner deleted.
"""
from __future__ import annotations

from typing import Any, Iterator

import sqlalchemy as sa

from connectors.base import Checkpoint, Deletion, Row, Source, SourceError, Stream

from ..datastore.models import DatastoreTable, Record
from ..db import Database

CHUNK = 1000


class LocalDatastoreSource(Source):
    """The job's own DataStore resource; its state is ``{"seq": last change number sent}``."""

    name = "datastore"

    def __init__(self, database: Database, resource_id: str):
        self.database = database
        self.resource_id = resource_id

    def spec(self) -> dict[str, Any]:
        """No settings: the source is the job's own resource."""
        return {"type": "object", "additionalProperties": False, "properties": {}}

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """One stream, the resource, with its fields and primary key."""
        with self.database.session() as session:
            table = session.get(DatastoreTable, self.resource_id)
            if table is None:
                raise SourceError(f"the job's resource {self.resource_id} has no DataStore table")
            fields = [f["id"] for f in table.fields or [] if isinstance(f, dict) and "id" in f]
            return [Stream(name=self.resource_id, fields=fields, primary_key=list(table.primary_key))]

    def read(self, config: dict[str, Any], stream: Stream | None,
             state: dict[str, Any] | None) -> Iterator[Row | Deletion | Checkpoint]:
        """The changes after ``state["seq"]``, oldest first."""
        after = int((state or {}).get("seq") or 0)
        while True:
            with self.database.session() as session:
                chunk = session.execute(
                    sa.select(Record.seq, Record.deleted, Record.data)
                    .where(Record.resource_id == self.resource_id, Record.seq > after)
                    .order_by(Record.seq).limit(CHUNK)).all()
            for seq, deleted, data in chunk:
                yield (Deletion if deleted else Row)(dict(data or {}), seq)
            if not chunk:
                return
            after = chunk[-1].seq
            yield Checkpoint({"seq": after})
