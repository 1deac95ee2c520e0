"""What a sync run guarantees, checked with real processes and real commits on SQLite and PostgreSQL.

* A run killed with SIGKILL leaves exactly its committed batches (records and state together), and a
  rerun completes the job without losing or duplicating a record; the killed run is then closed as
  failed ("interrupted").
* One job never runs twice at once: the CLI says it is busy (exit 1), the API answers 409.
* A rerun over an unchanged source inserts and updates nothing and leaves the change feed as it was.
* A failing source (file gone, database unreachable, HTTP 500) fails the run with a message that says
  what and where; the records committed before stay.

Each module gets fresh databases (``tests/sync/helpers.py``), since everything here commits.
"""
from __future__ import annotations

import functools
import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from catalog.errors import Conflict
from catalog.sync import service as sync_service
from catalog.sync.locks import job_lock
from connectors import engine
from tests.connectors.exports import HOUSEHOLD_MAPPING, bad_rows
from tests.sync.helpers import (KINDS, POLICE_MAPPING, POLICE_TABLE, catalog_fixture, expected_counts_balance,
                                household_csv, household_records, police_register, police_rows_upto, wait_for)

KILL_ROWS = 20_000
KILL_BATCH = 500


@pytest.fixture(scope="module", params=KINDS)
def catalog(request, tmp_path_factory):
    yield from catalog_fixture(request, tmp_path_factory)


def police_job(catalog, name: str, source, **overrides) -> dict:
    return {"name": name, "dataset": catalog.dataset(f"{name}-households"),
            "source": {"type": "sql", "config": {"connection": catalog.sqlite_connection(source),
                                                 "table": POLICE_TABLE, "cursor_field": "GXSJ",
                                                 "primary_key": "HHBH"}},
            "mapping": POLICE_MAPPING, "mode": "incremental", "write": "upsert", **overrides}


def csv_job(catalog, name: str, source, **overrides) -> dict:
    return {"name": name, "dataset": catalog.dataset(f"{name}-households"),
            "source": {"type": "csv", "config": {"connection": catalog.folder_connection(source.parent),
                                                 "path": source.name}},
            "mapping": HOUSEHOLD_MAPPING, "mode": "full_refresh", "write": "upsert", **overrides}


def wait_until_free(catalog, job) -> None:
    """Wait (bounded) until the job's lock can be taken: the killed run's lock has gone with it."""
    def free() -> bool:
        try:
            with job_lock(catalog.engine, job["id"], job["name"]):
                return True
        except Conflict:
            return False

    wait_for(free, timeout=15, interval=0.1, what=f"the lock of {job['name']} to be released")


def payload(change: dict) -> dict:
    return {k: v for k, v in change.items() if k not in ("_seq", "_key", "_deleted")}


# --- 1. SIGKILL mid-run, then rerun ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("source_kind", ["sql-incremental", "csv-upsert"])
def test_a_run_killed_mid_way_keeps_whole_batches_and_a_rerun_completes_it(catalog, source_kind):
    name = f"kill-{source_kind}"
    if source_kind == "sql-incremental":
        source = catalog.sources / f"{name}.db"
        expected = police_register(source, KILL_ROWS)
        job = catalog.add_job(police_job(catalog, name, source, batch_size=KILL_BATCH))
        order = None
    else:
        source = catalog.sources / f"{name}.csv"
        expected = household_csv(source, KILL_ROWS)
        job = catalog.add_job(csv_job(catalog, name, source, batch_size=KILL_BATCH))
        order = list(expected)  # file order
    resource = job["resource_id"]

    process = catalog.start("sync", "run", name, log=catalog.folder / f"{name}.log")
    try:
        # Kill it between 2 and 10 batches in: well inside the run, wherever the next commit stands.
        wait_for(lambda: catalog.record_count(resource) >= 4 * KILL_BATCH or process.poll() is not None,
                 timeout=90, interval=0.02, what="the first batches to be committed")
        assert process.poll() is None, "the run finished before it could be killed: " + \
            (catalog.folder / f"{name}.log").read_text()[-2000:]
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)

    # What was committed is whole batches, and exactly what the committed state says.
    stored = catalog.records(resource)
    assert 0 < len(stored) < KILL_ROWS
    assert all(stored[key] == expected[key] for key in stored), "a committed record differs from its source row"
    state = catalog.job(name)["state"]
    if order is None:
        assert set(stored) == police_rows_upto(source, state), "records and state were not committed together"
    else:
        assert state is None  # a CSV file has no position: a rerun reads it again (upsert)
        assert len(stored) % KILL_BATCH == 0 and set(stored) == set(order[:len(stored)])
    killed = catalog.runs(job)
    assert [r.status for r in killed] == ["running"]  # its process could not record anything more
    recorded = killed[0].counts.get("inserted", 0)
    assert len(stored) - KILL_BATCH <= recorded <= len(stored)  # progress is recorded after each batch

    wait_until_free(catalog, job)
    again = catalog.cli("sync", "run", name, timeout=180)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "succeeded" in again.stdout

    interrupted, rerun = catalog.runs(job)
    assert interrupted.id == killed[0].id and interrupted.status == "failed"
    assert interrupted.error_message.startswith("interrupted") and interrupted.finished is not None
    assert rerun.status == "succeeded" and expected_counts_balance(rerun.counts)
    counts = rerun.counts
    if order is None:  # resumed after the committed state: each remaining row read once
        assert counts["read"] == counts["inserted"] == KILL_ROWS - len(stored)
    else:  # read again from the top: what was committed is unchanged
        assert counts["read"] == KILL_ROWS and counts["unchanged"] == len(stored)
        assert counts["inserted"] == KILL_ROWS - len(stored)
    assert counts["updated"] == counts["quarantined"] == counts["skipped"] == 0

    # Nothing lost, nothing twice: every key once, in its final version, in the table and in the feed.
    assert catalog.records(resource) == expected
    assert catalog.record_count(resource) == KILL_ROWS  # no tombstones, no stray rows either
    changes, _cursor = catalog.feed(resource)
    assert len(changes) == KILL_ROWS and len({c["_key"] for c in changes}) == KILL_ROWS
    assert all(not c["_deleted"] and payload(c) == expected[c["_key"]] for c in changes)
    assert sorted(c["_seq"] for c in changes) == list(range(1, KILL_ROWS + 1))  # no key written twice
    assert catalog.last_seq(resource) == KILL_ROWS


