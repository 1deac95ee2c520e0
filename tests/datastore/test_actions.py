"""DataStore actions through the API: create, upsert, delete, search, info, changes, who reads.

Each test asserts what a department's system notices: the HTTP status, the error type, the field or
record index named in the error, and the records that come back.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
import sqlalchemy as sa

from catalog.datastore.models import DatastoreTable, Record
from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.schemas.records_samples import households

#: a table without a record schema, described by CKAN fields
FIELDS = [{"id": "id", "type": "text"}, {"id": "name", "type": "text"}, {"id": "age", "type": "int"},
          {"id": "score", "type": "numeric"}, {"id": "active", "type": "bool"},
          {"id": "tags", "type": "json"}]
PEOPLE = [
    {"id": "p1", "name": "王建国", "age": 61, "score": 9.5, "active": True, "tags": ["低保", "独居"]},
    {"id": "p2", "name": "李秀英", "age": 35, "score": 7.25, "active": False, "tags": []},
    {"id": "p3", "name": "张伟", "age": 8, "score": 10, "active": True, "tags": ["留守儿童"]},
    {"id": "p4", "name": "Chen Ming", "age": 120, "score": 0.5, "active": False, "tags": {"note": "百岁老人"}},
    {"id": "p5", "name": "刘芳", "age": 35, "score": 7.25, "active": True, "tags": ["低保"]},
]


def _public_dataset(make, owner: str, **overrides) -> dict:
    values = {"share_type": "unconditional", "share_condition": None}
    values.update(overrides)
    return make.dataset(owner, **values)


@pytest.fixture
def people(api, make, org):
    """A public, unconditional dataset of ``org`` without a record schema; its table holds PEOPLE."""
    dataset = _public_dataset(make, org.id)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "人员"},
                                            "fields": FIELDS, "primary_key": "id", "records": PEOPLE},
                       token=org.editor.token)
    assert created.status == 200, created.body
    return created.result["resource_id"]


@pytest.fixture
def homes(api, make, org):
    """A public, unconditional dataset of ``org`` bound to household@1, with an empty table."""
    dataset = _public_dataset(make, org.id, record_schema="household@1")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "住户"}},
                       token=org.editor.token)
    assert created.status == 200, created.body
    return created.result["resource_id"]


def _search(api, token, resource_id, **params):
    return api.call("datastore_search", {"resource_id": resource_id, **params}, token=token)


def _ids(reply) -> list[str]:
    return [r["id"] for r in reply.result["records"]]


# --- datastore_create -------------------------------------------------------------------------


def test_create_for_an_existing_resource_uses_the_bound_schema(api, make, org, db):
    dataset = _public_dataset(make, org.id, record_schema="household@1")
    resource = api.call("resource_create", {"package_id": dataset["id"], "name": "住户登记表",
                                            "url": "http://data.ningshan.gov.cn/zh.csv"},
                        token=org.editor.token).result
    created = api.call("datastore_create", {"resource_id": resource["id"]}, token=org.editor.token)
    assert created.status == 200, created.body
    result = created.result
    assert result["resource_id"] == resource["id"]
    assert result["record_schema"] == "household@1"
    assert result["primary_key"] == ["household_number"]
    fields = {f["id"]: f for f in result["fields"]}
    assert fields["members"]["type"] == "json"
    assert fields["last_visit_date"]["type"] == "date"
    assert fields["updated_at"]["type"] == "timestamp"
    assert fields["head_name"]["info"]["label"] == "户主姓名"
    assert db.get(DatastoreTable, resource["id"]) is not None


def test_create_with_a_new_resource_adds_it_to_the_dataset(api, make, org):
    dataset = _public_dataset(make, org.id, record_schema="household@1")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["name"], "name": "住户"}},
                       token=org.editor.token)
    assert created.status == 200, created.body
    resource_id = created.result["resource_id"]
    shown = api.call("package_show", {"id": dataset["id"]}, token=org.editor.token, method="GET").result
    resource = next(r for r in shown["resources"] if r["id"] == resource_id)
    assert resource["name"] == "住户"
    assert resource["url"].endswith(f"/datastore/dump/{resource_id}")
    assert resource.get("url_type") in (None, "datastore")  # shown when the resource exposes it


def test_create_with_records_writes_them(api, people, org):
    found = _search(api, org.editor.token, people)
    assert found.status == 200
    assert found.result["total"] == len(PEOPLE)
    assert sorted(_ids(found)) == [p["id"] for p in PEOPLE]


def test_create_with_fields_when_the_dataset_has_no_schema(api, make, org):
    dataset = _public_dataset(make, org.id)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]},
                                            "fields": [{"id": "code", "type": "text"},
                                                       {"id": "year", "type": "int"},
                                                       {"id": "amount", "type": "numeric"}],
                                            "primary_key": ["code", "year"]}, token=org.editor.token)
    assert created.status == 200, created.body
    assert created.result["record_schema"] is None
    assert created.result["primary_key"] == ["code", "year"]
    assert [(f["id"], f["type"]) for f in created.result["fields"]] == [
        ("code", "text"), ("year", "int"), ("amount", "numeric")]
    resource_id = created.result["resource_id"]
    written = api.call("datastore_upsert", {"resource_id": resource_id, "records": [
        {"code": "A", "year": 2025, "amount": 1.5}, {"code": "A", "year": 2026, "amount": 2}]},
        token=org.editor.token)
    assert written.result["inserted"] == 2
    # a composite key: the same code in another year is another record
    again = api.call("datastore_upsert", {"resource_id": resource_id, "records": [
        {"code": "A", "year": 2026, "amount": 3}]}, token=org.editor.token)
    assert (again.result["inserted"], again.result["updated"]) == (0, 1)
    # the types of the fields are enforced
    wrong = api.call("datastore_upsert", {"resource_id": resource_id, "records": [
        {"code": "B", "year": "二〇二六", "amount": 1}]}, token=org.editor.token)
    assert wrong.status == 409
    assert "records.0.year" in wrong.error


def test_create_without_fields_or_schema_is_refused(api, make, org):
    dataset = _public_dataset(make, org.id)
    refused = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=org.editor.token)
    assert refused.status == 409
    assert "fields" in refused.error


def test_create_with_an_unknown_schema_is_not_found(api, make, org):
    dataset = _public_dataset(make, org.id)
    resource = api.call("resource_create", {"package_id": dataset["id"], "url": "http://example.gov.cn/a.csv"},
                        token=org.editor.token).result
    missing = api.call("datastore_create", {"resource_id": resource["id"], "record_schema": "household@9"},
                       token=org.editor.token)
    assert missing.status == 404
    assert missing.error["__type"] == "Not Found Error"
    assert "household@9" in missing.error["message"]


def test_create_for_an_unknown_resource_is_not_found(api, org):
    missing = api.call("datastore_create", {"resource_id": "no-such-resource", "fields": FIELDS},
                       token=org.editor.token)
    assert missing.status == 404


def test_create_with_a_primary_key_outside_the_schema_is_refused(api, make, org):
    dataset = _public_dataset(make, org.id, record_schema="household@1")
    refused = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "primary_key": "nickname"},
                       token=org.editor.token)
    assert refused.status == 409
    assert "nickname" in refused.error["primary_key"][0]


@pytest.mark.parametrize("role", ["member", "outsider"])
def test_create_needs_an_editor_of_the_owner(api, make, org, role):
    dataset = _public_dataset(make, org.id, record_schema="household@1")
    token = getattr(org, role).token
    by_new_resource = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=token)
    assert by_new_resource.status == 403
    assert by_new_resource.error["__type"] == "Authorization Error"
    resource = api.call("resource_create", {"package_id": dataset["id"], "url": "http://example.gov.cn/a.csv"},
                        token=org.editor.token).result
    by_id = api.call("datastore_create", {"resource_id": resource["id"]}, token=token)
    assert by_id.status == 403


def test_create_anonymously_is_refused(api, make, org):
    dataset = _public_dataset(make, org.id, record_schema="household@1")
    refused = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}})
    assert refused.status == 403


def test_admins_and_sysadmins_create_tables(api, make, org):
    for account in (org.admin, org.sysadmin):
        dataset = _public_dataset(make, org.id, record_schema="household@1")
        created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=account.token)
        assert created.status == 200, created.body


def test_changing_the_primary_key_of_a_table_with_records_is_refused(api, people, org):
    refused = api.call("datastore_create", {"resource_id": people, "fields": FIELDS, "primary_key": "name"},
                       token=org.editor.token)
    assert refused.status == 409
    assert "primary_key" in refused.error
    info = api.call("datastore_info", {"id": people}, token=org.editor.token).result
    assert info["primary_key"] == ["id"] and info["count"] == len(PEOPLE)
    # redefining the fields with the same key is allowed
    more = api.call("datastore_create", {"resource_id": people, "primary_key": "id",
                                         "fields": FIELDS + [{"id": "note", "type": "text"}]},
                    token=org.editor.token)
    assert more.status == 200, more.body
    assert more.result["fields"][-1]["id"] == "note"


def test_changing_the_primary_key_of_an_empty_table_is_allowed(api, make, org):
    dataset = _public_dataset(make, org.id)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": FIELDS,
                                            "primary_key": "id"}, token=org.editor.token).result
    changed = api.call("datastore_create", {"resource_id": created["resource_id"], "fields": FIELDS,
                                            "primary_key": "name"}, token=org.editor.token)
    assert changed.status == 200, changed.body
    assert changed.result["primary_key"] == ["name"]


# --- datastore_upsert -------------------------------------------------------------------------


def test_upsert_inserts_updates_and_leaves_unchanged_records_alone(api, homes, org, db):
    records = list(households(6, seed=11))
    first = api.call("datastore_upsert", {"resource_id": homes, "records": records[:4]}, token=org.editor.token)
    assert first.status == 200, first.body
    assert {k: first.result[k] for k in ("inserted", "updated", "unchanged")} == {
        "inserted": 4, "updated": 0, "unchanged": 0}
    seqs = dict(db.execute(sa.select(Record.key, Record.seq).where(Record.resource_id == homes)).all())
    cursor = _cursor_after(api, org, homes, 4)
    changed = dict(records[1], grid_worker="网格员甲")
    second = api.call("datastore_upsert", {"resource_id": homes, "records": [records[0], changed, *records[4:]]},
                      token=org.editor.token)
    assert {k: second.result[k] for k in ("inserted", "updated", "unchanged")} == {
        "inserted": 2, "updated": 1, "unchanged": 1}
    db.expire_all()
    after = dict(db.execute(sa.select(Record.key, Record.seq).where(Record.resource_id == homes)).all())
    assert after[records[0]["household_number"]] == seqs[records[0]["household_number"]], "unchanged got a new _seq"
    assert after[records[1]["household_number"]] > max(seqs.values())
    # the unchanged record is not in the change feed again
    feed = api.call("datastore_changes", {"resource_id": homes, "cursor": cursor},
                    token=org.editor.token).result
    assert sorted(c["_key"] for c in feed["changes"]) == sorted(
        [records[1]["household_number"], records[4]["household_number"], records[5]["household_number"]])
    shown = _search(api, org.editor.token, homes, filters={"household_number": records[1]["household_number"]})
    assert shown.result["records"][0]["grid_worker"] == "网格员甲"


def _cursor_after(api, org, resource_id, n):
    """The cursor after the first ``n`` changes of a table."""
    page = api.call("datastore_changes", {"resource_id": resource_id, "limit": n}, token=org.editor.token).result
    assert len(page["changes"]) == n
    return page["next_cursor"]


@pytest.mark.parametrize("before, after", [(1, True), (0, False), ([1, 0], [True, False]), ({"a": 1}, {"a": True}),
                                           ("1", 1), (1, 2), ([1, 2], [2, 1]), ({"a": None}, {})])
def test_a_value_of_another_json_type_is_a_change(api, people, org, before, after):
    """true is not 1 and "1" is not 1, although Python's == says so for the first."""
    first = api.call("datastore_upsert", {"resource_id": people, "records": [{"id": "j", "tags": before}]},
                     token=org.editor.token).result
    assert first["inserted"] == 1
    second = api.call("datastore_upsert", {"resource_id": people, "records": [{"id": "j", "tags": after}]},
                      token=org.editor.token).result
    assert (second["updated"], second["unchanged"]) == (1, 0), (before, after)
    stored = _search(api, org.editor.token, people, filters={"id": "j"}).result["records"][0]
    assert stored.get("tags") == after and type(stored.get("tags")) is type(after)


