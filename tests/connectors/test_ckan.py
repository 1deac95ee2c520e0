"""The ``ckan`` source and the remote CKAN target against a live catalog (the test app on a loopback
port), and against a small fake of real CKAN (no change feed, ``_id`` rows, answers without counts)."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest

from connectors import Checkpoint, Row, Source, SourceError, Stream, TargetError, TransientSourceError
from connectors.sources import get
from connectors.sources.ckan import CkanSource
from connectors.targets import RemoteCkanTarget
from tests.connectors.helpers import MemoryTarget, sync
from tests.schemas.records_samples import petitions

KEY = "petition_number"


def by_key(records):
    return {r[KEY]: r for r in records}




@pytest.fixture
def peer(api, make, sysadmin):
    """The petition office's petitions in its DataStore (shared on conditions), 30 records."""
    office_admin = make.user("xfj-admin")
    office = make.department("ningshan-xfj", members={"admin": office_admin})
    dataset = make.dataset(office["id"], name="petitions", record_schema="petition@1")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token)
    resource_id = created.result["resource_id"]
    records = list(petitions(30, seed=11))
    written = api.call("datastore_upsert", {"resource_id": resource_id, "records": records}, token=sysadmin.token)
    assert written.result["inserted"] == 30
    return SimpleNamespace(resource_id=resource_id, records=records, admin=office_admin, dataset=dataset)


def source_config(live_url, peer, token, **extra):
    return {"url": live_url, "resource_id": peer.resource_id, "token": token, **extra}


def pull(config, target=None, **options):
    target = target if target is not None else MemoryTarget([KEY])
    return sync(get("ckan"), config, target, **options), target


# --- the source: change feed ------------------------------------------------------------------------


def test_the_change_feed_copies_every_record_and_ends_on_the_feed_cursor(api, live_url, peer):
    report, target = pull(source_config(live_url, peer, peer.admin.token, page_size=7), batch_size=10)
    assert report.succeeded, report.error_message
    assert (report.read, report.inserted) == (30, 30)
    assert target.records == by_key(peer.records)  # _seq, _key, _deleted stripped
    feed = api.call("datastore_changes", {"resource_id": peer.resource_id, "limit": 10000},
                    token=peer.admin.token).result
    assert report.state == {"cursor": feed["next_cursor"]}
    assert report.stream == peer.resource_id


def test_change_feed_pages_carry_a_checkpoint_each_and_rows_are_numbered_by_change(live_url, peer):
    items = list(CkanSource().read(source_config(live_url, peer, peer.admin.token, page_size=12),
                                   Stream(peer.resource_id), None))
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    rows = [i for i in items if isinstance(i, Row)]
    assert len(checkpoints) == 3 and all("cursor" in c.state for c in checkpoints)
    assert [r.row_number for r in rows] == list(range(1, 31))  # the peer's _seq
    assert not any(name.startswith("_") for row in rows for name in row.data)


def test_an_incremental_run_resumes_from_the_cursor_and_applies_the_peers_deletions(api, live_url, peer, sysadmin):
    config = source_config(live_url, peer, peer.admin.token)
    first, target = pull(config, mode="incremental")
    assert first.succeeded and first.inserted == 30
    changed = [dict(r, category="道路交通") for r in peer.records[:2]]
    new = list(petitions(31, seed=11))[30]
    assert new[KEY] not in by_key(peer.records)
    api.call("datastore_upsert", {"resource_id": peer.resource_id, "records": changed + [new]}, token=sysadmin.token)
    gone = peer.records[5][KEY]
    deleted = api.call("datastore_delete", {"resource_id": peer.resource_id, "filters": {KEY: gone}},
                       token=sysadmin.token)
    assert deleted.result["deleted"] == 1

    second, target = pull(config, target, mode="incremental")
    assert second.succeeded, second.error_message
    assert second.start_state == first.state and second.state != first.state
    assert (second.read, second.inserted, second.updated, second.deleted) == (3, 1, 2, 1)
    assert target.records[changed[0][KEY]]["category"] == "道路交通"
    assert gone not in target.records
    assert target.records == by_key(api.call("datastore_search", {"resource_id": peer.resource_id, "limit": 100},
                                             token=sysadmin.token).result["records"])

    # a complete read with write: mirror finds nothing left to delete
    mirror, target = pull(config, target, mode="full_refresh", write="mirror")
    assert mirror.succeeded and (mirror.deleted, mirror.unchanged) == (0, 30)


