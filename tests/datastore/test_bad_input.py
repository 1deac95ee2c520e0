"""Malformed DataStore calls: each is refused with 409 (or 400 for a body that is not JSON) naming the
parameter, never a 500, and nothing is written."""
from __future__ import annotations

import pytest

from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture

FIELDS = [{"id": "code", "type": "text"}, {"id": "n", "type": "int"}]


@pytest.fixture
def dataset(make, org) -> dict:
    return make.dataset(org.id, share_type="unconditional", share_condition=None)


@pytest.fixture
def table(api, dataset, org) -> str:
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": FIELDS,
                                            "primary_key": "code"}, token=org.editor.token)
    assert created.status == 200, created.body
    return created.result["resource_id"]


def _count(api, org, resource_id) -> int:
    return api.call("datastore_info", {"id": resource_id}, token=org.editor.token).result["count"]


# --- datastore_create -------------------------------------------------------------------------


@pytest.mark.parametrize("fields, key", [
    ([{"id": "code", "type": "varchar"}], "fields.0.type"),
    ([{"id": "code", "type": "text"}, {"id": "n", "type": "integer4"}], "fields.1.type"),
    ([{"id": "code", "type": "text"}, {"id": "n", "type": 5}], "fields.1.type"),
    ([{"id": "code", "type": "text"}, {"id": "n", "type": ["int"]}], "fields.1.type"),
    ([{"id": "code", "type": "text"}, {"id": "code", "type": "int"}], "fields.1.id"),
    ([{"id": "code", "type": "text"}, {"type": "int"}], "fields.1.id"),
    ([{"id": "code", "type": "text"}, {"id": "_id", "type": "int"}], "fields.1.id"),
    ([{"id": "code", "type": "text"}, {"id": "  ", "type": "int"}], "fields.1.id"),
    ([{"id": "code", "type": "text"}, {"id": 7, "type": "int"}], "fields.1.id"),
])
def test_bad_fields_are_refused_naming_the_field(api, dataset, org, fields, key):
    reply = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": fields,
                                          "primary_key": "code"}, token=org.editor.token)
    assert reply.status == 409, reply.body
    assert key in reply.error, reply.error
    shown = api.call("package_show", {"id": dataset["id"]}, token=org.editor.token, method="GET").result
    assert shown["resources"] == [], "a refused datastore_create adds no resource"


def test_a_bad_field_type_lists_the_types(api, dataset, org):
    reply = api.call("datastore_create", {"resource": {"package_id": dataset["id"]},
                                          "fields": [{"id": "code", "type": "varchar"}]}, token=org.editor.token)
    message = reply.error["fields.0.type"][0]
    assert "text" in message and "int" in message and "timestamp" in message


@pytest.mark.parametrize("fields", ["code", {"id": "code"}, ["code"], [None], 5])
def test_fields_must_be_a_list_of_objects(api, dataset, org, fields):
    reply = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": fields},
                     token=org.editor.token)
    assert reply.status == 409, reply.body
    assert any(k.startswith("fields") for k in reply.error), reply.error


@pytest.mark.parametrize("primary_key", ["nickname", ["code", "nickname"], 5, [1], {"code": True}])
def test_bad_primary_keys_are_refused(api, dataset, org, primary_key):
    reply = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": FIELDS,
                                          "primary_key": primary_key}, token=org.editor.token)
    assert reply.status == 409, reply.body
    assert "primary_key" in reply.error


def test_create_without_a_resource_is_refused(api, org):
    reply = api.call("datastore_create", {"fields": FIELDS}, token=org.editor.token)
    assert reply.status == 409
    assert "resource_id" in reply.error
    missing_package = api.call("datastore_create", {"resource": {"name": "x"}, "fields": FIELDS},
                               token=org.editor.token)
    assert missing_package.status == 409
    assert "resource.package_id" in missing_package.error
    unknown_package = api.call("datastore_create", {"resource": {"package_id": "no-such-dataset"}, "fields": FIELDS},
                               token=org.editor.token)
    assert unknown_package.status == 404


def test_create_with_invalid_records_writes_no_table_content(api, dataset, org):
    reply = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": FIELDS,
                                          "primary_key": "code", "records": [{"code": "a", "n": "one"}]},
                     token=org.editor.token)
    assert reply.status == 409
    assert "records.0.n" in reply.error
    shown = api.call("package_show", {"id": dataset["id"]}, token=org.editor.token, method="GET").result
    assert shown["resources"] == [], "the whole call is rolled back"


