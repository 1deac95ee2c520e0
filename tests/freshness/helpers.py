"""Arranging freshness: datasets with a given update cycle whose data last changed at a given moment."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from catalog.datasets.models import Dataset
from catalog.datastore.models import Record
from catalog.sync.models import SyncJob, SyncRun

UTC = dt.timezone.utc


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def changed_at(db, dataset_id: str, moment: dt.datetime) -> None:
    """Pretend the dataset's metadata was last updated at ``moment``."""
    db.execute(sa.update(Dataset).where(Dataset.id == dataset_id).values(metadata_modified=moment))
    db.commit()


def records_changed_at(db, resource_id: str, moment: dt.datetime) -> None:
    """Pretend every record of the resource was last written at ``moment``."""
    db.execute(sa.update(Record).where(Record.resource_id == resource_id).values(updated_at=moment))
    db.commit()


def add_records(api, token: str, dataset_id: str, records: list[dict] | None = None) -> str:
    """A DataStore table on a new resource of the dataset, with ``records``; its resource id."""
    reply = api.call("datastore_create", {"resource": {"package_id": dataset_id, "name": "表"},
                                          "fields": [{"id": "id", "type": "text"}, {"id": "v", "type": "int"}],
                                          "primary_key": "id", "records": records or [{"id": "1", "v": 1}]},
                     token=token)
    return reply.result["resource_id"]


def sync_succeeded_at(db, dataset_id: str, resource_id: str, moment: dt.datetime, status: str = "succeeded") -> None:
    """A sync job of the dataset with one run that ended at ``moment``."""
    job = SyncJob(name=f"job-{moment:%Y%m%d%H%M%S}-{dataset_id[:8]}", package_id=dataset_id, resource_id=resource_id,
                  source="csv", source_config={}, mapping={}, mode="full_refresh", write="upsert",
                  on_invalid="quarantine", batch_size=1000, enabled=True)
    db.add(job)
    db.flush()
    db.add(SyncRun(job_id=job.id, status=status, trigger="manual", started=moment - dt.timedelta(minutes=5),
                   finished=moment, counts={}, log=[]))
    db.commit()