def test_a_record_deleted_and_written_again_on_the_peer_survives_the_pull(api, live_url, peer, sysadmin):
    """The feed's order is kept: delete then re-insert in one read ends with the record present."""
    config = source_config(live_url, peer, peer.admin.token)
    first, target = pull(config, mode="incremental")
    assert first.succeeded
    again = dict(peer.records[3], category="城乡建设")
    api.call("datastore_delete", {"resource_id": peer.resource_id, "filters": {KEY: again[KEY]}},
             token=sysadmin.token)
    api.call("datastore_upsert", {"resource_id": peer.resource_id, "records": [again]}, token=sysadmin.token)
    api.call("datastore_delete", {"resource_id": peer.resource_id, "filters": {KEY: peer.records[4][KEY]}},
             token=sysadmin.token)

    second, target = pull(config, target, mode="incremental", batch_size=1000)
    assert second.succeeded, second.error_message
    assert second.deleted == 1  # the first tombstone of records[3] is superseded by its re-insert
    assert target.records[again[KEY]]["category"] == "城乡建设"
    assert peer.records[4][KEY] not in target.records


# --- the source: datastore_search ---------------------------------------------------------------------


def test_datastore_search_mode_pages_by_offset_and_ends_ready_for_a_full_read(live_url, peer):
    config = source_config(live_url, peer, peer.admin.token, use_changes=False, page_size=8)
    report, target = pull(config, mode="incremental")
    assert report.succeeded, report.error_message
    assert (report.read, report.inserted) == (30, 30) and target.records == by_key(peer.records)
    assert report.state == {"offset": 0}  # the next run reads everything again
    items = list(CkanSource().read(config, Stream(peer.resource_id), None))
    assert [i.state for i in items if isinstance(i, Checkpoint)] == [{"offset": 8}, {"offset": 16},
                                                                     {"offset": 24}, {"offset": 0}]
    again, _ = pull(config, target, mode="incremental")
    assert (again.read, again.unchanged) == (30, 30)


def test_datastore_search_resumes_from_an_offset_state(live_url, peer):
    config = source_config(live_url, peer, peer.admin.token, use_changes=False, page_size=8)
    rows = [i for i in CkanSource().read(config, Stream(peer.resource_id), {"offset": 20}) if isinstance(i, Row)]
    assert [r.row_number for r in rows] == list(range(21, 31))
    everything = sorted(r[KEY] for r in peer.records)  # this catalog sorts by primary key
    assert [r.data[KEY] for r in rows] == everything[20:]


def test_discover_names_the_stream_after_the_resource_with_fields_and_key(live_url, peer):
    [stream] = CkanSource().discover(source_config(live_url, peer, peer.admin.token))
    assert stream.name == peer.resource_id
    assert stream.primary_key == [KEY]
    assert {KEY, "petitioner", "accepted_on", "status"} <= set(stream.fields)


# --- the source: refusals -----------------------------------------------------------------------------


def test_the_peer_refusing_the_token_fails_the_run_with_the_peers_message(live_url, peer, make):
    stranger = make.user("mzj-editor")
    make.department("ningshan-mzj", members={"editor": stranger})
    for use_changes in ("auto", False):
        report, target = pull(source_config(live_url, peer, stranger.token, use_changes=use_changes))
        assert report.status == "failed" and report.retries == 0 and target.writes == 0
        assert "the peer refused the token (HTTP 403" in report.error_message
        assert "shared on conditions (有条件共享); request access with share_request_create" in report.error_message
        assert stranger.token not in report.error_message + report.error_detail + "".join(report.log)

    bogus, _ = pull(source_config(live_url, peer, "not-a-token"))
    assert bogus.status == "failed" and "The API token is not valid (unknown or revoked)" in bogus.error_message

    config = source_config(live_url, peer, None)
    del config["token"]
    anonymous, _ = pull(config)
    assert anonymous.status == "failed"
    assert "no token is configured" in anonymous.error_message and "give an API token" in anonymous.error_message


def test_an_unknown_resource_is_a_clear_error(live_url, peer):
    config = {"url": live_url, "resource_id": "no-such-resource", "token": peer.admin.token}
    report, _ = pull(config)
    assert report.status == "failed" and report.retries == 0
    assert report.error_message.startswith("resource not found on the peer: no-such-resource")
    with pytest.raises(SourceError, match="resource not found on the peer"):
        CkanSource().discover(config)


