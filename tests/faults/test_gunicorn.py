"""The shipped gunicorn.conf.py under ``gunicorn wsgi:app``: a slow client reads a 300,000-record dump
to the end although it takes longer than the worker timeout; a dump cut by a dying worker ends without
the terminating chunk, so the client knows it is incomplete (never a valid-looking short file)."""
from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.connectors.exports import HOUSEHOLD_MAPPING
from tests.faults.servers import spare_port
from tests.sync.helpers import fresh_catalog, household_csv, stop, wait_for

ROOT = Path(__file__).resolve().parents[2]
RECORDS = 300_000
TIMEOUT = 4  # the worker timeout for this test; the slow read below lasts several times longer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dump_catalog(tmp_path_factory):
    """A SQLite catalog with one DataStore resource of 300,000 small records."""
    with fresh_catalog("sqlite", tmp_path_factory.mktemp("gunicorn")) as catalog:
        source = catalog.sources / "seed.csv"
        household_csv(source, 5, seed=3)
        job = catalog.create_job({"name": "dump-seed", "dataset": catalog.dataset("dump-households"),
                                  "source": {"type": "csv", "config": {"connection": catalog.folder_connection(
                                      catalog.sources), "path": source.name}}, "mapping": HOUSEHOLD_MAPPING})
        assert catalog.run("dump-seed").status == "succeeded"
        resource_id = job["resource_id"]
        with catalog.engine.begin() as conn:  # bulk rows of the same table (setup, not what is tested)
            conn.execute(sa.text("DELETE FROM datastore_record WHERE resource_id = :r"), {"r": resource_id})
            conn.execute(sa.text("INSERT INTO datastore_record (resource_id, key, seq, deleted, data, updated_at) "
                                 "VALUES (:r, :k, :s, false, :d, CURRENT_TIMESTAMP)"),
                         [{"r": resource_id, "k": f"k{i:07d}", "s": i + 1, "d": json.dumps({"n": i})}
                          for i in range(RECORDS)])
            conn.execute(sa.text("UPDATE datastore_table SET last_seq = :s WHERE resource_id = :r"),
                         {"s": RECORDS, "r": resource_id})
        catalog.resource_id = resource_id
        yield catalog


def start_gunicorn(catalog, port: int) -> subprocess.Popen:
    log = open(catalog.folder / "gunicorn.log", "w")  # noqa: SIM115 - handed to the child
    env = {**catalog.env, "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1 --timeout {TIMEOUT}"}
    process = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "wsgi:app"], cwd=ROOT, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()

    def ready():
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/api/3")
            return connection.getresponse().status == 200
        except OSError:
            return process.poll() is not None
    wait_for(ready, timeout=60, interval=0.3, what="gunicorn to answer")
    assert process.poll() is None, (catalog.folder / "gunicorn.log").read_text()[-3000:]
    return process


def slow_read(response, rate: int, on_progress=None) -> bytes:
    """Read the body at about ``rate`` bytes per second (http.client decodes the chunks)."""
    body = bytearray()
    started = time.monotonic()
    while True:
        piece = response.read(64 * 1024)
        if not piece:
            return bytes(body)
        body += piece
        if on_progress is not None:
            on_progress(len(body))
        ahead = len(body) / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)


def test_a_slow_client_gets_the_whole_dump_and_a_cut_dump_is_visibly_cut(dump_catalog):
    catalog = dump_catalog
    port = spare_port()
    server = start_gunicorn(catalog, port)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", f"/datastore/dump/{catalog.resource_id}?format=json",
                           headers={"Authorization": catalog.admin_token})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("Transfer-Encoding") == "chunked"
        started = time.monotonic()
        body = slow_read(response, rate=350_000)  # 4 MB: at least 11 s
        took = time.monotonic() - started
        records = json.loads(body)
        assert len(records) == RECORDS and records[-1] == {"n": RECORDS - 1}
        assert took > 2 * TIMEOUT  # it outlived the worker timeout several times over
        log = (catalog.folder / "gunicorn.log").read_text()
        assert "WORKER TIMEOUT" not in log, log[-2000:]
        print(f"{RECORDS:,} records, {len(body):,} bytes read in {took:.1f} s under timeout {TIMEOUT} s")

        # a worker that dies mid-stream: the body ends without the terminating chunk
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", f"/datastore/dump/{catalog.resource_id}?format=json",
                           headers={"Authorization": catalog.admin_token})
        response = connection.getresponse()
        assert response.status == 200
        workers = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
        killed = []

        def kill_worker(received: int) -> None:
            if received > 1_000_000 and not killed:
                for pid in workers:
                    os.kill(int(pid), signal.SIGKILL)
                killed.append(received)
        with pytest.raises(http.client.IncompleteRead):
            slow_read(response, rate=2_000_000, on_progress=kill_worker)
        assert killed
    finally:
        stop(server)