def test_the_same_number_written_differently_is_unchanged(api, people, org):
    api.call("datastore_upsert", {"resource_id": people, "records": [{"id": "k", "score": 2}]}, token=org.editor.token)
    again = api.call("datastore_upsert", {"resource_id": people, "records": [{"id": "k", "score": 2.0}]},
                     token=org.editor.token).result
    assert again["unchanged"] == 1


def test_insert_of_an_existing_key_is_a_conflict_and_writes_nothing(api, people, org):
    reply = api.call("datastore_upsert", {"resource_id": people, "method": "insert", "records": [
        {"id": "p9", "name": "新人"}, {"id": "p2", "name": "李秀英（重复）"}]}, token=org.editor.token)
    assert reply.status == 409
    assert "p2" in reply.error["records.1"][0]
    found = _search(api, org.editor.token, people, filters={"id": ["p9", "p2"]})
    assert [r["name"] for r in found.result["records"]] == ["李秀英"]


def test_insert_of_new_keys_works(api, people, org):
    reply = api.call("datastore_upsert", {"resource_id": people, "method": "insert",
                                          "records": [{"id": "p9", "name": "新人"}]}, token=org.editor.token)
    assert reply.status == 200 and reply.result["inserted"] == 1


def test_update_of_a_missing_key_is_a_conflict_and_writes_nothing(api, people, org):
    reply = api.call("datastore_upsert", {"resource_id": people, "method": "update", "records": [
        dict(PEOPLE[0], name="王建国（更正）"), {"id": "p404", "name": "无此人"}]}, token=org.editor.token)
    assert reply.status == 409
    assert "p404" in reply.error["records.1"][0]
    found = _search(api, org.editor.token, people, filters={"id": "p1"}).result
    assert found["records"][0]["name"] == "王建国"