def test_the_config_is_checked_without_calling_the_peer():
    source = CkanSource()
    source.check({"url": "https://data.example.gov.cn", "resource_id": "r1", "use_changes": "auto"})
    with pytest.raises(SourceError, match="resource_id"):
        source.check({"url": "https://data.example.gov.cn"})
    with pytest.raises(SourceError, match="use_changes"):
        source.check({"url": "https://data.example.gov.cn", "resource_id": "r1", "use_changes": "yes"})
    with pytest.raises(SourceError, match="page_size"):
        source.check({"url": "https://data.example.gov.cn", "resource_id": "r1", "page_size": 20000})


# --- the target, on the live catalog ------------------------------------------------------------------


@pytest.fixture
def copy(api, make, sysadmin):
    """Civil affairs' own petition table, the target of the pushes."""
    editor = make.user("mzj-copy-editor")
    department = make.department("ningshan-mzj", members={"editor": editor})
    dataset = make.dataset(department["id"], name="petitions-copy", record_schema="petition@1")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token)
    return SimpleNamespace(resource_id=created.result["resource_id"], editor=editor)


def remote_records(api, resource_id, token):
    found = api.call("datastore_search", {"resource_id": resource_id, "limit": 1000}, token=token).result
    return by_key(found["records"])


def test_push_into_another_datastore_then_a_repeat_is_unchanged(api, live_url, peer, copy, tmp_path):
    state_file = tmp_path / "sync" / "petitions-copy.json"
    target = RemoteCkanTarget(live_url, copy.resource_id, copy.editor.token, [KEY], state_file)
    config = source_config(live_url, peer, peer.admin.token, page_size=9)
    report, _ = pull(config, target, mode="incremental", batch_size=10)
    assert report.succeeded, report.error_message
    assert (report.read, report.inserted, report.batches) == (30, 30, 3)
    assert remote_records(api, copy.resource_id, copy.editor.token) == by_key(peer.records)
    saved = json.loads(state_file.read_text(encoding="utf-8"))
    assert saved["state"] == report.state and saved["resource_id"] == copy.resource_id
    assert target.state() == report.state

    feed = api.call("datastore_changes", {"resource_id": copy.resource_id, "limit": 10000},
                    token=copy.editor.token).result
    again, _ = pull(config, target, mode="full_refresh")
    assert again.succeeded and (again.read, again.unchanged, again.inserted, again.updated) == (30, 30, 0, 0)
    later = api.call("datastore_changes", {"resource_id": copy.resource_id, "cursor": feed["next_cursor"]},
                     token=copy.editor.token).result
    assert later["changes"] == []  # nothing was written on the peer


def test_a_refused_batch_names_rows_and_fields_and_keeps_the_old_state(live_url, peer, copy, tmp_path):
    target = RemoteCkanTarget(live_url, copy.resource_id, copy.editor.token, [KEY], tmp_path / "state.json")
    good = peer.records[:3]
    assert target.write([(n, r) for n, r in enumerate(good, 1)], [], {"cursor": "first"}).inserted == 3
    bad = dict(peer.records[3], accepted_on="2026-13-45")
    with pytest.raises(TargetError) as refused:
        target.write([(7, peer.records[4]), (8, bad)], [], {"cursor": "second"})
    assert "the peer refused the datastore_upsert (HTTP 409)" in str(refused.value)
    assert "row 8 accepted_on:" in str(refused.value)
    assert target.state() == {"cursor": "first"}
    # append: a key the peer already has is a conflict
    with pytest.raises(TargetError, match="row 1: a record with key .* already exists"):
        target.write([(1, good[0])], [], None, method="append")


def test_mirror_deletes_on_the_peer_what_the_source_no_longer_has(api, live_url, peer, copy, tmp_path, sysadmin):
    target = RemoteCkanTarget(live_url, copy.resource_id, copy.editor.token, KEY, tmp_path / "state.json",
                              delete_chunk=1, page_size=7)
    config = source_config(live_url, peer, peer.admin.token)
    assert pull(config, target)[0].inserted == 30
    gone = [peer.records[1][KEY], peer.records[2][KEY]]
    api.call("datastore_delete", {"resource_id": peer.resource_id, "filters": {KEY: gone}}, token=sysadmin.token)
    report, _ = pull(config, target, write="mirror")
    assert report.succeeded, report.error_message
    assert (report.unchanged, report.deleted) == (28, 2)
    left = remote_records(api, copy.resource_id, copy.editor.token)
    assert len(left) == 28 and not set(gone) & set(left)


