"""Sync jobs: define, validate, run (one at a time), and read their runs.

The engine lives in ``connectors``; this module builds its source, mapping, validator and the
:class:`DatastoreTarget`, holds the job lock for the run and records the :class:`SyncRun`.
"""
from __future__ import annotations

import datetime as dt
import os
import re
import threading
import time
import traceback
from typing import Any, Callable

import jsonschema
import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors import sources
from connectors.base import SourceError, Stream
from connectors.engine import preview, run_sync
from connectors.mapping import Mapping, MappingConfigError
from connectors.outbound import Policy

from ..auth import rules
from ..auth.models import User
from ..datasets.service import show_dataset
from ..datastore import service as datastore
from ..datastore.models import DatastoreTable
from ..db import Database, utcnow
from ..connections import service as connections
from ..errors import DATABASE_DOWN, NotAuthorized, NotFound, ValidationError
from ..webhooks.service import sync_run_with_errors as announce_run_with_errors
from . import schedule as schedules
from .locks import job_lock
from .models import COUNTS, WITH_ERRORS, SyncJob, SyncRun
from . import secrets
from .local_source import LocalDatastoreSource
from .target import DatastoreTarget, RemoteJobTarget

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
MODES = ("full_refresh", "incremental")
WRITES = ("append", "upsert", "mirror")
ON_INVALID = ("quarantine", "fail", "skip")
FIELDS = ("name", "title", "source", "source_config", "stream", "mapping", "mode", "write", "on_invalid",
          "schedule", "batch_size", "enabled", "target")