def test_update_replaces_the_record(api, people, org):
    reply = api.call("datastore_upsert", {"resource_id": people, "method": "update",
                                          "records": [{"id": "p1", "name": "王建国"}]}, token=org.editor.token)
    assert reply.status == 200
    assert (reply.result["inserted"], reply.result["updated"]) == (0, 1)
    record = _search(api, org.editor.token, people, filters={"id": "p1"}).result["records"][0]
    assert record["name"] == "王建国" and "age" not in record or record.get("age") is None


def test_unknown_method_is_refused(api, people, org):
    reply = api.call("datastore_upsert", {"resource_id": people, "method": "merge", "records": PEOPLE[:1]},
                     token=org.editor.token)
    assert reply.status == 409
    assert "method" in reply.error


def test_dry_run_reports_counts_and_writes_nothing(api, people, org, db):
    before = api.call("datastore_info", {"id": people}, token=org.editor.token).result
    records = [PEOPLE[0], dict(PEOPLE[1], age=36), {"id": "p6", "name": "新人"}, {"id": "p7", "name": "又一人"}]
    reply = api.call("datastore_upsert", {"resource_id": people, "records": records, "dry_run": True},
                     token=org.editor.token)
    assert reply.status == 200, reply.body
    assert reply.result["dry_run"] is True
    assert {k: reply.result[k] for k in ("inserted", "updated", "unchanged")} == {
        "inserted": 2, "updated": 1, "unchanged": 1}
    after = api.call("datastore_info", {"id": people}, token=org.editor.token).result
    assert (after["count"], after["last_seq"]) == (before["count"], before["last_seq"])
    assert _search(api, org.editor.token, people, filters={"id": "p2"}).result["records"][0]["age"] == 35


def test_dry_run_reports_the_conflicts_the_real_call_would_meet(api, people, org):
    insert = api.call("datastore_upsert", {"resource_id": people, "method": "insert", "dry_run": True,
                                           "records": [{"id": "p1", "name": "王建国"}]}, token=org.editor.token)
    assert insert.status == 409
    assert "records.0" in insert.error
    update = api.call("datastore_upsert", {"resource_id": people, "method": "update", "dry_run": True,
                                           "records": [{"id": "p404", "name": "无此人"}]}, token=org.editor.token)
    assert update.status == 409
    assert "records.0" in update.error