def test_rejected_rows_are_kept_beside_the_state_file(live_url, peer, copy, tmp_path):
    target = RemoteCkanTarget(live_url, copy.resource_id, copy.editor.token, [KEY], tmp_path / "state.json")
    mapping = {"dates": ["accepted_on"]}
    broken = [dict(r) for r in peer.records]
    report = sync(_ListSource(broken[:4] + [dict(broken[4], accepted_on="2026年13月45日")]), {}, target,
                  mapping=mapping, stream=Stream("list"))
    assert (report.inserted, report.quarantined) == (4, 1)
    [kept] = [json.loads(line) for line in (tmp_path / "state.json.rejected.jsonl").read_text().splitlines()]
    assert kept["row_number"] == 5 and kept["errors"][0]["field"] == "accepted_on"


def test_the_target_reports_a_refused_token_and_an_unknown_resource(live_url, peer, copy, make, tmp_path):
    outsider = make.user("outsider")
    target = RemoteCkanTarget(live_url, copy.resource_id, outsider.token, [KEY], tmp_path / "a.json")
    with pytest.raises(TargetError, match="the peer refused the token \\(HTTP 403.*You cannot write records"):
        target.write([(1, peer.records[0])], [], {"cursor": "x"})
    assert target.state() is None
    missing = RemoteCkanTarget(live_url, "no-such-resource", copy.editor.token, [KEY], tmp_path / "b.json")
    with pytest.raises(TargetError, match="resource not found on the peer: no-such-resource"):
        missing.write([(1, peer.records[0])], [], None)


class _ListSource(Source):
    """Rows from a list (to feed the remote target through the engine without a peer source)."""

    name = "list"

    def __init__(self, rows):
        self.rows = rows

    def spec(self):
        return {"type": "object"}

    def discover(self, config):
        return [Stream("list")]

    def read(self, config, stream, state):
        for number, row in enumerate(self.rows, 1):
            yield Row(row, number)


# --- a fake of real CKAN ------------------------------------------------------------------------------


class FakeCkan:
    """Real CKAN's answers: no datastore_changes (400), rows with _id, sort=_id, upserts without counts."""

    def __init__(self):
        self.records = [dict(r, _id=i) for i, r in enumerate(petitions(12, seed=4), 1)]
        self.failures: list[tuple[int, dict[str, str]]] = []
        self.calls: list[tuple[str, dict]] = []
        self.delay = 0.0


class FakeHandler(BaseHTTPRequestHandler):
    ckan: FakeCkan

    def log_message(self, *args):
        pass

    def _send(self, status, payload, headers=None):
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=utf-8")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        ckan, name = self.ckan, self.path.rsplit("/", 1)[-1]
        data = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
        ckan.calls.append((name, data))
        if ckan.delay:
            time.sleep(ckan.delay)
        if ckan.failures:
            status, headers = ckan.failures.pop(0)
            return self._send(status, {"success": False, "error": {"message": "Service Unavailable"}}, headers)
        if name == "datastore_changes":
            return self._send(400, {"success": False, "error": {
                "message": "Bad request - Action name not known: datastore_changes"}})
        if name == "datastore_search":
            start, limit = data.get("offset", 0), data.get("limit", 100)
            fields = [{"id": "_id", "type": "int"}, {"id": KEY, "type": "text"}]
            return self._send(200, {"success": True, "result": {
                "records": ckan.records[start:start + limit], "fields": fields}})
        if name == "datastore_upsert":
            return self._send(200, {"success": True, "result": {
                "method": data["method"], "resource_id": data["resource_id"], "records": data["records"]}})
        return self._send(400, {"success": False, "error": {"message": f"Bad request - Action name not known: {name}"}})


class QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is part of the tests


