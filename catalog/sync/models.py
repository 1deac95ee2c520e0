"""Sync jobs and their runs."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Dataset, Resource
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow

#: queued: dispatched to the workers, not started yet; skipped: a queued run found its job already running;
#: expired: no worker started a queued run in time (CATALOG_SYNC_QUEUE_TIMEOUT)
#: succeeded_with_errors: some rows invalid (quarantined or skipped), no more than the job's max_invalid
WITH_ERRORS = "succeeded_with_errors"
RUN_STATES = ("queued", "running", "succeeded", WITH_ERRORS, "failed", "skipped", "expired")
#: the statuses of runs that finished reading and wrote their valid rows
FINISHED_OK = ("succeeded", WITH_ERRORS)
COUNTS = ("read", "inserted", "updated", "unchanged", "quarantined", "skipped", "superseded", "deleted")


class SyncJob(Base):
    """A source, its mapping onto a dataset's DataStore resource, the mode and the schedule."""

    __tablename__ = "sync_job"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    resource_id: Mapped[str] = mapped_column(sa.ForeignKey("resource.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(50))
    source_config: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    stream: Mapped[str | None] = mapped_column(sa.String(200))
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    mode: Mapped[str] = mapped_column(sa.String(20), default="full_refresh")
    write: Mapped[str] = mapped_column(sa.String(20), default="upsert")
    on_invalid: Mapped[str] = mapped_column(sa.String(20), default="quarantine")
    schedule: Mapped[str | None] = mapped_column(sa.String(100))
    # A push job's destination ({"type": "ckan", "url", "resource_id", "token", ...}); None: the resource.
    target: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    batch_size: Mapped[int] = mapped_column(sa.Integer, default=1000)
    enabled: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    # The source position committed with the last written batch (same transaction as the records).
    state: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    creator_user_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship()
    resource: Mapped[Resource] = relationship()


class SyncRun(Base):
    """One run of a job: status, timings, the counts that account for every row, and the errors."""

    __tablename__ = "sync_run"
    __table_args__ = (sa.Index("ix_sync_run_job_started", "job_id", "started"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(sa.ForeignKey("sync_job.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(sa.String(32), default="running")
    trigger: Mapped[str] = mapped_column(sa.String(20), default="manual")
    started: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    counts: Mapped[dict[str, int]] = mapped_column(JSONDocument, default=dict)
    error_message: Mapped[str | None] = mapped_column(sa.Text)
    error_detail: Mapped[str | None] = mapped_column(sa.Text)
    log: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    # queued runs: when the message went to the broker (None: not yet; the scheduler's outbox sends it)
    sent: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # running runs: last sign of life of the process running it (older than SYNC_HEARTBEAT_TIMEOUT: lost)
    heartbeat: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    job: Mapped[SyncJob] = relationship()
