"""Where sync jobs write: the catalog's DataStore (each batch, its quarantined rows and the source
state commit in one transaction), or, for a push job, another catalog's DataStore."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from connectors.base import Rejected, Target, TargetError, WriteCounts
from connectors.targets.ckan import RemoteCkanTarget

from ..datastore import service as datastore
from ..datastore.hashing import canonical_json, encode_record, text_hash
from ..datastore.models import QuarantinedRecord, Record
from ..db import Database, utcnow
from ..errors import ValidationError
from .models import SyncJob

KEY_CHUNK = 1000


class DatastoreTarget(Target):
    """Writes a job's records into its resource's DataStore table, with the job's state, and the digest
    of each record's source row beside it (``datastore_record.source_hash``), so a rerun skips the rows
    that have not changed since (:meth:`unchanged_sources`)."""

    remembers_sources = True
    #: each record's canonical JSON and content hash, made in the sync's transform worker
    prepare = staticmethod(encode_record)
    #: so the transform workers may make it column by column (connectors.columnar)
    prepare_is_canonical = True

    def __init__(self, database: Database, job_id: str, run_id: str):
        self.database = database
        self.job_id = job_id
        self.run_id = run_id
        with database.session() as session:
            job = session.get(SyncJob, job_id)
            table = datastore.get_table(session, job.resource_id)
            self.resource_id = table.resource_id
            self.primary_key = list(table.primary_key)
            #: what besides the mapping and the row decides the stored record: the schema and the key
            self.fingerprint = text_hash(canonical_json([table.schema_document, self.primary_key]))
        # each session its own pooled connection (not the one connection the tests' sessions share)
        self.lookups_in_thread = isinstance(database.sessionmaker.kw.get("bind"), sa.engine.Engine)

    def state(self) -> dict[str, Any] | None:
        """The source position committed with the last batch."""
        with self.database.session() as session:
            return session.scalar(sa.select(SyncJob.state).where(SyncJob.id == self.job_id))

    def key_of(self, record: dict[str, Any]) -> str:
        """The DataStore key of a record."""
        return datastore.record_key(record, self.primary_key)

    def holds_records(self) -> bool:
        """Whether the resource has any record (live or deleted) yet: one probe of the key index."""
        with self.database.session() as session:
            return session.scalar(sa.select(Record.key).where(Record.resource_id == self.resource_id)
                                  .limit(1)) is not None

    def unchanged_sources(self, digests: dict[str, str]) -> set[str]:
        """The keys whose stored record this job made from a source row with the given digest and
        that nobody has rewritten since (:func:`catalog.datastore.service.unchanged_sources`)."""
        if not digests:
            return set()
        with self.database.session() as session:
            return datastore.unchanged_sources(session, self.resource_id, digests)

    def write(self, records: list[tuple[int, dict[str, Any]]], rejected: list[Rejected],
              state: dict[str, Any] | None, *, method: str = "upsert",
              deletions: list[dict[str, Any]] = (), sources: list[str | None] | None = None,
              prepared: list[tuple[str, str] | None] | None = None) -> WriteCounts:
        """Upsert (or insert) the records, quarantine the rejected rows, tombstone the deleted keys
        and store the state, atomically; ``sources``: the digest of each record's source row;
        ``prepared``: each record's canonical JSON and content hash (:attr:`prepare`)."""
        with self.database.session() as session:
            # a batch with nothing to write (a rerun's unchanged rows) commits its state alone
            table = datastore.get_table(session, self.resource_id) if records or deletions or rejected else None
            counts = {"inserted": 0, "updated": 0, "unchanged": 0, "deleted": 0}
            if records:
                try:
                    result = datastore.upsert_records(
                        session, None, table, [r for _n, r in records],
                        method="insert" if method == "append" else "upsert", on_invalid="fail",
                        source=f"sync:{self.run_id}", check_auth=False, validated=True,
                        source_digests=sources, encoded=prepared)
                except ValidationError as error:
                    first = next(iter(error.errors.items()))
                    raise TargetError(f"{first[0]}: {'; '.join(first[1])}") from None
                counts.update({k: result[k] for k in ("inserted", "updated", "unchanged")})
            keys = sorted({self.key_of(d) for d in deletions
                           if all(d.get(name) not in (None, "") for name in self.primary_key)})
            for start in range(0, len(keys), KEY_CHUNK):
                counts["deleted"] += datastore.delete_records(
                    session, None, table, [Record.key.in_(keys[start:start + KEY_CHUNK])], check_auth=False)
            if rejected:
                # A rerun over the same export meets the same bad rows: keep one open entry for each.
                already = {(q.row_number, json.dumps(q.raw, sort_keys=True, ensure_ascii=False))
                           for q in session.scalars(sa.select(QuarantinedRecord).where(
                               QuarantinedRecord.resource_id == self.resource_id,
                               QuarantinedRecord.status == "open",
                               QuarantinedRecord.row_number.in_([r.row_number for r in rejected])))}
                session.add_all(QuarantinedRecord(
                    resource_id=self.resource_id, source=f"sync:{self.run_id}", row_number=r.row_number,
                    raw=r.raw, errors=r.errors) for r in rejected
                    if (r.row_number, json.dumps(r.raw, sort_keys=True, ensure_ascii=False)) not in already)
            values: dict[str, Any] = {"modified": utcnow()}
            if state is not None:
                values["state"] = state
            session.execute(sa.update(SyncJob).where(SyncJob.id == self.job_id).values(**values))
            session.commit()
        return WriteCounts(**counts)

    def finish_mirror(self, seen_keys: set[str]) -> int:
        """Tombstone the live records the complete read did not contain."""
        with self.database.session() as session:
            live = session.scalars(sa.select(Record.key).where(
                Record.resource_id == self.resource_id, Record.deleted.is_(False))).all()
            missing = [key for key in live if key not in seen_keys]
            deleted = 0
            table = datastore.get_table(session, self.resource_id)
            for start in range(0, len(missing), KEY_CHUNK):
                chunk = missing[start:start + KEY_CHUNK]
                deleted += datastore.delete_records(session, None, table, [Record.key.in_(chunk)],
                                                    check_auth=False)
            session.commit()
        return deleted


