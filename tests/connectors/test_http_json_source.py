"""The http_json source against a real HTTP server on 127.0.0.1: pagination styles, the token,
transient failures retried, permanent failures reported."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors import Row, SourceError, Stream, TransientSourceError
from connectors.sources import get
from schemas import record_validator
from tests.connectors.helpers import MemoryTarget, sync
from tests.schemas.records_samples import petitions

RECORDS = list(petitions(23, seed=5))
TOKEN = "s3cret-token"
#: given to the runs, so the engine does not spend a request on discover()
STREAM = Stream("petitions", primary_key=["petition_number"])


class Api:
    """What the fake department API does: its records, failures to inject, the requests it saw."""

    def __init__(self):
        self.records = RECORDS
        self.failures: list[tuple[int, dict[str, str]]] = []  # (status, headers) answered before real pages
        self.requests: list[dict[str, list[str]]] = []
        self.delay = 0.0
        self.body: bytes | None = None
        self.page_failures: dict[str, int] = {}  # page -> how many times it answers 500 first


class Handler(BaseHTTPRequestHandler):
    api: Api

    def log_message(self, *args):  # keep the test output quiet
        pass

    def _send(self, status, payload, headers=None):
        body = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        api, url = self.api, urlsplit(self.path)
        query = parse_qs(url.query)
        api.requests.append(query)
        if api.delay:
            time.sleep(api.delay)
        if self.headers.get("Authorization") != TOKEN:
            return self._send(401, {"success": False, "error": {"message": "Authorization required"}})
        if api.failures:
            status, headers = api.failures.pop(0)
            return self._send(status, {"success": False}, headers)
        page = query.get("page", [""])[0]
        if api.page_failures.get(page):
            api.page_failures[page] -= 1
            return self._send(500, {"success": False})
        if api.body is not None:
            return self._send(200, api.body)
        records = api.records
        if url.path == "/page":
            page, size = int(query["page"][0]), int(query["page_size"][0])
            chunk = records[(page - 1) * size: page * size]
            return self._send(200, {"success": True, "result": {"records": chunk, "total": len(records)}})
        if url.path == "/offset":
            offset, limit = int(query.get("offset", ["0"])[0]), int(query["limit"][0])
            return self._send(200, {"data": records[offset: offset + limit]})
        if url.path == "/cursor":
            start = int(query.get("cursor", ["0"])[0])
            chunk = records[start: start + 5]
            following = str(start + len(chunk)) if chunk else str(start)
            return self._send(200, {"items": chunk, "links": {"next": following}})
        return self._send(200, records)


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is part of the tests


@pytest.fixture
def api():
    state = Api()
    handler = type("BoundHandler", (Handler,), {"api": state})
    server = QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def page_config(api, **extra):
    return {"url": f"{api.base}/page", "token": TOKEN, "records_path": "result.records",
            "pagination": {"style": "page", "page_size": 10}, **extra}


def pull(config, target, **options):
    """A sync from the fake API into ``target``."""
    return sync(get("http_json"), config, target, stream=STREAM, **options)


def by_number(records):
    return {r["petition_number"]: r for r in records}


def test_page_pagination_reads_every_record_with_the_token(api):
    target = MemoryTarget(["petition_number"])
    report = pull(page_config(api), target, validator=record_validator("petition", 1))
    assert report.succeeded and (report.read, report.inserted) == (23, 23)
    assert target.records == by_number(RECORDS)
    assert [q["page"] for q in api.requests] == [["1"], ["2"], ["3"]]
    # after the partial last page the state points at that page, to catch records appended to it
    assert report.state == {"page": 3}


def test_offset_pagination_and_incremental_resume(api):
    config = {"url": f"{api.base}/offset", "token": TOKEN, "records_path": "data",
              "pagination": {"style": "offset", "page_size": 10}}
    target = MemoryTarget(["petition_number"])
    api.records = RECORDS[:15]
    first = pull(config, target, mode="incremental")
    assert first.succeeded and first.state == {"offset": 15} and first.inserted == 15
    api.records = RECORDS
    second = pull(config, target, mode="incremental")
    assert second.succeeded and (second.read, second.inserted) == (8, 8)
    assert api.requests[-1]["offset"] == ["15"] and target.records == by_number(RECORDS)


def test_cursor_pagination_follows_the_next_link_until_it_repeats(api):
    config = {"url": f"{api.base}/cursor", "token": TOKEN, "records_path": "items",
              "pagination": {"style": "cursor", "next_cursor_path": "links.next"}}
    items = list(get("http_json").read(config, Stream("petitions"), None))
    assert [i.data["petition_number"] for i in items if isinstance(i, Row)] == [r["petition_number"] for r in RECORDS]
    assert items[-1].state == {"cursor": "23"}
    target = MemoryTarget(["petition_number"])
    target.committed_state = {"cursor": "20"}
    report = pull(config, target, mode="incremental")
    assert report.read == 3 and report.state == {"cursor": "23"}


def test_transient_failures_are_retried_then_the_run_succeeds(api):
    api.failures = [(503, {}), (429, {"Retry-After": "2"}), (502, {})]
    target = MemoryTarget(["petition_number"])
    sleeps = []
    report = pull(page_config(api), target, sleep=sleeps.append, backoff=0.5)
    assert report.succeeded and report.retries == 3 and report.inserted == 23
    assert sleeps == [0.5, 2.0, 2.0]  # Retry-After raises the second wait
    assert sum("HTTP 503 from" in line for line in report.log) == 1


def test_a_failure_in_the_middle_resumes_at_the_page_that_failed(api):
    api.page_failures = {"2": 1}
    target = MemoryTarget(["petition_number"])
    report = pull(page_config(api), target)
    assert report.succeeded and report.retries == 1 and (report.read, report.inserted) == (23, 23)
    assert [q["page"] for q in api.requests] == [["1"], ["2"], ["2"], ["3"]]
    assert target.inserted_keys() == [r["petition_number"] for r in RECORDS]


def test_a_server_that_keeps_failing_gives_a_failed_report(api):
    api.failures = [(503, {})] * 10
    report = pull(page_config(api), MemoryTarget(["petition_number"]), retries=2)
    assert report.status == "failed"
    assert report.error_message.startswith("HTTP 503 from http://127.0.0.1:")
    assert report.error_message.endswith("(still failing after 2 retries)")


def test_a_refused_token_is_a_permanent_failure_without_retries_or_the_token(api):
    sleeps = []
    report = pull(page_config(api, token="wrong"), MemoryTarget(["petition_number"]),
                  sleep=sleeps.append)
    assert report.status == "failed" and sleeps == [] and len(api.requests) == 1
    assert "HTTP 401" in report.error_message and "check the token" in report.error_message
    assert "wrong" not in report.error_message + report.error_detail + "".join(report.log)


def test_other_client_errors_and_bad_bodies_are_source_errors(api):
    source = get("http_json")
    api.failures = [(404, {})]
    with pytest.raises(SourceError, match="HTTP 404 from") as caught:
        list(source.read(page_config(api), None, None))
    assert not isinstance(caught.value, TransientSourceError)
    api.body = b"<html>maintenance</html>"
    with pytest.raises(SourceError, match="did not answer JSON"):
        list(source.read(page_config(api), None, None))
    api.body = json.dumps({"result": {}}).encode()
    with pytest.raises(SourceError, match="the response has no 'result.records'"):
        list(source.read(page_config(api), None, None))


def test_a_timeout_is_transient(api):
    api.delay = 0.5
    with pytest.raises(TransientSourceError, match="no answer within 0.1 s"):
        list(get("http_json").read(page_config(api, timeout=0.1), None, None))


def test_no_pagination_reads_a_plain_list_and_discover_lists_its_fields(api):
    config = {"url": f"{api.base}/all", "token": TOKEN, "primary_key": ["petition_number"]}
    [stream] = get("http_json").discover(config)
    assert stream.name == "records" and stream.primary_key == ["petition_number"]
    assert stream.fields == list(RECORDS[0])
    assert len([i for i in get("http_json").read(config, stream, None) if isinstance(i, Row)]) == 23
