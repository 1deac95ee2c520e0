"""The flag (标注) on records under an open correction request, on every read path, and its lifting (撤销标注)."""
from __future__ import annotations

import csv
import io
import json

from tests.objections.conftest import PEOPLE


def file(api, county, who="mzj_editor", **data):
    values = {"package_id": county.shops["id"], "organization_id": county.mzj["id"], "resource_id": county.shops_rid,
              "fields": ["name"], "reason": "店名与营业执照不符"}
    values.update(data)
    return api.call("objection_create", values, token=getattr(county, who).token)


def search(api, token, resource_id, **params):
    reply = api.call("datastore_search", {"resource_id": resource_id, **params}, token=token)
    assert reply.status == 200, reply.body
    return reply.result["records"]


def changes(api, token, resource_id):
    reply = api.call("datastore_changes", {"resource_id": resource_id}, token=token)
    assert reply.status == 200, reply.body
    return reply.result["changes"]


def dump(client, token, resource_id, fmt):
    reply = client.get(f"/datastore/dump/{resource_id}", query_string={"format": fmt},
                       headers={"Authorization": token})
    assert reply.status_code == 200
    text = reply.get_data(as_text=True)
    return json.loads(text) if fmt == "json" else list(csv.DictReader(io.StringIO(text)))


def flagged(records, key="code"):
    return {r[key]: r.get("_objection") for r in records if r.get("_objection")}


def test_flags_appear_on_search_changes_and_dumps_and_are_lifted_when_resolved(api, client, county):
    made = file(api, county, keys=["s1", "s3"])
    assert made.status == 200, made.body
    flag = {"id": made.result["id"], "status": "open"}
    reader = county.town_editor.token  # a third department reading the unconditional dataset sees the flag alone
    assert flagged(search(api, reader, county.shops_rid)) == {"s1": flag, "s3": flag}
    # a page without the key fields is flagged all the same, and keeps only the fields asked for
    assert [r.get("_objection") for r in search(api, reader, county.shops_rid, fields="name")] == [flag, None, flag]
    assert set(search(api, reader, county.shops_rid, fields="name")[0]) == {"name", "_objection"}
    assert flagged(changes(api, reader, county.shops_rid)) == {"s1": flag, "s3": flag}
    assert flagged(dump(client, reader, county.shops_rid, "json")) == {"s1": flag, "s3": flag}
    rows = dump(client, reader, county.shops_rid, "csv")
    assert [json.loads(r["_objection"]) if r["_objection"] else None for r in rows] == [flag, None, flag]

    assert api.call("objection_accept", {"id": flag["id"]}, token=county.gaj_editor.token).status == 200
    assert flagged(search(api, reader, county.shops_rid))["s1"] == {"id": flag["id"], "status": "accepted"}

    done = api.call("objection_resolve", {"id": flag["id"], "outcome": "confirmed_correct", "note": "经核实无误"},
                    token=county.gaj_editor.token)
    assert done.status == 200, done.body
    assert flagged(search(api, reader, county.shops_rid)) == {}
    assert flagged(changes(api, reader, county.shops_rid)) == {}
    assert flagged(dump(client, reader, county.shops_rid, "json")) == {}
    assert "_objection" not in dump(client, reader, county.shops_rid, "csv")[0], "no column once none is open"


def test_the_owner_s_json_dump_and_feed_flag_the_covered_records_and_give_the_others_as_written(api, client, county):
    # The owner department sees the records as stored: its dump and feed send the stored JSON text
    # (catalog/api/rawjson.py), and a covered record still comes with its flag
    made = file(api, county, keys=["s2"])
    assert made.status == 200, made.body
    flag = {"id": made.result["id"], "status": "open"}
    owner = county.gaj_member.token
    written = {r["code"]: r for r in search(api, owner, county.shops_rid)}
    dumped = dump(client, owner, county.shops_rid, "json")
    assert flagged(dumped) == {"s2": flag}
    assert {r["code"]: {k: v for k, v in r.items() if k != "_objection"} for r in dumped} == {
        code: {k: v for k, v in record.items() if k != "_objection"} for code, record in written.items()}
    fed = changes(api, owner, county.shops_rid)
    assert flagged(fed) == {"s2": flag}


def test_an_objection_to_the_whole_dataset_flags_every_record(api, client, county):
    made = file(api, county, resource_id=None)
    assert made.status == 200, made.body
    assert made.result["scope"] == "dataset"
    records = search(api, county.mzj_member.token, county.shops_rid)
    assert [r["_objection"]["id"] for r in records] == [made.result["id"]] * 3
    assert len(flagged(dump(client, county.mzj_member.token, county.shops_rid, "json"))) == 3


