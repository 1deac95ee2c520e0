"""Faults injected for real: a PostgreSQL cluster and a Redis server owned by this module (spare ports,
stopped and restarted by the tests), Celery workers killed with SIGKILL, a database stopped mid-run.

Each test says what a user or an operator notices: 503s with CKAN's envelope and Retry-After and one log
line per outage; a scheduler that outlives a broker outage and sends the queued run when it is back; expired
runs that never execute; a killed worker's run closed by its missing heartbeat; a run cut by a database
outage that ends ``failed`` with its cause, printed by the CLI.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import time

import pytest
import sqlalchemy as sa

from catalog.sync.tasks import celery_app
from tests.conftest import PG_ENV
from tests.connectors.exports import HOUSEHOLD_MAPPING
from tests.faults.servers import postgres_cluster, redis_server
from tests.sync.helpers import expected_counts_balance, fresh_catalog, household_csv, stop, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    with postgres_cluster() as cluster:
        yield cluster


@pytest.fixture(scope="module")
def redis():
    with redis_server() as server:
        yield server


@pytest.fixture(scope="module")
def catalog(cluster, redis, tmp_path_factory):
    """A catalog on the module's own PostgreSQL cluster, with the module's Redis as its broker."""
    before = os.environ.get(PG_ENV)
    os.environ[PG_ENV] = cluster.url.replace("+psycopg", "")
    made = fresh_catalog("postgresql", tmp_path_factory.mktemp("faults"), {"CATALOG_BROKER_URL": redis.url})
    try:
        yield made.__enter__()
    finally:
        # the whole cluster goes afterwards; its admin connection may be one the restarts cut
        with contextlib.suppress(sa.exc.OperationalError):
            made.__exit__(None, None, None)
        if before is None:
            os.environ.pop(PG_ENV, None)
        else:
            os.environ[PG_ENV] = before


def csv_job(catalog, name: str, rows: int, **overrides) -> dict:
    source = catalog.sources / f"{name}.csv"
    household_csv(source, rows, seed=len(name))
    return catalog.create_job({"name": name, "dataset": catalog.dataset(f"{name}-households"),
                               "source": {"type": "csv", "config": {"connection": catalog.folder_connection(
                                   catalog.sources), "path": source.name}},
                               "mapping": HOUSEHOLD_MAPPING, **overrides})


def outage_lines(caplog, dependency: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith(f"{dependency} unreachable")]


def test_a_database_outage_answers_503_with_the_envelope_logs_once_and_status_show_names_it(catalog, cluster,
                                                                                           caplog):
    client = catalog.app.test_client()
    status = client.get("/api/3/action/status_show").get_json()["result"]
    assert status["dependencies"] == {"database": "ok", "broker": "ok"}
    caplog.set_level(logging.INFO)
    cluster.stop()
    try:
        answers = [client.get("/api/3/action/package_list") for _ in range(25)]
        answers += [client.post("/api/3/action/package_create", json={"name": "x"},
                                headers={"Authorization": catalog.admin_token}) for _ in range(5)]
        for answer in answers:
            assert answer.status_code == 503
            body = answer.get_json()
            assert body["success"] is False and body["error"]["__type"] == "Service Unavailable"
            assert "database cannot be reached" in body["error"]["message"]
            assert int(answer.headers["Retry-After"]) > 0
        # one line for the whole outage, with its cause; no traceback per request
        (line,) = outage_lines(caplog, "database")
        assert line.levelname == "WARNING" and line.exc_info is None
        assert not [r for r in caplog.records if r.exc_info]
        status = client.get("/api/3/action/status_show")
        assert status.status_code == 200
        # anyone learns which dependency is down; only a sysadmin reads the cause (it names host and port)
        assert status.get_json()["result"]["dependencies"] == {"database": "unavailable", "broker": "ok"}
        page = client.get("/dataset")
        assert page.status_code == 503 and page.headers["Retry-After"]
        assert "暂时无法访问" in page.get_data(as_text=True) and "Traceback" not in page.get_data(as_text=True)
        assert len(outage_lines(caplog, "database")) == 1
    finally:
        cluster.start()
    assert client.get("/api/3/action/package_list").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.getMessage() == "database reachable again"]
    assert client.get("/api/3/action/status_show").get_json()["result"]["dependencies"]["database"] == "ok"


def test_a_broker_outage_answers_in_status_show(catalog, redis):
    client = catalog.app.test_client()
    redis.kill()
    try:
        started = time.monotonic()
        dependencies = client.get("/api/3/action/status_show").get_json()["result"]["dependencies"]
        assert dependencies == {"database": "ok", "broker": "unavailable"}
        dependencies = client.get("/api/3/action/status_show", headers={"Authorization": catalog.admin_token}
                                  ).get_json()["result"]["dependencies"]
        assert dependencies["broker"].startswith("unavailable: ") and str(redis.port) in dependencies["broker"]
        assert time.monotonic() - started < 10
    finally:
        redis.start()
    assert client.get("/api/3/action/status_show").get_json()["result"]["dependencies"]["broker"] == "ok"


def test_the_scheduler_outlives_a_broker_outage_warns_once_and_sends_the_queued_run_when_it_is_back(
        catalog, redis):
    job = csv_job(catalog, "broker-outage", 300, schedule="0 18 1 1 *")  # never run: due
    redis.kill()
    log = catalog.folder / "scheduler.log"
    scheduler = None
    try:
        # --once: one line saying what is down, exit 1, no traceback, no retry loop. Kombu's default
        # retries take 20 s or more; the command's own start-up (measured beside it, in the same load)
        # is the yardstick, so a loaded machine does not fail the test and a retry loop still does.
        started = time.monotonic()
        assert catalog.cli("sync", "scheduler", "--help", timeout=120).returncode == 0
        start_up = time.monotonic() - started
        started = time.monotonic()
        once = catalog.cli("sync", "scheduler", "--once", timeout=120)
        assert once.returncode == 1 and "Traceback" not in once.stderr, once.stderr
        assert once.stderr.count("the broker cannot be reached") == 1, once.stderr
        assert time.monotonic() - started < 2 * start_up + 15, "the scheduler retried the broker"
        (run,) = catalog.runs(job)  # recorded queued, not sent: the outbox keeps it
        assert (run.status, run.sent) == ("queued", None)
        scheduler = catalog.start("sync", "scheduler", "--interval", "5", log=log)
        time.sleep(14)  # three ticks or so, all failing
        assert scheduler.poll() is None, log.read_text()
        text = log.read_text()
        assert text.count("cannot be reached") == 1 and "Traceback" not in text, text
        assert [r.id for r in catalog.runs(job)] == [run.id]  # no second run queued meanwhile
    finally:
        redis.start()
    try:
        wait_for(lambda: f"sent queued run {run.id}" in log.read_text(), timeout=120, interval=0.5,
                 what="the scheduler to send the queued run once the broker is back")
        # said when the tick that sent it has ended (its other duties come after the send)
        wait_for(lambda: "the broker answers again" in log.read_text().lower(), timeout=120, interval=0.5,
                 what="the scheduler to say the broker answers again")
        with running_worker_env(catalog) as _worker:
            done = wait_for(lambda: [r for r in catalog.runs(job) if r.status not in ("queued", "running")],
                            timeout=90, interval=0.3, what="the run to finish")
        (run,) = done
        assert run.status == "succeeded" and run.counts["inserted"] == 300, run.error_message
    finally:
        if scheduler is not None:
            stop(scheduler)


def running_worker_env(catalog, **env: str):
    """``catalog worker`` with extra settings (the helper's own runs it with the catalog's)."""
    @contextlib.contextmanager
    def started():
        log = catalog.folder / f"worker-{time.monotonic_ns()}.log"
        process = catalog.start("worker", "--concurrency", "1", env=env, log=log)
        try:
            wait_for(lambda: " ready." in log.read_text() or process.poll() is not None, timeout=45, interval=0.2,
                     what="the Celery worker to be ready")
            assert process.poll() is None, log.read_text()[-3000:]
            process.log = log
            yield process
        finally:
            stop(process)
    return started()


def test_runs_expired_while_no_worker_ran_never_execute_and_exactly_one_run_does(catalog, redis):
    job = csv_job(catalog, "expired-runs", 200, schedule="0 18 1 1 *")  # never run: due
    quick = {"CATALOG_SYNC_QUEUE_TIMEOUT": "2"}
    for _ in range(4):  # each tick expires the previous run and, the job being due again, queues another
        result = catalog.cli("sync", "scheduler", "--once", env=quick, timeout=60)
        assert result.returncode == 0, result.stderr
        time.sleep(2.5)
    runs = catalog.runs(job)
    assert [r.status for r in runs] == ["expired", "expired", "expired", "queued"]
    assert all(r.sent is not None for r in runs)  # every one of them has a message in the broker
    with running_worker_env(catalog) as worker:
        last = wait_for(lambda: [r for r in catalog.runs(job) if r.id == runs[-1].id
                                 and r.status not in ("queued", "running")], timeout=180, interval=0.3,
                        what="the queued run to finish")[0]
        # the worker takes the messages in order: the three expired ones came first and were dropped
        expired = {r.id for r in runs[:3]}
        wait_for(lambda: set(re.findall(r"run ([0-9a-f-]{36}) is expired, not queued: its message is dropped",
                                        worker.log.read_text())) == expired, timeout=180, interval=0.3,
                 what="the worker to drop the three expired runs' messages")
        # the finished run's message delivered again (as after a worker died before acknowledging it)
        celery_app(catalog.app).send_task("catalog.sync.run_job", args=[job["id"], "schedule", last.id])
        wait_for(lambda: f"run {last.id} is succeeded, not queued: its message is dropped" in worker.log.read_text(),
                 timeout=30, interval=0.3, what="the worker to drop the finished run's redelivered message")
    assert last.status == "succeeded" and last.counts["inserted"] == 200
    after = catalog.runs(job)
    assert [r.status for r in after] == ["expired", "expired", "expired", "succeeded"]
    assert all(r.counts.get("read", 0) == 0 and r.heartbeat is None for r in after[:3])  # never started
    assert catalog.record_count(job["resource_id"]) == 200


def test_a_killed_worker_s_run_is_closed_by_its_missing_heartbeat(catalog, redis):
    job = csv_job(catalog, "killed-worker", 40_000, schedule="0 18 1 1 *", batch_size=200)
    beat = {"CATALOG_SYNC_HEARTBEAT": "1", "CATALOG_SYNC_HEARTBEAT_TIMEOUT": "5"}
    with running_worker_env(catalog, **beat) as worker:
        assert catalog.cli("sync", "scheduler", "--once", env=beat, timeout=60).returncode == 0
        wait_for(lambda: [r for r in catalog.runs(job) if r.status == "running" and r.counts.get("read", 0) > 0],
                 timeout=60, interval=0.2, what="the run to be under way")
        os.killpg(worker.pid, signal.SIGKILL)
        killed = time.monotonic()
    # Scheduler ticks until the run is closed. The last heartbeat came at most 1 s before the kill, so
    # with a 5 s timeout a tick that checks after kill + 5 s must close the run and one that ends
    # before kill + 4 s must not: timed by the ticks themselves, not by a limit a loaded machine misses.
    closed_after, ticks = None, []
    while time.monotonic() - killed < 180:
        started = time.monotonic() - killed
        result = catalog.cli("sync", "scheduler", "--once", env={**beat, "CATALOG_BROKER_URL": ""}, timeout=120)
        ticks.append((started, time.monotonic() - killed))
        assert result.returncode == 0, result.stderr
        (run,) = [r for r in catalog.runs(job)]
        if run.status != "running":
            closed_after = ticks[-1][1]
            break
        time.sleep(0.5)
    assert run.status == "failed" and run.error_message.startswith("worker lost"), run.error_message
    assert "gave no heartbeat" in result.stderr
    assert closed_after is not None and closed_after >= 4, ticks     # not closed while its heartbeat was fresh
    assert all(start < 5 for start, _end in ticks[:-1]), ticks       # closed by the first tick after the timeout
    assert 0 < run.counts["read"] < 40_000  # what it had done before it was killed
    print(f"killed worker's run closed {closed_after:.1f} s after SIGKILL (heartbeat 1 s, timeout 5 s)")


def test_a_run_cut_by_a_database_outage_ends_failed_with_its_cause_and_the_cli_prints_it(catalog, cluster):
    job = csv_job(catalog, "db-outage", 40_000, batch_size=200)
    process = catalog.start("sync", "run", job["name"], log=catalog.folder / "cli-run.log")
    try:
        wait_for(lambda: [r for r in catalog.runs(job) if r.status == "running" and r.counts.get("read", 0) > 0]
                 or process.poll() is not None, timeout=60, interval=0.2, what="the run to be under way")
        assert process.poll() is None, (catalog.folder / "cli-run.log").read_text()[-3000:]
        catalog.engine.dispose()
        cluster.stop()
        time.sleep(4)
        cluster.start()
        assert process.wait(120) == 1
    finally:
        stop(process)
    out = (catalog.folder / "cli-run.log").read_text()
    catalog.engine.dispose()
    (run,) = catalog.runs(job)
    assert run.status == "failed" and run.error_message and run.finished is not None, out
    assert f"Run {run.id}: failed — {run.error_message}" in out  # the summary and the reason
    assert re.search(r"read\s+\d+", out) and "Traceback" not in out
    assert expected_counts_balance(run.counts) or run.counts["read"] >= 0
    print(f"run cut by a 4-s database outage: {run.error_message}")


def test_sync_job_run_answers_at_once_with_the_queued_run_which_then_runs(catalog, redis, monkeypatch):
    job = csv_job(catalog, "api-run", 3000, batch_size=100)
    client = catalog.app.test_client()
    auth = {"Authorization": catalog.admin_token}

    def finished(run_id: str) -> dict:
        def done():
            run = client.get(f"/api/3/action/sync_run_show?id={run_id}", headers=auth).get_json()["result"]
            return run if run["status"] not in ("queued", "running") else None
        return wait_for(done, timeout=120, interval=0.3, what=f"run {run_id} to finish")

    # without a broker: a background thread of the web process runs it
    monkeypatch.setitem(catalog.app.config, "BROKER_URL", None)
    started = time.monotonic()
    reply = client.post("/api/3/action/sync_job_run", json={"id": job["name"]}, headers=auth)
    answered = time.monotonic() - started
    assert reply.status_code == 200, reply.get_data(as_text=True)
    queued = reply.get_json()["result"]
    # answered at once: the background thread may already have started the run when it is read back
    assert queued["status"] in ("queued", "running") and answered < 3, (queued, answered)
    run = finished(queued["id"])
    assert run["status"] == "succeeded" and run["counts"]["inserted"] == 3000 and run["trigger"] == "api"
    print(f"sync_job_run answered in {answered:.2f} s without a broker")

    # with a broker: the run goes to a worker
    monkeypatch.setitem(catalog.app.config, "BROKER_URL", redis.url)
    with running_worker_env(catalog):
        started = time.monotonic()
        reply = client.post("/api/3/action/sync_job_run", json={"id": job["name"]}, headers=auth)
        answered = time.monotonic() - started
        queued = reply.get_json()["result"]
        assert reply.status_code == 200 and queued["status"] == "queued" and answered < 3, (queued, answered)
        run = finished(queued["id"])
    assert run["status"] == "succeeded" and run["counts"]["unchanged"] == 3000, run
    assert [r.id for r in catalog.runs(job)][-1] == queued["id"]
