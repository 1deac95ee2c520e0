"""Runs on a real Celery worker (``catalog worker``) through Redis, and the scheduler's ``--once``.

The broker is Redis database 14 on 127.0.0.1:6379 (``CATALOG_TEST_BROKER_URL`` overrides it), flushed
before and after the module; the tests skip with a message when Redis does not answer. Each test waits
for the run in the database, bounded, and checks that it succeeded with balanced counts.
"""
from __future__ import annotations

import os
import re

import pytest

from catalog.sync.tasks import celery_app, dispatch
from tests.connectors.exports import HOUSEHOLD_MAPPING
from tests.sync.helpers import KINDS, catalog_fixture, expected_counts_balance, household_csv, running_worker, wait_for

BROKER_URL = os.environ.get("CATALOG_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")
RUN_TIMEOUT = 60


@pytest.fixture(scope="module")
def broker():
    """The Redis database the worker and the dispatcher share, empty before and after; None when
    Redis does not answer (the worker tests then skip, the in-process one still runs)."""
    import redis

    client = redis.Redis.from_url(BROKER_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        yield None, f"Redis is not reachable at {BROKER_URL} ({error}); start redis-server to run the worker tests"
        return
    client.flushdb()
    yield BROKER_URL, ""
    client.flushdb()
    client.close()


@pytest.fixture(scope="module", params=KINDS)
def catalog(request, tmp_path_factory, broker):
    yield from catalog_fixture(request, tmp_path_factory, CATALOG_BROKER_URL=broker[0] or "")


@pytest.fixture(scope="module")
def worker(catalog, broker):
    """``python -m catalog.cli worker`` on the module's database, ready to take tasks."""
    if broker[0] is None:
        pytest.skip(broker[1])
    with running_worker(catalog) as process:
        yield process


def csv_job(catalog, name: str, rows: int, **overrides) -> dict:
    source = catalog.sources / f"{name}.csv"
    household_csv(source, rows, seed=len(name))
    return catalog.create_job({"name": name, "dataset": catalog.dataset(f"{name}-households"),
                               "source": {"type": "csv", "config": {"connection": catalog.folder_connection(
                                   catalog.sources), "path": source.name}},
                               "mapping": HOUSEHOLD_MAPPING, **overrides})


def finished_run(catalog, job: dict):
    """The job's only run once it has finished (bounded wait)."""
    def done():
        runs = catalog.runs(job)
        return runs[-1] if runs and runs[-1].status not in ("queued", "running") else None

    return wait_for(done, timeout=RUN_TIMEOUT, interval=0.2, what=f"the run of {job['name']} to finish")


def test_a_dispatched_run_waits_queued_is_not_sent_twice_and_expires_without_a_worker(catalog, broker):
    """Runs before the module's worker starts: nothing takes the task."""
    if broker[0] is None:
        pytest.skip(broker[1])
    from catalog.db import utcnow
    from catalog.sync import service

    job = csv_job(catalog, "queued-no-worker", 20, schedule="0 18 1 1 *")  # never run: due
    try:
        message = dispatch(catalog.app, job["id"], trigger="schedule")
        run_id = re.search(r"run ([0-9a-f-]+) queued\)", message).group(1)
        (run,) = catalog.runs(job)
        assert (run.id, run.status, run.finished) == (run_id, "queued", None)
        # the scheduler does not send a job that is waiting for a worker again
        again = catalog.cli("sync", "scheduler", "--once", timeout=60)
        assert again.returncode == 0 and again.stdout == "", again.stdout
        with catalog.database.session() as session:
            assert job["id"] not in [j.id for j in service.due_jobs(session, utcnow())]
            assert service.expire_queued_runs(session, utcnow(), 0) == 1
            session.commit()
        (run,) = catalog.runs(job)
        assert run.status == "expired" and "no worker started this run" in run.error_message
        with catalog.database.session() as session:
            assert job["id"] in [j.id for j in service.due_jobs(session, utcnow())]  # it did not happen
    finally:
        celery_app(catalog.app).control.purge()  # the module's worker must not take the stale task
        with catalog.database.session() as session:  # nor the later scheduler tests see it due
            session.get(service.SyncJob, job["id"]).enabled = False
            session.commit()


def test_a_dispatched_run_happens_on_the_worker(catalog, worker):
    job = csv_job(catalog, "worker-dispatch", 400)
    message = dispatch(catalog.app, job["id"], trigger="api")
    assert message.startswith(f"dispatched {job['id']} to a worker (task ")
    run = finished_run(catalog, job)
    assert run.status == "succeeded", (run.error_message, (catalog.folder / "worker.log").read_text()[-3000:])
    assert run.trigger == "api" and expected_counts_balance(run.counts)
    assert run.counts["read"] == run.counts["inserted"] == 400
    assert catalog.record_count(job["resource_id"]) == 400
    task_id = re.search(r"\(task ([0-9a-f-]+),", message).group(1)
    assert task_id == run.id  # the message is named by the run it carries out (the run row is its result)
    assert message.endswith(f"run {run.id} queued)")  # the worker carried out the queued run


def test_the_scheduler_dispatches_due_jobs_to_the_worker(catalog, worker):
    due = csv_job(catalog, "worker-scheduled", 300, schedule="0 18 1 1 *")  # never run: due
    disabled = csv_job(catalog, "worker-disabled", 10, schedule="0 18 1 1 *", enabled=False)
    result = catalog.cli("sync", "scheduler", "--once", timeout=60)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"dispatched {due['id']} to a worker (task ")
    run = finished_run(catalog, due)
    assert run.status == "succeeded" and run.trigger == "schedule", run.error_message
    assert run.counts["inserted"] == 300 and expected_counts_balance(run.counts)
    assert catalog.runs(disabled) == []
    # it ran: not due again before its next scheduled time
    again = catalog.cli("sync", "scheduler", "--once", timeout=60)
    assert again.returncode == 0 and again.stdout == ""


def test_without_a_broker_the_scheduler_runs_due_jobs_in_its_own_process(catalog):
    job = csv_job(catalog, "inprocess-scheduled", 200, schedule="*/5 * * * *")
    result = catalog.cli("sync", "scheduler", "--once", env={"CATALOG_BROKER_URL": ""}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"started {job['id']} in-process"
    # the command returned only after its run had finished
    (run,) = catalog.runs(job)
    assert run.status == "succeeded" and run.trigger == "schedule", run.error_message
    assert run.counts["inserted"] == 200 and expected_counts_balance(run.counts)