def test_the_same_key_twice_in_one_batch_keeps_the_last(api, people, org):
    reply = api.call("datastore_upsert", {"resource_id": people, "records": [
        {"id": "p8", "name": "第一次"}, {"id": "p8", "name": "第二次"}]}, token=org.editor.token)
    assert reply.status == 200, reply.body
    found = _search(api, org.editor.token, people, filters={"id": "p8"}).result
    assert found["total"] == 1 and found["records"][0]["name"] == "第二次"


@pytest.mark.parametrize("role", ["member", "outsider"])
def test_upsert_needs_an_editor_of_the_owner(api, people, org, role):
    reply = api.call("datastore_upsert", {"resource_id": people, "records": [{"id": "x", "name": "x"}]},
                     token=getattr(org, role).token)
    assert reply.status == 403
    assert _search(api, org.editor.token, people, filters={"id": "x"}).result["total"] == 0


def test_upsert_to_a_resource_without_table_is_not_found(api, make, org):
    dataset = _public_dataset(make, org.id)
    resource = api.call("resource_create", {"package_id": dataset["id"], "url": "http://example.gov.cn/a.csv"},
                        token=org.editor.token).result
    reply = api.call("datastore_upsert", {"resource_id": resource["id"], "records": PEOPLE[:1]},
                     token=org.editor.token)
    assert reply.status == 404
    assert "datastore_create" in reply.error["message"]


# --- datastore_delete -------------------------------------------------------------------------


def test_delete_with_filters_tombstones_the_records(api, people, org):
    cursor = _cursor_after(api, org, people, len(PEOPLE))
    reply = api.call("datastore_delete", {"resource_id": people, "filters": {"age": 35}}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert reply.result["deleted"] == 2
    found = _search(api, org.editor.token, people)
    assert sorted(_ids(found)) == ["p1", "p3", "p4"] and found.result["total"] == 3
    feed = api.call("datastore_changes", {"resource_id": people, "cursor": cursor}, token=org.editor.token).result
    assert sorted(c["_key"] for c in feed["changes"]) == ["p2", "p5"]
    for change in feed["changes"]:
        assert change["_deleted"] is True
        assert set(change) == {"id", "_seq", "_key", "_deleted"}, "a tombstone carries only the key"
    info = api.call("datastore_info", {"id": people}, token=org.editor.token).result
    assert info["count"] == 3
    # deleting again finds nothing more
    again = api.call("datastore_delete", {"resource_id": people, "filters": {"age": 35}}, token=org.editor.token)
    assert again.result["deleted"] == 0


def test_a_deleted_record_can_be_written_again(api, people, org):
    api.call("datastore_delete", {"resource_id": people, "filters": {"id": "p1"}}, token=org.editor.token)
    insert = api.call("datastore_upsert", {"resource_id": people, "method": "insert", "records": [PEOPLE[0]]},
                      token=org.editor.token)
    assert insert.status == 200, insert.body
    assert insert.result["inserted"] == 1
    assert _search(api, org.editor.token, people, filters={"id": "p1"}).result["total"] == 1
    update = api.call("datastore_delete", {"resource_id": people, "filters": {"id": "p2"}}, token=org.editor.token)
    assert update.result["deleted"] == 1
    missing = api.call("datastore_upsert", {"resource_id": people, "method": "update", "records": [PEOPLE[1]]},
                       token=org.editor.token)
    assert missing.status == 409, "a deleted record cannot be updated"


def test_one_batch_of_new_unchanged_changed_and_deleted_keys(api, people, org):
    """Each kind of stored state in one call: only the written records get change numbers, in order."""
    api.call("datastore_delete", {"resource_id": people, "filters": {"id": "p2"}}, token=org.editor.token)
    last = api.call("datastore_info", {"id": people}, token=org.editor.token).result["last_seq"]
    cursor = api.call("datastore_changes", {"resource_id": people}, token=org.editor.token).result["next_cursor"]
    records = [{"id": "p6", "name": "新人"}, PEOPLE[0], PEOPLE[1], dict(PEOPLE[2], age=9), PEOPLE[3],
               {"id": "p7", "name": "又一人"}]
    reply = api.call("datastore_upsert", {"resource_id": people, "records": records}, token=org.editor.token)
    assert reply.status == 200, reply.body
    # p2 was deleted: written again with its old values it is a new record, not an unchanged one
    assert {k: reply.result[k] for k in ("inserted", "updated", "unchanged")} == {
        "inserted": 3, "updated": 1, "unchanged": 2}
    feed = api.call("datastore_changes", {"resource_id": people, "cursor": cursor},
                    token=org.editor.token).result["changes"]
    assert [c["_key"] for c in feed] == ["p6", "p2", "p3", "p7"]
    assert [c["_seq"] for c in feed] == list(range(last + 1, last + 5))
    assert feed[1]["name"] == "李秀英" and feed[2]["age"] == 9


def test_delete_without_filters_drops_the_table(api, people, org, db):
    reply = api.call("datastore_delete", {"resource_id": people}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert reply.result["deleted"] == "table"
    for name, params in (("datastore_search", {"resource_id": people}),
                         ("datastore_info", {"id": people}),
                         ("datastore_changes", {"resource_id": people}),
                         ("datastore_upsert", {"resource_id": people, "records": PEOPLE[:1]}),
                         ("datastore_delete", {"resource_id": people})):
        later = api.call(name, params, token=org.editor.token)
        assert later.status == 404, (name, later.body)
    assert db.scalar(sa.select(sa.func.count()).select_from(Record).where(Record.resource_id == people)) == 0


@pytest.mark.parametrize("role", ["member", "outsider"])
def test_delete_needs_an_editor_of_the_owner(api, people, org, role):
    token = getattr(org, role).token
    assert api.call("datastore_delete", {"resource_id": people, "filters": {"id": "p1"}}, token=token).status == 403
    assert api.call("datastore_delete", {"resource_id": people}, token=token).status == 403
    assert _search(api, org.editor.token, people).result["total"] == len(PEOPLE)


def test_delete_with_an_unknown_filter_field_is_refused(api, people, org):
    reply = api.call("datastore_delete", {"resource_id": people, "filters": {"nickname": "x"}},
                     token=org.editor.token)
    assert reply.status == 409
    assert "nickname" in reply.error["filters"][0]
    assert _search(api, org.editor.token, people).result["total"] == len(PEOPLE)


# --- datastore_search -------------------------------------------------------------------------


@pytest.mark.parametrize("filters, expected", [
    ({"id": "p3"}, ["p3"]),
    ({"age": 35}, ["p2", "p5"]),
    ({"age": "35"}, ["p2", "p5"]),
    ({"score": 7.25}, ["p2", "p5"]),
    ({"score": 10}, ["p3"]),
    ({"active": True}, ["p1", "p3", "p5"]),
    ({"active": "false"}, ["p2", "p4"]),
    ({"id": ["p1", "p4", "nobody"]}, ["p1", "p4"]),
    ({"age": [8, 120]}, ["p3", "p4"]),
    ({"age": 35, "active": True}, ["p5"]),
    ({"name": "王建国"}, ["p1"]),
    ({"id": []}, []),
])
def test_search_filters(api, people, org, filters, expected):
    found = _search(api, org.member.token, people, filters=filters)
    assert found.status == 200, found.body
    assert sorted(_ids(found)) == expected
    assert found.result["total"] == len(expected)


@pytest.mark.parametrize("filters, status", [
    ({"name": 5}, 200), ({"id": 1.5}, 200), ({"tags": 3}, 200), ({"tags": "低保"}, 200), ({"age": None}, 200),
    ({"name": True}, 409), ({"age": True}, 409), ({"active": 1}, 409), ({"active": "yes"}, 409),
    ({"score": "七"}, 409), ({"tags": {"a": 1}}, 409),
])
def test_filter_values_of_another_type_than_the_field(api, people, org, filters, status):
    """Compared by the field's type: no match or a 409, never a database error (PostgreSQL casts)."""
    found = _search(api, org.member.token, people, filters=filters)
    assert found.status == status, found.body
    if status == 200:
        assert found.result["records"] == [] and found.result["total"] == 0
    else:
        assert list(filters)[0] in found.error["filters"][0]
    deleted = api.call("datastore_delete", {"resource_id": people, "filters": filters}, token=org.editor.token)
    assert deleted.status == status, deleted.body
    assert _search(api, org.member.token, people).result["total"] == len(PEOPLE)


def test_a_number_filter_on_a_text_field_matches_its_text(api, make, org):
    dataset = _public_dataset(make, org.id)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "primary_key": "code",
                                            "fields": [{"id": "code", "type": "text"}],
                                            "records": [{"code": "5"}, {"code": "五"}]}, token=org.editor.token)
    found = _search(api, org.member.token, created.result["resource_id"], filters={"code": 5})
    assert [r["code"] for r in found.result["records"]] == ["5"]