# --- 2. one run per job at a time ---------------------------------------------------------------


def test_a_job_that_is_running_is_refused_by_the_cli_and_the_api(catalog):
    source = catalog.sources / "busy.csv"
    household_csv(source, 50, seed=21)
    job = catalog.create_job(csv_job(catalog, "busy-job", source))
    with job_lock(catalog.engine, job["id"], job["name"]):  # as a run in another process holds it
        result = catalog.cli("sync", "run", "busy-job")
        assert result.returncode == 1
        assert "Error: Sync job busy-job is already running" in result.stderr
        assert "Traceback" not in result.stderr and "invalid input" not in result.stderr
        reply = catalog.app.test_client().post("/api/3/action/sync_job_run", json={"id": "busy-job"},
                                               headers={"Authorization": catalog.admin_token})
        assert reply.status_code == 409, reply.get_data(as_text=True)
        assert "busy-job is already running" in json.dumps(reply.get_json()["error"], ensure_ascii=False)
        with pytest.raises(Conflict):
            catalog.run("busy-job")
        assert catalog.runs(job) == []  # a refused run leaves no trace
        assert catalog.record_count(job["resource_id"]) == 0
    run = catalog.run("busy-job")  # free again
    assert run.status == "succeeded" and run.counts["inserted"] == 50


# --- 3. rerunning over an unchanged source --------------------------------------------------------


@pytest.mark.parametrize("setup", ["csv-upsert-with-bad-rows", "csv-mirror", "sql-incremental", "sql-full-refresh"])
def test_rerunning_over_an_unchanged_source_writes_nothing(catalog, setup):
    name = f"again-{setup}"
    bad = 0
    if setup.startswith("csv"):
        source = catalog.sources / f"{name}.csv"
        broken = [row for row, _field, _keyword in bad_rows()] if "bad" in setup else []
        bad = len(broken)
        expected = household_csv(source, 1500, seed=31, bad=broken)
        write = "mirror" if "mirror" in setup else "upsert"
        job = catalog.create_job(csv_job(catalog, name, source, write=write))
    else:
        source = catalog.sources / f"{name}.db"
        expected = police_register(source, 1500, seed=32)
        mode = "incremental" if "incremental" in setup else "full_refresh"
        job = catalog.create_job(police_job(catalog, name, source, mode=mode))
    resource = job["resource_id"]

    first = catalog.run(name)
    # bad rows are written to quarantine, so the run says so: succeeded with errors 
    assert first.status == ("succeeded_with_errors" if bad else "succeeded"), first.error_message
    assert first.counts["inserted"] == 1500 and first.counts["quarantined"] == bad
    before_feed, cursor = catalog.feed(resource)
    before_seq, before_records = catalog.last_seq(resource), catalog.records(resource)
    assert before_records == expected and len(before_feed) == 1500

    second = catalog.run(name)
    assert second.status == first.status, second.error_message
    counts = second.counts
    assert counts["inserted"] == counts["updated"] == counts["deleted"] == 0
    if setup == "sql-incremental":
        assert counts["read"] == 0  # it starts after the committed state: nothing new to read
    else:
        assert counts["unchanged"] == 1500 and counts["quarantined"] == bad and counts["read"] == 1500 + bad
    assert catalog.feed(resource, cursor)[0] == []
    assert catalog.last_seq(resource) == before_seq
    assert catalog.feed(resource)[0] == before_feed and catalog.records(resource) == before_records


