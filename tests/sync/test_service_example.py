"""docs/examples/service-cases-api.yml run against a fake government service platform: a paged JSON API
behind an API key, whose cases leave out what the platform thinks obvious (caseState on cases moved from
the old platform, promiseDays on 马上办 cases, applicantType on natural persons), end with a re-export of
0.5 % of the cases and hold 2 % bad rows. The computed fields restore what the export only implies."""
from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from catalog.db import get_db
from catalog.sync import service as sync_service
from tests.schemas.records_samples import services
from tests.sync.helpers import connection
from tests.sync.test_examples import EXAMPLES, create_from_example, stored

KEY = "platform-key-123"
CHANNELS = {"immediate": "马上办", "online": "网上办", "nearby": "就近办", "once": "一次办"}
STATES = {"accepted": "受理", "processing": "办理中", "completed": "办结", "rejected": "不予受理", "returned": "退件"}
GRADES = {"very_satisfied": "非常满意", "satisfied": "满意", "basically_satisfied": "基本满意",
          "dissatisfied": "不满意", "very_dissatisfied": "非常不满意"}


def platform_time(value: str) -> str:
    """2026-03-02T09:30:00+08:00 as the platform writes it: 2026-03-02 09:30:00 (Beijing time, no zone)."""
    return value[:19].replace("T", " ")


def platform_row(record: dict, index: int) -> dict:
    applicant = record["applicant"]
    row = {"itemCode": record["item_code"], "itemName": record["item_name"], "caseNo": record["case_number"],
           "applicantName": applicant["name"], "applicantIdNo": applicant.get("id_number"),
           "creditCode": applicant.get("credit_code"), "applicantMobile": applicant.get("phone"),
           "deptName": record["department"], "handleChannel": CHANNELS[record["channel"]],
           "acceptTime": platform_time(record["accepted_at"]), "promiseDays": str(record["promised_days"]),
           "finishTime": platform_time(record["completed_at"]) if "completed_at" in record else None,
           "caseState": STATES[record["status"]], "returnReason": record.get("reason"),
           "evaluation": GRADES.get(record.get("satisfaction"))}
    if applicant["type"] == "organisation" and index % 2:
        row["applicantType"] = "2"  # sent for half the organisations; the credit code tells the others
    if record["channel"] == "immediate":
        row["promiseDays"] = ""  # 马上办: no promise written
    if record["status"] in ("completed", "processing") and index % 4 == 0:
        row["caseState"] = None  # moved over from the old platform
    return row


class Platform(BaseHTTPRequestHandler):
    rows: list[dict] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        url, query = urlsplit(self.path), parse_qs(urlsplit(self.path).query)
        if self.headers.get("X-Api-Key") != KEY or url.path != "/api/v1/cases" or query.get("areaCode") != ["610923"]:
            body, status = {"code": 401, "msg": "无效的接口密钥"}, 401
        else:
            page, size = int(query["pageNo"][0]), int(query["pageSize"][0])
            body, status = {"code": 0, "data": {"list": self.rows[(page - 1) * size: page * size],
                                                "total": len(self.rows)}}, 200
        data = json.dumps(body, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def platform():
    handler = type("Served", (Platform,), {"rows": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    handler.base = f"http://127.0.0.1:{server.server_address[1]}/api/v1"
    yield handler
    server.shutdown()
    server.server_close()
    thread.join()


def moment(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def test_the_service_platform_example_restores_status_promise_and_applicant_type(api, app, make, sysadmin,
                                                                                    platform):
    center = make.department("ningshan-zwfw")
    make.dataset(center["id"], name="service-cases", record_schema="service@1")
    records = list(services(400, seed=15))
    rows = [platform_row(record, index) for index, record in enumerate(records)]
    bad = {records[i]["case_number"] for i in range(5, 400, 50)}  # 8 rows, 2 %
    for i in range(5, 400, 50):
        rows[i]["acceptTime"] = "2026-13-45 09:00:00"
    # a re-export of 0.5 % of the cases at the end: completed since, and rated
    later = {}
    for i in (10, 20):
        record = records[i]
        done = moment(record["accepted_at"]) + dt.timedelta(days=1)
        later[record["case_number"]] = {"status": "completed", "completed_at": done, "satisfaction": "satisfied"}
        rows.append({**rows[i], "caseState": "办结", "finishTime": platform_time(done.isoformat()),
                     "evaluation": "满意"})
    platform.rows = rows
    connection(api, sysadmin.token, "zwfw-platform", "http",
               {"url": platform.base, "token": KEY, "token_header": "X-Api-Key"}, [center["id"]])
    name = create_from_example(app, EXAMPLES / "service-cases-api.yml")

    first = sync_service.run_job(get_db(app), name)
    assert first.status == "succeeded_with_errors", first.error_message  # 2 % bad, under the 50 % default
    counts = first.counts
    assert (counts["read"], counts["superseded"], counts["quarantined"]) == (402, 2, 8)
    assert counts["read"] == sum(counts[k] for k in ("inserted", "updated", "unchanged", "quarantined", "skipped",
                                                     "superseded"))
    found, resource_id = stored(api, sysadmin.token, "service-cases")
    found = {r["case_number"]: r for r in found}
    assert set(found) == {r["case_number"] for r in records} - bad
    for record in records:
        number = record["case_number"]
        if number in bad:
            continue
        case = found[number]
        expected = later.get(number, {"status": record["status"]})
        assert case["status"] == expected["status"], number  # told by finishTime when caseState is empty
        assert case["promised_days"] == record["promised_days"]  # 0 for 马上办
        assert case["applicant"]["type"] == record["applicant"]["type"]
        assert moment(case["accepted_at"]) == moment(record["accepted_at"])
        if number in later:
            assert moment(case["completed_at"]) == later[number]["completed_at"]
            assert case["satisfaction"] == "satisfied"
    # the rerun of the unchanged platform writes nothing and adds nothing to the feed
    feed = api.call("datastore_changes", {"resource_id": resource_id, "limit": 10000}, token=sysadmin.token).result
    again = sync_service.run_job(get_db(app), name)
    assert (again.counts["inserted"], again.counts["updated"], again.counts["deleted"]) == (0, 0, 0)
    assert again.counts["unchanged"] == len(found)
    later_feed = api.call("datastore_changes", {"resource_id": resource_id, "cursor": feed["next_cursor"]},
                          token=sysadmin.token).result
    assert later_feed["changes"] == []