#: the source of push jobs: the job's own DataStore resource (see local_source.py)
LOCAL_SOURCE = "datastore"
#: what a push job's ``target`` may say
TARGET_SPEC = {
    "type": "object",
    "required": ["type", "url", "resource_id"],
    "additionalProperties": False,
    "properties": {
        "type": {"const": "ckan"},
        "url": {"type": "string", "pattern": "^https?://"},
        "resource_id": {"type": "string", "minLength": 1},
        "token": {"type": "string", "minLength": 1},
        "key_fields": {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
        "force": {"type": "boolean"},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
    },
}


def get_job(session: Session, id_or_name: str) -> SyncJob:
    """The job with this id or name, or :class:`NotFound`."""
    job = session.scalar(sa.select(SyncJob).where(sa.or_(SyncJob.id == id_or_name, SyncJob.name == id_or_name)))
    if job is None:
        raise NotFound(f"Sync job not found: {id_or_name}")
    return job


def _datastore_resource(session: Session, actor: User | None, dataset, resource_id: str | None) -> str:
    tables = session.scalars(sa.select(DatastoreTable).join(DatastoreTable.resource).where(
        DatastoreTable.resource.has(package_id=dataset.id))).all()
    if resource_id:
        if resource_id not in {t.resource_id for t in tables}:
            raise ValidationError.single("resource_id", "the resource has no DataStore table (datastore_create)")
        return resource_id
    if len(tables) == 1:
        return tables[0].resource_id
    if len(tables) > 1:
        raise ValidationError.single("resource_id", "the dataset has several DataStore resources; name one")
    if not dataset.record_schema:
        raise ValidationError.single("package_id", f"dataset {dataset.name} has neither a DataStore resource "
                                                   "nor a record schema to create one from")
    from ..datasets.resources import create_resource

    resource = create_resource(session, actor, dataset, values={
        "name": dataset.title or dataset.name, "format": "JSON", "url": "http://localhost/datastore/dump/pending"})
    resource.url, resource.url_type = f"/datastore/dump/{resource.id}", "datastore"
    datastore.create_table(session, actor, resource)
    return resource.id


def _validate(values: dict[str, Any], outbound: Policy | None = None) -> None:
    errors: dict[str, list[str]] = {}
    outbound = outbound or Policy()
    if not NAME_RE.match(values.get("name") or ""):
        errors["name"] = ["must be 2 to 100 lower-case letters, digits, - or _"]
    for field in ("title", "stream"):  # String(200) columns: PostgreSQL refuses longer values
        if values.get(field) is not None and (not isinstance(values[field], str) or len(values[field]) > 200):
            errors[field] = ["must be text of at most 200 characters"]
    for field, allowed in (("mode", MODES), ("write", WRITES), ("on_invalid", ON_INVALID)):
        if values.get(field) not in allowed:
            errors[field] = ["must be one of: " + ", ".join(allowed)]
    if values.get("mode") == "incremental" and values.get("write") == "mirror":
        errors["write"] = ["mirror needs a complete read: use it with mode full_refresh"]
    if not isinstance(values.get("batch_size"), int) or not 1 <= values["batch_size"] <= 10000:
        errors["batch_size"] = ["must be a whole number from 1 to 10000"]
    target = values.get("target")
    if target is not None:
        problems = [f"{'.'.join(map(str, e.absolute_path)) or 'target'}: {e.message}" for e in
                    jsonschema.Draft202012Validator(TARGET_SPEC).iter_errors(target)]
        refused = None if problems else outbound.refusal_for_url(target["url"])
        if refused:
            problems = [f"url: {refused}"]
        if problems:
            errors["target"] = problems
    if values.get("source") == LOCAL_SOURCE:
        if target is None:
            errors["source"] = [f"{LOCAL_SOURCE} reads the job's own resource: use it in a push job, with a target"]
        elif values.get("source_config"):
            errors["source_config"] = [f"the {LOCAL_SOURCE} source takes no settings"]
    elif values.get("source") not in connections.SOURCE_KINDS:  # the sources that read a connection
        errors["source"] = ["must be one of: " + ", ".join([*connections.SOURCE_KINDS, LOCAL_SOURCE])]
    if not isinstance(values.get("source_config"), dict):
        errors["source_config"] = ["must be an object"]
    try:
        Mapping.from_config(values.get("mapping") or {})
    except MappingConfigError as error:
        errors["mapping"] = [str(error)]
    if values.get("schedule"):
        problem = schedules.check(values["schedule"])
        if problem:
            errors["schedule"] = [problem]
    if errors:
        raise ValidationError(errors)


def source_config(session: Session, source_name: str, job_config: dict[str, Any], department_id: str, *,
                  secret_key: str | None = None, outbound: Policy | None = None, check: bool = True) -> dict[str, Any]:
    """The configuration the ``connectors`` source reads with: the job's part inside its connection plus
    the connection's place and credentials (connections/service.py), checked by the source itself
    unless ``check`` is false (a run: the engine checks it and reports the source's own words)."""
    if source_name == LOCAL_SOURCE:
        return {}
    concrete = connections.source_config(session, source=source_name, job_config=job_config,
                                         department_id=department_id, secret_key=secret_key)
    if not check:
        return concrete
    source = sources.get(source_name)
    source.outbound = outbound or session.info.get("outbound") or Policy()  # connectors/outbound.py
    try:
        source.check(concrete)
    except SourceError as error:
        raise ValidationError.single("source_config", str(error)) from None
    return concrete


def _check_mapping_fields(values: dict[str, Any], table: DatastoreTable) -> None:
    """Every field a mapping writes is declared by the table's record schema (409 naming the entry)."""
    declared = (table.schema_document or {}).get("properties")
    if values.get("target") or not isinstance(declared, dict):
        return  # a push job's mapping writes the peer's records; a schema without properties declares nothing
    mapping = values.get("mapping") or {}
    written: list[tuple[str, str]] = [(f"mapping.rename.{column}", path)
                                      for column, path in (mapping.get("rename") or {}).items()]
    for key in ("constants", "defaults", "computed", "split", "value_maps"):
        written += [(f"mapping.{key}.{path}", str(path).replace("[", ".", 1))
                    for path in mapping.get(key) or {}]
    for key in ("dates", "datetimes", "integers", "numbers", "booleans", "strings", "t2s"):
        written += [(f"mapping.{key}.{i}", path) for i, path in enumerate(mapping.get(key) or [])]
    errors: dict[str, list[str]] = {}
    for entry, path in written:
        field = str(path).split(".", 1)[0]
        if field not in declared:
            errors.setdefault(entry, []).append(
                f"writes the field {field!r}, which the record schema {table.record_schema or '(from fields)'} "
                "does not declare")
    # a required field nothing writes would be found missing on every row: refuse it now. Only when the
    # mapping names what it keeps (rename, unmapped dropped): kept source columns could be anything
    if mapping.get("rename") and mapping.get("unmapped", "drop") == "drop":
        filled = {str(path).split(".", 1)[0] for _entry, path in written}
        required = (table.schema_document or {}).get("required") or []
        missing = [name for name in required if isinstance(name, str) and name not in filled]
        if missing:
            errors.setdefault("mapping", []).append(
                f"nothing maps the required field{'s' if len(missing) > 1 else ''} {', '.join(missing)} of the "
                f"record schema {table.record_schema or '(from fields)'}: rename a column to "
                f"{'them' if len(missing) > 1 else 'it'} or give a constant")
    if errors:
        raise ValidationError(errors)


def create_job(session: Session, actor: User | None, *, package_id: str, resource_id: str | None = None,
               values: dict[str, Any]) -> SyncJob:
    """Define a job that keeps a dataset's DataStore resource in sync with a source."""
    dataset = show_dataset(session, actor, package_id)
    rules.require(rules.can_write_records(session, actor, dataset),
                  f"You cannot define sync jobs for dataset {dataset.name}")
    values = {"mode": "full_refresh", "write": "upsert", "on_invalid": "quarantine", "batch_size": 1000,
              "enabled": True, "mapping": {}, "source_config": {}, **{k: v for k, v in values.items() if v is not None}}
    _validate(values, session.info.get("outbound"))
    source_config(session, values["source"], values["source_config"], dataset.owner_org)
    values = _sealed(session, values)
    if session.scalar(sa.select(SyncJob.id).where(SyncJob.name == values["name"])):
        raise ValidationError.single("name", f"A sync job named {values['name']} exists already")
    resource_id = _datastore_resource(session, actor, dataset, resource_id)
    _check_mapping_fields(values, datastore.get_table(session, resource_id))
    job = SyncJob(package_id=dataset.id, resource_id=resource_id,
                  creator_user_id=actor.id if actor else None, **{k: values[k] for k in FIELDS if k in values})
    session.add(job)
    session.flush()
    return job


def update_job(session: Session, actor: User | None, job: SyncJob, changes: dict[str, Any]) -> SyncJob:
    """Change a job's definition; a changed source or mapping starts again from no state."""
    rules.require(rules.can_write_records(session, actor, job.dataset), f"You cannot change sync job {job.name}")
    values = clear_values(session, job)
    before = dict(values)
    values.update({k: v for k, v in changes.items() if k in FIELDS and v is not None})
    _validate(values, session.info.get("outbound"))
    source_config(session, values["source"], values["source_config"], job.dataset.owner_org)
    _check_mapping_fields(values, datastore.get_table(session, job.resource_id))
    if values["name"] != job.name and session.scalar(sa.select(SyncJob.id).where(SyncJob.name == values["name"])):
        raise ValidationError.single("name", f"A sync job named {values['name']} exists already")
    if any(values[k] != before[k] for k in ("source", "source_config", "stream", "mapping", "target")):
        job.state = None
    for key, value in _sealed(session, values).items():
        setattr(job, key, value)
    job.modified = utcnow()
    return job


def _sealed(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    """The job values as stored: credentials in ``source_config`` and ``target`` sealed (secrets.py)."""
    key = session.info["secret_key"]
    return {**values, "source_config": secrets.seal(values.get("source_config") or {}, key),
            "target": secrets.seal(values["target"], key) if values.get("target") else None}


def clear_values(session: Session, job: SyncJob, secret_key: str | None = None) -> dict[str, Any]:
    """A job's definition (:data:`FIELDS`) with its credentials in clear, to validate or to run it."""
    return _unsealed({k: getattr(job, k) for k in FIELDS},
                     session.info["secret_key"] if secret_key is None else secret_key)


def _unsealed(values: dict[str, Any], secret_key: str) -> dict[str, Any]:
    values = dict(values, source_config=secrets.unseal(values["source_config"] or {}, secret_key, "source_config"))
    if values["target"]:
        values["target"] = secrets.unseal(values["target"], secret_key, "target")
    return values


#: the most rows a preview maps
PREVIEW_MAX = 200


def preview_job(session: Session, actor: User | None, job: SyncJob, *, rows: int = 20) -> list[dict[str, Any]]:
    """Map and validate the first ``rows`` rows of the job's source, writing nothing (试运行): for each
    row its number and ``fields``, ``[{"field", "value", "errors": [...]}]`` — every mapped field with
    its value and its errors side by side, then the errors of fields the record lacks."""
    rules.require(rules.can_write_records(session, actor, job.dataset), f"You cannot run sync job {job.name}")
    if not isinstance(rows, int) or not 1 <= rows <= PREVIEW_MAX:
        raise ValidationError.single("rows", f"must be a whole number from 1 to {PREVIEW_MAX}")
    spec = clear_values(session, job)
    if spec["source"] == LOCAL_SOURCE:
        raise ValidationError.single("id", "a push job reads its own records: there is no export to preview")
    concrete = source_config(session, spec["source"], spec["source_config"], job.dataset.owner_org, check=False)
    source = sources.get(spec["source"])
    source.outbound = session.info.get("outbound") or Policy()
    validator = datastore.validator_for(datastore.get_table(session, job.resource_id))
    try:
        shown = preview(source, concrete, Stream(name=spec["stream"]) if spec["stream"] else None,
                        mapping=spec["mapping"], validator=validator, rows=rows,
                        working_day=session.info.get("working_day"))
    except SourceError as error:
        raise ValidationError.single("source_config", str(error)) from None
    except MappingConfigError as error:
        raise ValidationError.single("mapping", str(error)) from None
    return [{"row_number": item["row_number"], "valid": not item["errors"],
             "fields": _side_by_side(item["record"], item["errors"])} for item in shown]


def _side_by_side(record: Any, errors: list[dict[str, str]]) -> list[dict[str, Any]]:
    by_field: dict[str, list[str]] = {}
    for error in errors:
        by_field.setdefault(error["field"], []).append(f"{error['message']} [{error['keyword']}]")
    fields: list[dict[str, Any]] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict) and value:
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for index, item in enumerate(value):
                walk(item, f"{path}.{index}")
        else:
            fields.append({"field": path, "value": value, "errors": by_field.pop(path, [])})

    walk(record if isinstance(record, dict) else {}, "")
    fields += [{"field": field, "value": None, "errors": messages} for field, messages in by_field.items()]
    return fields


def delete_job(session: Session, actor: User | None, job: SyncJob) -> None:
    """Remove a job and its run history (records already synced stay)."""
    rules.require(rules.can_write_records(session, actor, job.dataset), f"You cannot delete sync job {job.name}")
    session.delete(job)


def can_see_job(session: Session, actor: User | None, job: SyncJob) -> None:
    """Jobs and runs are for the dataset's department and sysadmins."""
    rules.require(rules.is_sysadmin(actor) or rules.role_in(session, actor, job.dataset.owner_org) is not None,
                  f"Only {job.dataset.organization.name}'s members can see its sync jobs")


def queue_run(database: Database, job_id: str, *, trigger: str = "schedule") -> str:
    """Record a run as queued (dispatched to the workers, not started); its id, for the worker."""
    with database.session() as session:
        job = get_job(session, job_id)
        run = SyncRun(job_id=job.id, trigger=trigger, status="queued", counts={k: 0 for k in COUNTS},
                      log=[f"{utcnow():%H:%M:%S} queued for a worker"])
        session.add(run)
        session.commit()
        return run.id


def skip_queued_run(database: Database, run_id: str, reason: str) -> None:
    """A queued run that will not happen (its job was already running): say so on the run."""
    with database.session() as session:
        run = session.get(SyncRun, run_id)
        if run is not None and run.status == "queued":
            run.status, run.finished, run.error_message = "skipped", utcnow(), reason
            session.commit()


def expire_queued_runs(session: Session, now: dt.datetime, timeout: float) -> int:
    """Mark expired the runs that waited longer than ``timeout`` seconds for a worker; how many.
    Their jobs are due again at once: an expired run did not happen."""
    cutoff = now - dt.timedelta(seconds=timeout)
    stale = session.scalars(sa.select(SyncRun).where(SyncRun.status == "queued", SyncRun.started < cutoff)).all()
    for run in stale:
        run.status, run.finished = "expired", now
        run.error_message = (f"no worker started this run within {int(timeout)} s of its dispatch: are the workers "
                             "(`catalog worker`) running and reaching CATALOG_BROKER_URL?")
    return len(stale)


def run_job(database: Database, job_id: str, *, trigger: str = "manual",
            progress: Callable[[Any], None] | None = None, run_id: str | None = None) -> SyncRun | None:
    """Run a job now (raises Conflict when it is already running); returns the finished run.

    ``run_id`` names a queued run (:func:`queue_run`) to carry out; if it is no longer queued (it
    expired, it ran already and this is a redelivered message, or a worker that took it died) nothing
    runs and the answer is ``None``.
    """
    with database.session() as session:
        job = get_job(session, job_id)
        job_id, job_name = job.id, job.name
    with job_lock(database.engine, job_id, job_name):
        with database.session() as session:
            job = get_job(session, job_id)
            close_interrupted_runs(session, job.id)
            run = session.get(SyncRun, run_id) if run_id else None
            if run_id and (run is None or run.job_id != job.id or run.status != "queued"):
                return None  # the run id decides: a run no longer queued (expired, done, lost) never executes
            if run is not None:
                run.status, run.started = "running", utcnow()
                run.heartbeat = run.started
                run.log = [*(run.log or []), f"{run.started:%H:%M:%S} started"]
            else:
                run = SyncRun(job_id=job.id, trigger=trigger, status="running", heartbeat=utcnow())
                session.add(run)
            session.commit()
            run_id = run.id
            stored = {k: getattr(job, k) for k in FIELDS}
            department_id = job.dataset.owner_org
            table = datastore.get_table(session, job.resource_id)
            validator = datastore.validator_for(table)

        def committed(report) -> None:
            # After each committed batch: the run's counts so far, so that a run that is still going, or
            # whose process died, shows how far it got (a separate transaction: at most a batch behind).
            try:
                with database.session() as session:
                    session.execute(sa.update(SyncRun).where(SyncRun.id == run_id).values(
                        counts=report.counts(), heartbeat=utcnow()))
                    session.commit()
            except Exception:  # noqa: BLE001 - progress is informative; the batch itself is committed
                pass
            if progress is not None:
                progress(report)

        target = None
        beating = _Heartbeat(database, run_id)
        try:
            spec = _unsealed(stored, database.secret_key)
            with database.session() as session:  # the connection as it is now, its files resolved again
                spec["source_config"] = source_config(session, spec["source"], spec["source_config"], department_id,
                                                      secret_key=database.secret_key, check=False)
            if spec["source"] == LOCAL_SOURCE:
                source = LocalDatastoreSource(database, table.resource_id)
            else:
                source = sources.get(spec["source"])
                source.outbound = database.outbound
            if spec["target"]:
                target = RemoteJobTarget(database, job_id, run_id, spec["target"], list(table.primary_key))
            else:
                target = DatastoreTarget(database, job_id, run_id)
            stream = Stream(name=spec["stream"]) if spec["stream"] else None
            report = run_sync(source, spec["source_config"], stream, target, mapping=spec["mapping"],
                              validator=validator, mode=spec["mode"], write=spec["write"],
                              on_invalid=spec["on_invalid"], batch_size=spec["batch_size"], progress=committed,
                              max_invalid=(spec["mapping"] or {}).get("max_invalid", 0.5),
                              working_day=database.working_day, workers=transform_workers())
            outcome = {"status": report.status, "counts": report.counts(), "error_message": report.error_message,
                       "error_detail": report.error_detail, "log": list(report.log)[-500:]}
        except ValidationError as error:  # a credential that cannot be unsealed, a source refused: say which
            outcome = {"status": "failed", "counts": {k: 0 for k in COUNTS}, "error_detail": None, "log": [],
                       "error_message": "; ".join(f"{field}: {' '.join(messages)}"
                                                  for field, messages in error.errors.items())}
        except NotAuthorized as error:  # the connection was withdrawn from the job's department
            outcome = {"status": "failed", "counts": {k: 0 for k in COUNTS}, "error_detail": None, "log": [],
                       "error_message": error.message}
        except Exception as error:  # the run must end recorded, whatever happened
            outcome = {"status": "failed", "counts": {k: 0 for k in COUNTS},
                       "error_message": f"unexpected error: {error}", "error_detail": traceback.format_exc(),
                       "log": []}
        finally:
            beating.stop()
            if target is not None and hasattr(target, "close"):
                target.close()
        return _record_end(database, run_id, outcome)


def transform_workers() -> int:
    """How many processes map and validate a run's batches beside the one that reads and writes:
    ``CATALOG_SYNC_TRANSFORM_WORKERS`` (0: none), by default one when the machine has two cores or more."""
    configured = os.environ.get("CATALOG_SYNC_TRANSFORM_WORKERS", "").strip()
    if configured:
        try:
            return max(0, int(configured))
        except ValueError:
            raise ValidationError.single("CATALOG_SYNC_TRANSFORM_WORKERS", "must be a whole number") from None
    return 1 if (os.cpu_count() or 1) >= 2 else 0


def _record_end(database: Database, run_id: str, outcome: dict[str, Any]) -> SyncRun:
    """Record a run's end; while the database cannot be reached, retry (doubling the wait, at most 30 s)
    for ``database.sync_final_write_retry`` seconds, so that a run cut by an outage ends ``failed`` with
    its cause once the database answers again. Then the error is raised (the CLI says so)."""
    deadline = time.monotonic() + database.sync_final_write_retry
    wait = 0.5
    while True:
        try:
            with database.session() as session:
                run = session.get(SyncRun, run_id)
                for key, value in outcome.items():
                    setattr(run, key, value)
                run.finished = utcnow()
                if run.status in (WITH_ERRORS, "failed"):
                    announce_run_with_errors(session, run)  # in the same transaction: sent once it commits
                session.commit()
                session.refresh(run)
                session.expunge(run)
                return run
        except DATABASE_DOWN:
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)
            wait = min(wait * 2, 30)