def test_a_filter_flags_the_records_it_matched_when_filed_and_not_later_ones(api, county):
    made = file(api, county, filters={"town": "城关镇"})
    assert made.status == 200, made.body
    assert sorted(made.result["keys"]) == [] and made.result["filters"] == {"town": "城关镇"}
    added = api.call("datastore_upsert", {"resource_id": county.shops_rid,
                                          "records": [{"code": "s4", "name": "新开超市", "town": "城关镇"}]},
                     token=county.gaj_editor.token)
    assert added.status == 200
    assert sorted(flagged(search(api, county.mzj_editor.token, county.shops_rid))) == ["s1", "s2"]


def test_flags_on_masked_records_carry_only_id_and_status(api, client, county):
    made = file(api, county, package_id=county.people["id"], resource_id=county.people_rid,
                filters={"town": "城关镇"}, fields=["allowance"], reason="低保金额与审批表不符",
                evidence="审批表编号 2026-031")
    assert made.status == 200, made.body
    records = search(api, county.mzj_member.token, county.people_rid)
    # in key order (the clear keys): 李强 …3456 before 王芳 …1234; the masked reader sees masked keys only
    assert [r["id_number"] for r in records if "_objection" in r] == ["610923********3456", "610923********1234"]
    for record in records:
        if "_objection" in record:
            assert record["_objection"] == {"id": made.result["id"], "status": "open"}
    owner = search(api, county.gaj_member.token, county.people_rid)
    assert sorted(r["id_number"] for r in owner if "_objection" in r) == sorted(
        p["id_number"] for p in PEOPLE if p["town"] == "城关镇")
    entries = changes(api, county.mzj_member.token, county.people_rid)
    assert sorted(e["_key"] for e in entries if "_objection" in e) == ["610923********1234", "610923********3456"]
    text = json.dumps(dump(client, county.mzj_member.token, county.people_rid, "json"), ensure_ascii=False)
    assert "低保金额" not in text and "审批表" not in text, "neither the reason nor the evidence travels with a flag"


def test_a_reader_without_a_grant_learns_nothing_of_an_objection(api, client, county):
    made = file(api, county, package_id=county.people["id"], resource_id=county.people_rid,
                filters={"town": "城关镇"}, fields=["allowance"])
    assert made.status == 200, made.body
    town = county.town_editor.token
    assert api.call("datastore_search", {"resource_id": county.people_rid}, token=town).status == 403
    assert api.call("datastore_changes", {"resource_id": county.people_rid}, token=town).status == 403
    assert client.get(f"/datastore/dump/{county.people_rid}", headers={"Authorization": town}).status_code == 404
    assert api.call("objection_show", {"id": made.result["id"]}, token=town).status == 404
    assert api.call("objection_list", {}, token=town).result == []
    assert api.call("objection_list", {"package_id": "people"}, token=town).result == []
    activity = api.call("package_activity_list", {"id": "people"}, token=town)
    assert made.result["id"] not in json.dumps(activity.body)


def test_one_query_flags_a_page_and_one_per_thousand_records_a_dump(app, api, client, county):
    import contextlib

    import sqlalchemy as sa

    from catalog.db import get_db

    records = [{"code": f"b{n:05d}", "name": f"商店{n}", "town": "城关镇"} for n in range(2500)]
    for start in range(0, 2500, 1000):
        written = api.call("datastore_upsert", {"resource_id": county.shops_rid, "records": records[start:start + 1000]},
                           token=county.gaj_editor.token)
        assert written.status == 200
    statements = []

    def seen(conn, cursor, statement, *args):
        # the table's own query asks whether any objection is open on it (a read pays each round trip)
        if "objection" in statement and not statement.startswith("SELECT datastore_table."):
            statements.append(statement)

    @contextlib.contextmanager
    def counting():
        statements.clear()
        sa.event.listen(get_db(app).engine, "before_cursor_execute", seen)
        try:
            yield
        finally:
            sa.event.remove(get_db(app).engine, "before_cursor_execute", seen)

    # Nobody objected yet: the table's query says so, and the page is read without a flags query.
    with counting():
        page = search(api, county.town_editor.token, county.shops_rid, limit=500)
    assert len(page) == 500 and not any("_objection" in r for r in page)
    assert statements == []
    assert file(api, county, keys=["b00001", "b02400"]).status == 200
    assert file(api, county, resource_id=None).status == 200
    with counting():
        page = search(api, county.town_editor.token, county.shops_rid, limit=500)
    assert len(page) == 500 and all("_objection" in r for r in page)
    assert len(statements) == 1, statements
    with counting():
        rows = dump(client, county.town_editor.token, county.shops_rid, "json")
    assert len(rows) == 2503 and all("_objection" in r for r in rows)
    # the CSV column check, then one query per chunk of 1,000 records: 3 chunks
    assert len(statements) == 1 + 3, statements