# --- datastore_upsert -------------------------------------------------------------------------


def test_more_records_than_the_limit_are_refused(api, app, table, org, monkeypatch):
    monkeypatch.setitem(app.config, "DATASTORE_MAX_RECORDS", 3)
    records = [{"code": str(i), "n": i} for i in range(4)]
    reply = api.call("datastore_upsert", {"resource_id": table, "records": records}, token=org.editor.token)
    assert reply.status == 409
    assert "3" in reply.error["records"][0]
    assert _count(api, org, table) == 0
    assert api.call("datastore_upsert", {"resource_id": table, "records": records[:3]},
                    token=org.editor.token).status == 200


def test_datastore_create_with_more_records_than_the_limit_is_refused(api, app, dataset, org, monkeypatch):
    monkeypatch.setitem(app.config, "DATASTORE_MAX_RECORDS", 2)
    reply = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "fields": FIELDS,
                                          "primary_key": "code",
                                          "records": [{"code": str(i)} for i in range(3)]}, token=org.editor.token)
    assert reply.status == 409
    assert "records" in reply.error


@pytest.mark.parametrize("records", ["not a list", {"code": "a"}, 5, True, None])
def test_records_must_be_a_list(api, table, org, records):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": records}, token=org.editor.token)
    assert reply.status == 409, reply.body
    assert any(k.startswith("records") for k in reply.error), reply.error


def test_records_as_a_json_text_are_accepted(api, table, org):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": '[{"code": "a", "n": 1}]'},
                     token=org.editor.token)
    assert reply.status == 200, reply.body
    assert reply.result["inserted"] == 1
    broken = api.call("datastore_upsert", {"resource_id": table, "records": '[{"code": "a",'},
                      token=org.editor.token)
    assert broken.status == 409 and "records" in broken.error


@pytest.mark.parametrize("record", ["a", 5, None, ["a", 1], True])
def test_a_record_must_be_an_object(api, table, org, record):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": [{"code": "ok"}, record]},
                     token=org.editor.token)
    assert reply.status == 409, reply.body
    # null is refused by the parameter check (records.1), anything else by the record schema
    assert [k for k in reply.error if k.startswith("records.")] in (["records.1.__root__"], ["records.1"]), \
        reply.error
    assert _count(api, org, table) == 0


def test_a_record_that_is_not_an_object_is_quarantined_as_sent(api, table, org, db):
    from catalog.datastore.models import QuarantinedRecord

    reply = api.call("datastore_upsert", {"resource_id": table, "on_invalid": "quarantine",
                                          "records": [["a", 1], {"code": "ok"}]}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert (reply.result["inserted"], reply.result["quarantined"]) == (1, 1)
    kept = db.query(QuarantinedRecord).filter_by(resource_id=table).one()
    assert kept.raw == ["a", 1] and kept.row_number == 0


@pytest.mark.parametrize("record, field", [
    ({"code": 5}, "records.0.code"),
    ({"code": "a", "n": 1.5}, "records.0.n"),
    ({"code": "a", "n": True}, "records.0.n"),
    ({"code": "a", "n": "7"}, "records.0.n"),
])
def test_values_of_the_wrong_type_are_refused(api, table, org, record, field):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": [record]}, token=org.editor.token)
    assert reply.status == 409
    assert field in reply.error


def test_an_empty_batch_writes_nothing(api, table, org):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": []}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert (reply.result["inserted"], reply.result["updated"]) == (0, 0)
    assert api.call("datastore_info", {"id": table}, token=org.editor.token).result["last_seq"] == 0


def test_the_nul_character_is_refused(api, table, org):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": [{"code": "a\u0000b"}]},
                     token=org.editor.token)
    assert reply.status == 409
    assert "records.0.code" in reply.error


@pytest.mark.parametrize("params, key", [
    ({"method": "merge"}, "method"),
    ({"on_invalid": "drop"}, "on_invalid"),
    ({"dry_run": "perhaps"}, "dry_run"),
    ({"resource_id": ""}, "resource_id"),
    ({"resource_id": None}, "resource_id"),
])
def test_bad_upsert_parameters(api, table, org, params, key):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": [{"code": "a"}], **params},
                     token=org.editor.token)
    assert reply.status in (404, 409), reply.body
    if reply.status == 409:
        assert key in reply.error
    assert _count(api, org, table) == 0