def test_search_filters_as_a_json_string_in_a_get(api, people, org):
    found = api.call("datastore_search", {"resource_id": people, "filters": '{"age": 35}'},
                     token=org.member.token, method="GET")
    assert found.status == 200, found.body
    assert sorted(_ids(found)) == ["p2", "p5"]


def test_search_with_an_unknown_filter_field_is_refused(api, people, org):
    refused = _search(api, org.member.token, people, filters={"nickname": "小王"})
    assert refused.status == 409
    assert "nickname" in refused.error["filters"][0]


def test_search_with_text_in_a_number_filter_is_refused(api, people, org):
    refused = _search(api, org.member.token, people, filters={"age": "三十五"})
    assert refused.status == 409
    assert "age" in refused.error["filters"][0]


@pytest.mark.parametrize("q, expected", [
    ("建国", ["p1"]), ("chen", ["p4"]), ("百岁", ["p4"]), ("低保", ["p1", "p5"]), ("100%", []), ("_", []),
    ("age", []), ("name", []),  # field names are not text of the records
])
def test_search_q_finds_substrings(api, people, org, q, expected):
    found = _search(api, org.member.token, people, q=q)
    assert found.status == 200, found.body
    assert sorted(_ids(found)) == expected


def test_search_q_finds_chinese_in_household_records(api, homes, org):
    records = list(households(5, seed=3))
    api.call("datastore_upsert", {"resource_id": homes, "records": records}, token=org.editor.token)
    name = records[2]["members"][-1]["name"]
    found = _search(api, org.member.token, homes, q=name).result
    assert records[2]["household_number"] in [r["household_number"] for r in found["records"]]
    assert all(name in str(r) for r in found["records"])


def test_search_fields_projection(api, people, org):
    found = _search(api, org.member.token, people, fields=["id", "age"], sort="id")
    assert found.result["records"][0] == {"id": "p1", "age": 61}
    assert [f["id"] for f in found.result["fields"]] == ["id", "age"]
    as_text = _search(api, org.member.token, people, fields="name,id", sort="id")
    assert as_text.result["records"][1] == {"name": "李秀英", "id": "p2"}
    unknown = _search(api, org.member.token, people, fields=["id", "salary"])
    assert unknown.status == 409
    assert "salary" in unknown.error["fields"][0]


