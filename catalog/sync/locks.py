"""One run per job at a time, released even when the process is killed.

PostgreSQL: a session advisory lock held on a dedicated connection for the run. SQLite: an
exclusive ``flock`` on a file beside the database (SQLite lives on one machine). Both vanish with
the process, so a run killed with SIGKILL never leaves a job stuck as busy.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path
from typing import Iterator

import sqlalchemy as sa

from ..errors import DATABASE_DOWN, Conflict


def _key(job_id: str) -> int:
    # A stable signed 64-bit number for pg_try_advisory_lock.
    return int.from_bytes(hashlib.sha256(f"sync-job:{job_id}".encode()).digest()[:8], "big", signed=True)


@contextlib.contextmanager
def job_lock(engine: sa.Engine, job_id: str, job_name: str) -> Iterator[None]:
    """Hold the job's lock for the block, or raise :class:`Conflict` when another run holds it."""
    busy = Conflict.single("name", f"Sync job {job_name} is already running; try again when it has finished")
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            if not connection.scalar(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(job_id)}):
                raise busy
            connection.commit()
            try:
                yield
            finally:
                try:
                    connection.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _key(job_id)})
                    connection.commit()
                except DATABASE_DOWN:
                    # the server lost this connection (an outage, a restart): the lock went with it
                    connection.invalidate()
        return
    database = engine.url.database or ""
    folder = Path(database).parent if database not in ("", ":memory:") else Path(os.environ.get("TMPDIR", "/tmp"))
    path = folder / f".sync-{job_id}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