@pytest.fixture
def fake_ckan():
    state = FakeCkan()
    server = QuietServer(("127.0.0.1", 0), type("Bound", (FakeHandler,), {"ckan": state}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_real_ckan_is_read_with_datastore_search_sorted_by_id(fake_ckan):
    config = {"url": fake_ckan.url + "/api/3/action", "resource_id": "r1", "page_size": 5}
    report, target = pull(config, stream=Stream("r1"))
    assert report.succeeded, report.error_message
    assert report.read == 12 and report.state == {"offset": 0}
    assert all("_id" not in r for r in target.records.values())
    assert [name for name, _ in fake_ckan.calls] == ["datastore_changes"] + ["datastore_search"] * 3
    assert [(d["sort"], d["offset"]) for _, d in fake_ckan.calls[1:]] == [("_id", 0), ("_id", 5), ("_id", 10)]
    [stream] = CkanSource().discover(config)  # datastore_info unknown: the fields of datastore_search
    assert stream.fields == [KEY] and stream.primary_key == []


def test_use_changes_true_on_real_ckan_says_the_feed_is_missing(fake_ckan):
    with pytest.raises(SourceError, match="the peer does not offer datastore_changes .* use_changes"):
        list(CkanSource().read({"url": fake_ckan.url, "resource_id": "r1", "use_changes": True}, None, None))


def test_transient_failures_are_retried_and_timeouts_are_transient(fake_ckan):
    fake_ckan.failures = [(503, {}), (429, {"Retry-After": "3"})]
    sleeps = []
    report, _ = pull({"url": fake_ckan.url, "resource_id": "r1", "use_changes": False}, sleep=sleeps.append)
    assert report.succeeded and report.retries == 2 and sleeps == [1.0, 3.0]
    fake_ckan.failures = [(500, {})] * 5
    failed, _ = pull({"url": fake_ckan.url, "resource_id": "r1", "use_changes": False}, retries=1)
    assert failed.status == "failed" and "still failing after 1 retries" in failed.error_message
    fake_ckan.failures, fake_ckan.delay = [], 0.5
    with pytest.raises(TransientSourceError, match="no answer within 0.1 s"):
        list(CkanSource().read({"url": fake_ckan.url, "resource_id": "r1", "timeout": 0.1}, None, None))


def test_the_target_counts_every_record_as_updated_when_ckan_gives_no_counts(fake_ckan, tmp_path):
    sleeps = []
    target = RemoteCkanTarget(fake_ckan.url, "r1", "tok", [KEY], tmp_path / "s.json", sleep=sleeps.append)
    records = [(n, {KEY: f"XF-{n:06d}"}) for n in range(1, 4)]
    fake_ckan.failures = [(502, {})]
    counts = target.write(records, [], {"offset": 3})
    assert (counts.inserted, counts.updated, counts.unchanged) == (0, 3, 0) and sleeps == [1.0]
    assert target.write(records, [], None, method="append").inserted == 3
    assert [data["method"] for name, data in fake_ckan.calls if name == "datastore_upsert"] == \
        ["upsert", "upsert", "insert"]
    fake_ckan.failures = [(503, {})] * 10
    with pytest.raises(TargetError, match="still failing after 3 retries"):
        target.write(records, [], {"offset": 99})
    assert target.state() == {"offset": 3}


def test_a_peer_table_created_again_refuses_the_old_cursor_and_the_pull_reads_from_the_start(
        api, live_url, peer, sysadmin):
    config = source_config(live_url, peer, peer.admin.token)
    first, target = pull(config, mode="incremental")
    assert first.succeeded and first.inserted == 30
    old_cursor = first.state["cursor"]
    # the peer drops its table and loads a new one: its changes are numbered from 1 again
    assert api.call("datastore_delete", {"resource_id": peer.resource_id}, token=sysadmin.token).status == 200
    fresh = list(petitions(40, seed=99))[:5]
    api.call("datastore_create", {"resource_id": peer.resource_id, "records": fresh}, token=sysadmin.token)
    refused = api.call("datastore_changes", {"resource_id": peer.resource_id, "cursor": old_cursor},
                       token=sysadmin.token)
    assert refused.status == 409 and "earlier DataStore table" in refused.error["cursor"][0]

    second, target = pull(config, target, mode="incremental")
    assert second.succeeded, second.error_message
    assert second.read == 5  # nothing skipped for a cursor past the new numbers
    assert all(target.records[r[KEY]] == r for r in fresh)
    assert any("reading its change feed from the start" in line for line in second.log)