class _Heartbeat:
    """A thread that stamps the running run's ``heartbeat`` every ``database.sync_heartbeat`` seconds, so
    that the scheduler can tell a run whose process died (:func:`close_lost_runs`)."""

    def __init__(self, database: Database, run_id: str):
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(database, run_id), name=f"heartbeat-{run_id}",
                                        daemon=True)
        self._thread.start()

    def _beat(self, database: Database, run_id: str) -> None:
        while not self._stopped.wait(database.sync_heartbeat):
            try:
                with database.session() as session:
                    session.execute(sa.update(SyncRun).where(SyncRun.id == run_id, SyncRun.status == "running")
                                    .values(heartbeat=utcnow()))
                    session.commit()
            except Exception:  # noqa: BLE001 - a missed beat is retried at the next one
                pass

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)


LOST = ("worker lost: the process running this run gave no sign of life for {seconds} s (killed, crashed, or cut "
        "off from the database); the batches it had committed are kept, and its counts are those recorded up to then")


def close_lost_runs(session: Session, now: dt.datetime, timeout: float) -> int:
    """Mark failed ("worker lost") the running runs whose heartbeat is older than ``timeout`` seconds; how
    many. The scheduler calls it each tick, so a dead worker's run is closed without waiting for the job's
    next run."""
    cutoff = now - dt.timedelta(seconds=timeout)
    lost = session.scalars(sa.select(SyncRun).where(
        SyncRun.status == "running", sa.func.coalesce(SyncRun.heartbeat, SyncRun.started) < cutoff)).all()
    for run in lost:
        run.status, run.finished, run.error_message = "failed", now, LOST.format(seconds=int(timeout))
        run.counts = {**{k: 0 for k in COUNTS}, **(run.counts or {})}
        run.log = [*(run.log or []), f"{now:%H:%M:%S} no heartbeat since "
                                     f"{(run.heartbeat or run.started):%H:%M:%S}: marked failed, worker lost"]
        announce_run_with_errors(session, run)
    return len(lost)