# --- 4. failing sources ----------------------------------------------------------------------------


class _FlakyApi(BaseHTTPRequestHandler):
    """Pages of household records; page 3 answers HTTP 500 while ``server.failing`` is set."""

    def do_GET(self):  # noqa: N802 - the http.server name
        query = parse_qs(urlsplit(self.path).query)
        page, size = int(query["page"][0]), int(query["page_size"][0])
        self.server.requests.append(page)
        if page >= 3 and self.server.failing:
            self.send_response(500)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"internal error")
            return
        records = self.server.records[(page - 1) * size:page * size]
        body = json.dumps({"success": True, "result": {"records": records}}, ensure_ascii=False).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # quiet
        pass


@pytest.fixture
def flaky_api():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyApi)
    server.records, server.failing, server.requests = household_records(120, seed=41), True, []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def no_waiting(monkeypatch):
    """The engine's retry waits, recorded instead of slept (the retries themselves still happen)."""
    waits: list[float] = []
    monkeypatch.setattr(sync_service, "run_sync", functools.partial(engine.run_sync, sleep=waits.append))
    return waits


def test_a_source_file_that_disappears_fails_the_run_and_keeps_the_records(catalog):
    source = catalog.sources / "gone.csv"
    expected = household_csv(source, 100, seed=51)
    job = catalog.create_job(csv_job(catalog, "gone-file", source))
    assert catalog.run("gone-file").status == "succeeded"
    source.unlink()
    result = catalog.cli("sync", "run", "gone-file")
    assert result.returncode == 1
    assert "failed — file not found: gone.csv" in result.stdout
    last = catalog.runs(job)[-1]
    assert last.status == "failed" and last.error_message == "file not found: gone.csv"
    assert last.counts["read"] == 0 and last.finished is not None
    assert catalog.records(job["resource_id"]) == expected


def test_an_unreachable_source_database_fails_after_retries_and_keeps_the_records(catalog, no_waiting):
    source = catalog.sources / "reachable.db"
    expected = police_register(source, 100, seed=52)
    job = catalog.create_job(police_job(catalog, "police-offline", source))
    assert catalog.run("police-offline").status == "succeeded"
    offline = catalog.connection("police-offline", "database",
                                 {"url": "postgresql+psycopg://police@127.0.0.1:1/register"})
    catalog.update_job("police-offline", {"source_config": {
        "connection": offline, "table": POLICE_TABLE, "cursor_field": "GXSJ", "primary_key": "HHBH"}})
    run = catalog.run("police-offline")
    assert run.status == "failed"
    assert run.error_message.startswith("database error while ")
    assert "127.0.0.1" in run.error_message and "port 1" in run.error_message
    assert run.error_message.endswith("(still failing after 3 retries)")
    assert no_waiting == [1.0, 2.0, 4.0]
    assert expected_counts_balance(run.counts) and run.counts["read"] == 0
    assert catalog.records(job["resource_id"]) == expected


def test_an_api_failing_with_http_500_keeps_the_pages_read_and_a_rerun_resumes(catalog, flaky_api, no_waiting):
    url = f"http://127.0.0.1:{flaky_api.server_port}/api/households"
    api = catalog.connection("household-api", "http", {"url": f"http://127.0.0.1:{flaky_api.server_port}/api"})
    job = catalog.create_job({
        "name": "household-api", "dataset": catalog.dataset("household-api-households"),
        "source": {"type": "http_json", "config": {
            "connection": api, "path": "households", "records_path": "result.records",
            "pagination": {"style": "page", "page_size": 50}}, "stream": "households"},
        "mode": "incremental", "write": "upsert", "batch_size": 40})
    run = catalog.run("household-api")
    assert run.status == "failed"
    assert run.error_message == (f"HTTP 500 from {url}?page=3&page_size=50 (still failing after 3 retries)")
    assert no_waiting == [1.0, 2.0, 4.0] and flaky_api.requests.count(3) == 4
    # the two pages read before the failure are committed, with the position after them
    expected = {r["household_number"]: r for r in flaky_api.records}
    first_pages = {k: expected[k] for k in list(expected)[:100]}
    assert catalog.records(job["resource_id"]) == first_pages
    assert run.counts["inserted"] == 100 and expected_counts_balance(run.counts)
    assert catalog.job("household-api")["state"] == {"page": 3}

    flaky_api.failing, flaky_api.requests[:] = False, []
    again = catalog.run("household-api")
    assert again.status == "succeeded", again.error_message
    assert flaky_api.requests == [3] and again.counts["inserted"] == 20 and again.counts["read"] == 20
    assert catalog.records(job["resource_id"]) == expected