@pytest.mark.parametrize("sort, expected", [
    ("age asc", ["p3", "p2", "p5", "p1", "p4"]),      # 8 < 35 = 35 < 61 < 120: numeric, not text
    ("age desc", ["p4", "p1", "p2", "p5", "p3"]),     # ties in key order
    ("score desc, id desc", ["p3", "p1", "p5", "p2", "p4"]),
    ("id desc", ["p5", "p4", "p3", "p2", "p1"]),
    ("name", ["p4", "p5", "p2", "p3", "p1"]),
    ('"age" asc', ["p3", "p2", "p5", "p1", "p4"]),
    ("_seq desc", ["p5", "p4", "p3", "p2", "p1"]),
])
def test_search_sort(api, people, org, sort, expected):
    found = _search(api, org.member.token, people, sort=sort)
    assert found.status == 200, found.body
    if sort == "name":  # text order is the database's collation; check it is the same both ways
        reverse = _ids(_search(api, org.member.token, people, sort="name desc"))
        assert _ids(found) == list(reversed(reverse))
        return
    assert _ids(found) == expected


@pytest.mark.parametrize("sort", ["salary", "age upward", "name; DROP TABLE datastore_record",
                                  "age asc; DELETE FROM datastore_record", "age desc nulls first",
                                  "(SELECT 1)", ",", "age,"])
def test_search_with_a_bad_sort_is_refused_without_echoing_sql(api, people, org, sort):
    refused = _search(api, org.member.token, people, sort=sort)
    assert refused.status == 409
    assert "sort" in refused.error
    text = str(refused.body)
    for fragment in ("DROP", "DELETE", "SELECT", "nulls first"):
        assert fragment not in text
    assert _search(api, org.member.token, people).result["total"] == len(PEOPLE)


def test_search_paging(api, people, org):
    first = _search(api, org.member.token, people, limit=2, sort="id").result
    assert [r["id"] for r in first["records"]] == ["p1", "p2"]
    assert first["total"] == 5 and first["limit"] == 2 and first["offset"] == 0
    second = _search(api, org.member.token, people, limit=2, offset=2, sort="id").result
    assert [r["id"] for r in second["records"]] == ["p3", "p4"]
    beyond = _search(api, org.member.token, people, offset=50).result
    assert beyond["records"] == [] and beyond["total"] == 5
    none = _search(api, org.member.token, people, limit=0).result
    assert none["records"] == [] and none["total"] == 5


def test_search_limit_bounds(api, people, org):
    assert _search(api, org.member.token, people, limit=32000).status == 200
    too_many = _search(api, org.member.token, people, limit=32001)
    assert too_many.status == 409
    assert "limit" in too_many.error
    negative = _search(api, org.member.token, people, offset=-1)
    assert negative.status == 409 and "offset" in negative.error


def test_search_without_total(api, people, org):
    found = _search(api, org.member.token, people, include_total=False).result
    assert "total" not in found and len(found["records"]) == 5


def test_search_records_as_lists_and_csv(api, people, org):
    lists = _search(api, org.member.token, people, records_format="lists", fields=["id", "age", "tags"],
                    sort="id", limit=2).result
    assert lists["records"] == [["p1", 61, ["低保", "独居"]], ["p2", 35, []]]
    csv_text = _search(api, org.member.token, people, records_format="csv", fields=["id", "active", "tags"],
                       sort="id", limit=2).result["records"]
    assert csv_text.splitlines() == ['p1,true,"[""低保"", ""独居""]"', "p2,false,[]"]
    bad = _search(api, org.member.token, people, records_format="xml")
    assert bad.status == 409 and "records_format" in bad.error


def test_search_links_lead_to_the_next_page(api, people, org):
    first = _search(api, org.member.token, people, limit=2, sort="age desc", filters={"active": True}).result
    assert first["total"] == 3
    link = first["_links"]["next"]
    assert link.startswith("/api/3/action/datastore_search?")
    params = dict(parse_qsl(urlsplit(link).query))
    assert params["offset"] == "2" and params["limit"] == "2"
    following = api.call("datastore_search", params, token=org.member.token, method="GET")
    assert following.status == 200, following.body
    assert _ids(following) == ["p3"], "the next page keeps the filters and the sort"


# --- datastore_info ---------------------------------------------------------------------------


def test_info_describes_the_table(api, people, org):
    info = api.call("datastore_info", {"id": people}, token=org.member.token, method="GET")
    assert info.status == 200, info.body
    result = info.result
    assert result["resource_id"] == people
    assert result["count"] == len(PEOPLE)
    assert result["primary_key"] == ["id"]
    assert result["record_schema"] is None
    assert [f["id"] for f in result["fields"]] == [f["id"] for f in FIELDS]
    assert result["last_seq"] == len(PEOPLE)
    assert result["modified"]
    by_resource_id = api.call("datastore_info", {"resource_id": people}, token=org.member.token)
    assert by_resource_id.result["count"] == len(PEOPLE)


def test_info_errors(api, org):
    assert api.call("datastore_info", {}, token=org.member.token).status == 409
    assert api.call("datastore_info", {"id": "no-such-resource"}, token=org.member.token).status == 404


# --- datastore_changes ------------------------------------------------------------------------


