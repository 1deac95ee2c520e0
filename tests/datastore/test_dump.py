"""The streaming dump /datastore/dump/<resource_id>?format=csv|json&bom=true."""
from __future__ import annotations

import csv
import io
import json

import pytest

from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.schemas.records_samples import households

FIELDS = [{"id": "code", "type": "text"}, {"id": "name", "type": "text"}, {"id": "n", "type": "int"},
          {"id": "ok", "type": "bool"}, {"id": "extra", "type": "json"}]
ROWS = [
    {"code": "a1", "name": "王芳", "n": 3, "ok": True, "extra": {"members": ["王芳", "李强"], "村": "东河村"}},
    {"code": "a2", "name": "Li, \"Qiang\"\n2nd line", "n": 0, "ok": False, "extra": [1, 2]},
    {"code": "a3", "name": "张伟"},
]


def _table(api, make, org, records, fields=None, **dataset) -> str:
    values = {"share_type": "unconditional", "share_condition": None, **dataset}
    dataset_id = make.dataset(org.id, **values)["id"]
    params = {"resource": {"package_id": dataset_id}}
    params.update({"fields": fields, "primary_key": "code"} if fields else {})
    created = api.call("datastore_create", params, token=org.editor.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    if records:
        written = api.call("datastore_upsert", {"resource_id": resource_id, "records": records},
                           token=org.editor.token)
        assert written.status == 200, written.body
    return resource_id


def _get(client, resource_id, token=None, **params):
    headers = {"Authorization": token} if token else {}
    return client.get(f"/datastore/dump/{resource_id}", query_string=params, headers=headers)


@pytest.fixture
def small(api, make, org) -> str:
    return _table(api, make, org, ROWS, FIELDS, record_schema=None)


def test_csv_dump_has_a_header_and_every_record(client, small, org):
    reply = _get(client, small, org.member.token)
    assert reply.status_code == 200
    assert reply.mimetype == "text/csv"
    assert f'filename="{small}.csv"' in reply.headers["Content-Disposition"]
    text = reply.get_data(as_text=True)
    assert not text.startswith("\ufeff")
    assert "\r\n" in text, "CRLF line ends, as Excel writes"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["code", "name", "n", "ok", "extra"]
    assert rows[1][:4] == ["a1", "王芳", "3", "true"]
    assert rows[2] == ["a2", 'Li, "Qiang"\n2nd line', "0", "false", "[1, 2]"]
    assert rows[3] == ["a3", "张伟", "", "", ""]
    assert len(rows) == 4
    assert json.loads(rows[1][4]) == ROWS[0]["extra"], "nested values are JSON (key order is the database's)"
    assert '"村": "东河村"' in rows[1][4], "Chinese is written as is"


def test_csv_is_the_default_format(client, small, org):
    reply = _get(client, small, org.member.token)
    assert reply.mimetype == "text/csv"


@pytest.mark.parametrize("flag", ["true", "1", "yes", "True"])
def test_bom_on_request(client, small, org, flag):
    data = _get(client, small, org.member.token, format="csv", bom=flag).get_data()
    assert data.startswith(b"\xef\xbb\xbfcode,name")
    assert data.decode("utf-8-sig").splitlines()[1].startswith("a1,王芳")


def test_no_bom_unless_asked(client, small, org):
    for flag in ("false", "0", ""):
        assert _get(client, small, org.member.token, bom=flag).get_data().startswith(b"code,")


def test_json_dump(client, small, org):
    reply = _get(client, small, org.member.token, format="json")
    assert reply.status_code == 200
    assert reply.mimetype == "application/json"
    assert f'filename="{small}.json"' in reply.headers["Content-Disposition"]
    assert json.loads(reply.get_data(as_text=True)) == ROWS
    assert "王芳" in reply.get_data(as_text=True), "Chinese is written as is"


def test_json_dump_of_an_empty_table(api, client, make, org):
    empty = _table(api, make, org, [], FIELDS)
    assert json.loads(_get(client, empty, org.member.token, format="json").get_data()) == []
    assert _get(client, empty, org.member.token).get_data(as_text=True).strip() == "code,name,n,ok,extra"


def test_a_few_thousand_household_records(api, client, make, org):
    records = list(households(2600, seed=17))  # more than one chunk of the stream
    resource_id = _table(api, make, org, None, record_schema="household@1")
    for start in range(0, len(records), 1000):
        reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": records[start:start + 1000]},
                         token=org.editor.token)
        assert reply.status == 200, reply.body
    dumped = json.loads(_get(client, resource_id, org.member.token, format="json").get_data(as_text=True))
    assert len(dumped) == len(records)
    assert dumped == sorted(records, key=lambda r: r["household_number"]), "complete, exact, in key order"

    text = _get(client, resource_id, org.member.token, format="csv", bom="true").get_data().decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == len(records)
    by_number = {r["household_number"]: r for r in records}
    for row in rows[::250]:
        record = by_number[row["household_number"]]
        assert json.loads(row["members"]) == record["members"]
        assert row["head_name"] == record["head_name"]
        assert row["last_visit_date"] == record.get("last_visit_date", "")


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_the_dump_in_small_chunks_is_complete_and_in_key_order(api, client, make, org, monkeypatch, chunk):
    from catalog.datastore import query

    monkeypatch.setattr(query, "DUMP_CHUNK", chunk)
    records = [{"code": f"k{n:02d}", "n": n} for n in (7, 3, 11, 1, 9, 5, 2)]
    resource_id = _table(api, make, org, records, FIELDS)
    api.call("datastore_delete", {"resource_id": resource_id, "filters": {"code": ["k03", "k09"]}},
             token=org.editor.token)
    dumped = json.loads(_get(client, resource_id, org.member.token, format="json").get_data())
    assert [r["code"] for r in dumped] == ["k01", "k02", "k05", "k07", "k11"]
    rows = list(csv.reader(io.StringIO(_get(client, resource_id, org.member.token).get_data(as_text=True))))
    assert [r[0] for r in rows[1:]] == ["k01", "k02", "k05", "k07", "k11"]