def unsent_runs(session: Session) -> list[SyncRun]:
    """Queued runs whose message has not reached the broker yet (the outbox the scheduler drains)."""
    return list(session.scalars(sa.select(SyncRun).where(SyncRun.status == "queued", SyncRun.sent.is_(None))
                                .order_by(SyncRun.started)))


INTERRUPTED = ("interrupted: the process running it stopped before the run finished (killed, crashed or "
               "restarted); the batches it had committed are kept, and its counts are those recorded up to then")


def close_interrupted_runs(session: Session, job_id: str) -> int:
    """Mark the job's runs still recorded as running as failed (interrupted); how many.

    Call it only while holding the job's lock: a run holds that lock until it has recorded its end,
    so a run still marked running then belongs to a process that died (SIGKILL, OOM, power loss).
    """
    now = utcnow()
    stale = session.scalars(sa.select(SyncRun).where(SyncRun.job_id == job_id, SyncRun.status == "running")).all()
    for run in stale:
        run.status, run.finished, run.error_message = "failed", now, INTERRUPTED
        run.counts = {**{k: 0 for k in COUNTS}, **(run.counts or {})}
        run.log = [*(run.log or []), f"{now:%H:%M:%S} found still running by the next run of the job "
                                     "(its process had ended): marked failed, interrupted"]
    return len(stale)