def test_changes_page_through_every_change_once(api, homes, org):
    records = list(households(25, seed=5))
    api.call("datastore_upsert", {"resource_id": homes, "records": records[:15]}, token=org.editor.token)
    api.call("datastore_upsert", {"resource_id": homes, "records": records[15:]}, token=org.editor.token)
    api.call("datastore_upsert", {"resource_id": homes, "records": [dict(records[0], grid_worker="新网格员")]},
             token=org.editor.token)
    seen, cursor, pages = [], None, 0
    while True:
        page = api.call("datastore_changes", {"resource_id": homes, "cursor": cursor, "limit": 7},
                        token=org.member.token).result
        pages += 1
        seen.extend(page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert pages == 4
    seqs = [c["_seq"] for c in seen]
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    # record 0 was rewritten: it appears once, with its latest content, as the last change
    assert len(seen) == 25
    assert seen[-1]["_key"] == records[0]["household_number"] and seen[-1]["grid_worker"] == "新网格员"
    assert {c["_key"] for c in seen} == {r["household_number"] for r in records}
    assert all(c["_deleted"] is False for c in seen)
    # the last cursor returns nothing until something changes
    empty = api.call("datastore_changes", {"resource_id": homes, "cursor": cursor}, token=org.member.token).result
    assert empty["changes"] == [] and empty["has_more"] is False and empty["next_cursor"] == cursor
    api.call("datastore_upsert", {"resource_id": homes, "records": [dict(records[3], grid_worker="又换了")]},
             token=org.editor.token)
    later = api.call("datastore_changes", {"resource_id": homes, "cursor": cursor}, token=org.member.token).result
    assert [c["_key"] for c in later["changes"]] == [records[3]["household_number"]]


def test_changes_give_each_record_as_written_to_a_reader_who_sees_it_all(api, people, org):
    # Such a reader gets the stored JSON text itself (catalog/api/rawjson.py): numbers, nested values,
    # Chinese, quotes and backslashes must come back as they were written, in one valid JSON answer
    odd = {"id": "p6", "name": 'O\'Brien "老王" \\ 路\t', "age": 0, "score": -1.5e-7, "active": False,
           "tags": {"nested": [1, 2.5, None, {"深": "值"}], "empty": {}}}
    assert api.call("datastore_upsert", {"resource_id": people, "records": [odd]},
                    token=org.editor.token).status == 200
    page = api.call("datastore_changes", {"resource_id": people}, token=org.member.token)
    assert page.status == 200, page.body
    changes = page.result["changes"]
    assert [{k: v for k, v in c.items() if not k.startswith("_")} for c in changes] == [*PEOPLE, odd]
    assert [(c["_key"], c["_deleted"]) for c in changes] == [(r["id"], False) for r in [*PEOPLE, odd]]
    assert [c["_seq"] for c in changes] == sorted(c["_seq"] for c in changes)


def test_changes_give_keys_with_quotes_backslashes_and_chinese_as_stored(api, people, org):
    # the raw feed writes each entry's _key into the stored text itself: it must stay a JSON string equal
    # to the stored key, whatever characters the key holds
    odd_keys = ['a"b', "c\\d", "王\u2028五", "tab\there", "line\nbreak", "\u0001ctl", "/slash/", "'"]
    assert api.call("datastore_upsert", {"resource_id": people, "records": [
        {"id": key, "name": f"n{i}"} for i, key in enumerate(odd_keys)]}, token=org.editor.token).status == 200
    page = api.call("datastore_changes", {"resource_id": people}, token=org.member.token)
    assert page.status == 200, page.body
    changes = page.result["changes"][len(PEOPLE):]
    assert [(c["_key"], c["id"], c["name"], c["_deleted"]) for c in changes] == [
        (key, key, f"n{i}", False) for i, key in enumerate(odd_keys)]
    assert all(isinstance(c["_seq"], int) and not isinstance(c["_seq"], bool) for c in changes)
    assert [c["_seq"] for c in changes] == sorted({c["_seq"] for c in changes})


@pytest.mark.parametrize("text", [
    '{"id": "p1", "name": "王建国"}',  # PostgreSQL's text of a jsonb object
    '{"id":"p1","name":"王建国"}',  # compact
    '{"id": "p1", "tags": {"a": [1, {}]}}',  # nested objects close the text
    '{"id": "p1", "n": 0}', '{"id": "p1", "t": true}', '{"id": "p1", "x": null}', '{"id": "p1", "l": []}',
    '{}', '{ }', '{"id": "p1" }', '{"id": "p1"}\n', '{\n  "id": "p1"\n}',  # empty, spaces before the brace
    '{"id": "p1", "_key": "stored", "_seq": "x", "_deleted": true}',  # members of the added names stored too
])
def test_a_feed_entry_is_the_stored_object_with_its_seq_key_and_deleted_added(text):
    import json

    from catalog.datastore import query

    for seq, key in ((1, "p1"), (1234567890123, 'k"\\王\u2028\x00')):
        entry = query._entry_text(text, seq, key)
        decoded = json.loads(entry)
        assert decoded == {**json.loads(text), "_seq": seq, "_key": key, "_deleted": False}
        assert type(decoded["_seq"]) is int and decoded["_deleted"] is False
        # the added members come after the stored ones (a JSON reader takes the last of a name)
        assert list(json.JSONDecoder(object_pairs_hook=lambda pairs: pairs).decode(entry))[-3:] == [
            ("_seq", seq), ("_key", key), ("_deleted", False)]


def test_changes_tombstones_carry_only_the_key(api, homes, org):
    records = list(households(3, seed=8))
    api.call("datastore_upsert", {"resource_id": homes, "records": records}, token=org.editor.token)
    cursor = _cursor_after(api, org, homes, 3)
    number = records[1]["household_number"]
    api.call("datastore_delete", {"resource_id": homes, "filters": {"household_number": number}},
             token=org.editor.token)
    page = api.call("datastore_changes", {"resource_id": homes, "cursor": cursor}, token=org.member.token).result
    assert len(page["changes"]) == 1
    tombstone = page["changes"][0]
    assert tombstone["_deleted"] is True
    assert tombstone["household_number"] == number and tombstone["_key"] == number
    assert set(tombstone) == {"household_number", "_seq", "_key", "_deleted"}
    assert "head_name" not in tombstone and "members" not in tombstone


@pytest.mark.parametrize("window", [1, 3, 2000])
def test_changes_cross_the_gaps_rewritten_records_leave(api, people, org, monkeypatch, window):
    """Rewritten records leave holes in the sequence; the feed reads in windows that widen over them."""
    from catalog.datastore import query

    monkeypatch.setattr(query, "CHANGES_WINDOW", window)
    for round_ in range(4):  # p1..p4 rewritten again and again: their old numbers are gone
        api.call("datastore_upsert", {"resource_id": people, "records": [
            dict(p, age=100 + round_) for p in PEOPLE[:4]]}, token=org.editor.token)
    api.call("datastore_upsert", {"resource_id": people, "records": [{"id": "p6", "name": "新人"}]},
             token=org.editor.token)
    seen, cursor = [], None
    for _page in range(20):
        page = api.call("datastore_changes", {"resource_id": people, "cursor": cursor, "limit": 2},
                        token=org.member.token).result
        assert len(page["changes"]) <= 2, "a page spanning several windows still holds at most `limit` changes"
        seen.extend((c["_seq"], c["_key"]) for c in page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert [k for _s, k in seen] == ["p5", "p1", "p2", "p3", "p4", "p6"]
    assert [s for s, _k in seen] == sorted(s for s, _k in seen)
    assert seen[-1][0] == api.call("datastore_info", {"id": people}, token=org.member.token).result["last_seq"]


@pytest.mark.parametrize("cursor", ["not-a-cursor", "djI6MTA", "v1:10", "djE6LTE", "%%%", "djE6eA"])
def test_changes_with_a_malformed_cursor_is_refused(api, people, org, cursor):
    refused = api.call("datastore_changes", {"resource_id": people, "cursor": cursor}, token=org.member.token)
    assert refused.status == 409
    assert "cursor" in refused.error


def test_changes_limit_bounds(api, people, org):
    assert api.call("datastore_changes", {"resource_id": people, "limit": 0}, token=org.member.token).status == 409
    assert api.call("datastore_changes", {"resource_id": people, "limit": 10001},
                    token=org.member.token).status == 409


# --- who reads records ------------------------------------------------------------------------


@pytest.fixture
def other_department(make):
    """An account in another department."""
    reader = make.user("reader")
    make.department("rsj", members={"member": reader})
    return reader


def _table_of(api, make, org, **dataset_values) -> str:
    dataset = make.dataset(org.id, **dataset_values)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": FIELDS,
                                            "primary_key": "id", "records": PEOPLE[:2]}, token=org.editor.token)
    assert created.status == 200, created.body
    return created.result["resource_id"]