def test_deleted_records_are_not_dumped(api, client, small, org):
    api.call("datastore_delete", {"resource_id": small, "filters": {"code": "a2"}}, token=org.editor.token)
    dumped = json.loads(_get(client, small, org.member.token, format="json").get_data())
    assert [r["code"] for r in dumped] == ["a1", "a3"]


@pytest.mark.parametrize("fmt", ["xml", "xlsx", "CSV;DROP"])
def test_unknown_format_is_a_bad_request(client, small, org, fmt):
    reply = _get(client, small, org.member.token, format=fmt)
    assert reply.status_code == 400


def test_upper_case_format_is_understood(client, small, org):
    assert _get(client, small, org.member.token, format="JSON").mimetype == "application/json"


def test_a_resource_without_table_is_not_found(api, client, make, org):
    dataset = make.dataset(org.id)
    resource = api.call("resource_create", {"package_id": dataset["id"], "url": "http://example.gov.cn/a.csv"},
                        token=org.editor.token).result
    assert _get(client, resource["id"], org.editor.token).status_code == 404
    assert _get(client, "no-such-resource", org.editor.token).status_code == 404


def test_a_dropped_table_is_not_found(api, client, small, org):
    api.call("datastore_delete", {"resource_id": small}, token=org.editor.token)
    assert _get(client, small, org.editor.token).status_code == 404


def test_readers_without_rights_get_not_found(api, client, make, org):
    conditional = _table(api, make, org, ROWS, FIELDS, share_type="conditional",
                         share_condition="仅限民政部门使用")
    reader = make.user("rsj-reader")
    make.department("rsj", members={"member": reader})
    for token in (None, org.outsider.token, reader.token):
        reply = _get(client, conditional, token)
        assert reply.status_code == 404, token
        assert "王芳" not in reply.get_data(as_text=True)
    # the owner's member and a sysadmin get it
    assert _get(client, conditional, org.member.token).status_code == 200
    assert _get(client, conditional, org.sysadmin.token).status_code == 200


def test_private_datasets_are_not_dumped_to_others(api, client, make, org):
    private = _table(api, make, org, ROWS, FIELDS, private=True)
    reader = make.user("rsj-reader")
    make.department("rsj", members={"member": reader})
    assert _get(client, private, reader.token).status_code == 404
    assert _get(client, private, None).status_code == 404
    assert _get(client, private, org.member.token).status_code == 200


def test_another_department_dumps_an_unconditional_dataset(api, client, make, org, small):
    reader = make.user("rsj-reader")
    make.department("rsj", members={"member": reader})
    reply = _get(client, small, reader.token, format="json")
    assert reply.status_code == 200
    assert [r["code"] for r in json.loads(reply.get_data())] == ["a1", "a2", "a3"]


def test_a_bad_token_is_not_found_rather_than_an_error(client, small):
    assert _get(client, small, "cat_not-a-real-token").status_code in (403, 404)