class RemoteJobTarget(RemoteCkanTarget):
    """A push job's target: another CKAN-compatible catalog's DataStore resource, reached through
    ``datastore_upsert``/``datastore_delete``, with the job's state kept on the job (not in a file)
    and rows refused here kept in the job's local quarantine."""

    def __init__(self, database: Database, job_id: str, run_id: str, config: dict[str, Any],
                 key_fields: list[str]):
        super().__init__(config["url"], config["resource_id"], config.get("token"),
                         config.get("key_fields") or key_fields, state_store=f"sync-job-{job_id}.json",
                         timeout=config.get("timeout", 60), force=bool(config.get("force")),
                         outbound=database.outbound)
        self.database, self.job_id, self.run_id = database, job_id, run_id
        with database.session() as session:
            self.local_resource_id = session.scalar(sa.select(SyncJob.resource_id).where(SyncJob.id == job_id))

    def state(self) -> dict[str, Any] | None:
        """The position in the local change feed committed after the last batch the peer accepted."""
        with self.database.session() as session:
            return session.scalar(sa.select(SyncJob.state).where(SyncJob.id == self.job_id))

    def _save_state(self, state: dict[str, Any]) -> None:
        with self.database.session() as session:
            session.execute(sa.update(SyncJob).where(SyncJob.id == self.job_id)
                            .values(state=state, modified=utcnow()))
            session.commit()

    def _keep_rejected(self, rejected: list[Rejected]) -> None:
        with self.database.session() as session:
            session.add_all(QuarantinedRecord(
                resource_id=self.local_resource_id, source=f"sync:{self.run_id}", row_number=r.row_number,
                raw=r.raw, errors=r.errors) for r in rejected)
            session.commit()