def list_jobs(session: Session, actor: User | None) -> list[SyncJob]:
    """The sync jobs of the actor's departments (every job for sysadmins), by name."""
    from ..datasets.models import Dataset
    from ..sharing.service import departments_of_actor

    query = sa.select(SyncJob).join(Dataset, Dataset.id == SyncJob.package_id).order_by(SyncJob.name)
    if not rules.is_sysadmin(actor):
        query = query.where(Dataset.owner_org.in_(departments_of_actor(session, actor)))
    return list(session.scalars(query))


def list_runs(session: Session, job: SyncJob, *, offset: int = 0, limit: int = 20) -> list[SyncRun]:
    """A job's runs, newest first."""
    return list(session.scalars(sa.select(SyncRun).where(SyncRun.job_id == job.id)
                                .order_by(SyncRun.started.desc(), SyncRun.id).offset(offset).limit(limit)))


def due_jobs(session: Session, now: dt.datetime) -> list[SyncJob]:
    """Enabled jobs whose schedule (or dataset update cycle) says they should run now, and which
    have no run waiting for a worker (a queued run is not sent again)."""
    due = []
    waiting = sa.select(SyncRun.id).where(SyncRun.job_id == SyncJob.id, SyncRun.status == "queued").exists()
    for job in session.scalars(sa.select(SyncJob).where(SyncJob.enabled.is_(True), ~waiting)):
        last = session.scalar(sa.select(sa.func.max(SyncRun.started)).where(
            SyncRun.job_id == job.id, SyncRun.status.not_in(("skipped", "expired"))))
        expression = job.schedule or schedules.from_update_cycle(job.dataset.update_cycle)
        if expression and schedules.is_due(expression, last, now):
            due.append(job)
    return due