def test_a_body_that_is_not_json_is_a_bad_request(client, table, org):
    reply = client.post("/api/3/action/datastore_upsert", data='{"resource_id": "x", "records": [',
                        content_type="application/json", headers={"Authorization": org.editor.token})
    assert reply.status_code == 400


def test_a_write_through_get_is_refused(api, table, org):
    reply = api.call("datastore_upsert", {"resource_id": table, "records": "[]"}, token=org.editor.token,
                     method="GET")
    assert reply.status == 405


def test_a_read_only_token_cannot_write(api, make, org, table):
    from catalog.auth.service import create_token
    from catalog.db import get_db
    from catalog.auth.models import User

    with get_db(make.app).session() as session:
        _token, secret = create_token(session, None, user=session.get(User, org.editor.id), name="ro",
                                      scope="read", check_auth=False)
        session.commit()
    reply = api.call("datastore_upsert", {"resource_id": table, "records": [{"code": "a"}]}, token=secret)
    assert reply.status == 403
    assert api.call("datastore_search", {"resource_id": table}, token=secret).status == 200


# --- datastore_search, datastore_delete, datastore_changes -------------------------------------


@pytest.mark.parametrize("params, key", [
    ({"filters": "code=a"}, "filters"),
    ({"filters": ["code", "a"]}, "filters"),
    ({"filters": {"code": {"$gt": "a"}}}, "filters"),
    ({"filters": {"code": [["a"]]}}, "filters"),
    ({"filters": {"'; DROP TABLE datastore_record; --": "a"}}, "filters"),
    ({"limit": "many"}, "limit"),
    ({"limit": -1}, "limit"),
    ({"offset": "x"}, "offset"),
    ({"fields": 5}, "fields"),
    ({"fields": ["code", 5]}, "fields"),
    ({"sort": "code sideways"}, "sort"),
    ({"include_total": "sometimes"}, "include_total"),
])
def test_bad_search_parameters(api, table, org, params, key):
    reply = api.call("datastore_search", {"resource_id": table, **params}, token=org.editor.token)
    assert reply.status == 409, reply.body
    assert key in reply.error, reply.error
    assert "DROP" not in str(reply.body)


def test_search_of_an_unknown_resource_is_not_found(api, org):
    assert api.call("datastore_search", {"resource_id": "nope"}, token=org.editor.token).status == 404
    assert api.call("datastore_search", {}, token=org.editor.token).status == 409


def test_q_with_like_wildcards_is_taken_literally(api, table, org):
    api.call("datastore_upsert", {"resource_id": table, "records": [
        {"code": "50%_off"}, {"code": "500"}, {"code": "a\\b"}]}, token=org.editor.token)
    for q, expected in (("%", ["50%_off"]), ("_", ["50%_off"]), ("\\", ["a\\b"]), ("0%", ["50%_off"])):
        found = api.call("datastore_search", {"resource_id": table, "q": q}, token=org.editor.token).result
        assert [r["code"] for r in found["records"]] == expected, q


def test_delete_with_bad_filters_deletes_nothing(api, table, org):
    api.call("datastore_upsert", {"resource_id": table, "records": [{"code": "a", "n": 1}]}, token=org.editor.token)
    for filters in ("code", {"n": "one"}, {"unknown": 1}):
        reply = api.call("datastore_delete", {"resource_id": table, "filters": filters}, token=org.editor.token)
        assert reply.status == 409, reply.body
        assert "filters" in reply.error
    assert _count(api, org, table) == 1


def test_delete_with_empty_filters_tombstones_every_record_but_keeps_the_table(api, table, org):
    api.call("datastore_upsert", {"resource_id": table, "records": [{"code": "a"}, {"code": "b"}]},
             token=org.editor.token)
    reply = api.call("datastore_delete", {"resource_id": table, "filters": {}}, token=org.editor.token)
    assert reply.status == 200 and reply.result["deleted"] == 2
    info = api.call("datastore_info", {"id": table}, token=org.editor.token)
    assert info.status == 200 and info.result["count"] == 0


@pytest.mark.parametrize("cursor", ["", "djE6", "djE6IDEw", "\u6e38\u6807", "djE6MTAuNQ"])
def test_odd_cursors(api, table, org, cursor):
    reply = api.call("datastore_changes", {"resource_id": table, "cursor": cursor}, token=org.editor.token)
    if cursor == "":
        assert reply.status == 200, "an empty cursor is the start"
    else:
        assert reply.status == 409, reply.body
        assert "cursor" in reply.error