def _reads(api, token, resource_id) -> int:
    search = _search(api, token, resource_id)
    changes = api.call("datastore_changes", {"resource_id": resource_id}, token=token)
    assert search.status == changes.status, (search.body, changes.body)
    return search.status


def test_the_owner_department_reads_every_share_type(api, make, org):
    for values in ({"share_type": "unconditional", "share_condition": None}, {},
                   {"share_type": "none", "share_condition": "涉及个人隐私，依法不予共享"},
                   {"share_type": "unconditional", "share_condition": None, "private": True}):
        resource_id = _table_of(api, make, org, **values)
        for account in (org.member, org.editor, org.admin, org.sysadmin):
            assert _reads(api, account.token, resource_id) == 200, (values, account.name)


def test_another_department_reads_unconditional_datasets_only(api, make, org, other_department):
    unconditional = _table_of(api, make, org, share_type="unconditional", share_condition=None)
    conditional = _table_of(api, make, org)  # conditional, with a share condition
    none = _table_of(api, make, org, share_type="none", share_condition="涉及个人隐私，依法不予共享")
    assert _reads(api, other_department.token, unconditional) == 200
    refused = _search(api, other_department.token, conditional)
    assert refused.status == 403
    assert refused.error["__type"] == "Authorization Error"
    assert _reads(api, other_department.token, conditional) == 403
    assert _reads(api, other_department.token, none) == 403
    # the metadata stays visible
    assert api.call("datastore_info", {"id": conditional}, token=other_department.token).status == 200


def test_accounts_without_a_department_and_anonymous_callers_read_no_records(api, make, org):
    unconditional = _table_of(api, make, org, share_type="unconditional", share_condition=None)
    assert _reads(api, org.outsider.token, unconditional) == 403
    assert _reads(api, None, unconditional) == 403


def test_private_datasets_are_refused_to_other_departments(api, make, org, other_department):
    private = _table_of(api, make, org, share_type="unconditional", share_condition=None, private=True)
    # answered as if the table did not exist: outsiders cannot tell a private dataset from none
    assert _reads(api, other_department.token, private) == 404
    assert api.call("datastore_info", {"id": private}, token=other_department.token).status == 404
    assert _reads(api, None, private) == 404


def test_a_reader_in_another_department_cannot_write(api, make, org, other_department):
    unconditional = _table_of(api, make, org, share_type="unconditional", share_condition=None)
    reply = api.call("datastore_upsert", {"resource_id": unconditional, "records": [{"id": "x"}]},
                     token=other_department.token)
    assert reply.status == 403
