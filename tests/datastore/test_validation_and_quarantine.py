"""Invalid records: a batch fails whole and names every bad record and field, or the bad records go to
quarantine (kept with row number, raw value and errors) or are skipped while the valid ones are written."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datastore import service
from catalog.datastore.models import QuarantinedRecord, Record
from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.schemas.records_samples import BREAKS, GENERATORS, break_record, broken

KEYS = {"household": "household_number", "service": "case_number", "petition": "petition_number"}


def _table(api, make, org, kind: str) -> str:
    dataset = make.dataset(org.id, record_schema=f"{kind}@1", share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=org.editor.token)
    assert created.status == 200, created.body
    assert created.result["primary_key"] == [KEYS[kind]]
    return created.result["resource_id"]


def _stored(db, resource_id: str) -> dict[str, dict]:
    db.expire_all()
    return {key: data for key, data in db.execute(sa.select(Record.key, Record.data).where(
        Record.resource_id == resource_id, Record.deleted.is_(False)))}


def _quarantined(db, resource_id: str) -> list[QuarantinedRecord]:
    db.expire_all()
    return list(db.scalars(sa.select(QuarantinedRecord).where(QuarantinedRecord.resource_id == resource_id)
                           .order_by(QuarantinedRecord.row_number)))


@pytest.mark.parametrize("kind", ["household", "service", "petition"])
def test_valid_samples_of_every_kind_are_stored(api, make, org, db, kind):
    resource_id = _table(api, make, org, kind)
    records = list(GENERATORS[kind](40, 7))
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": records}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert reply.result["inserted"] == 40 and reply.result["invalid"] == []
    stored = _stored(db, resource_id)
    assert stored == {r[KEYS[kind]]: r for r in records}, "records come back exactly as sent"


@pytest.mark.parametrize("kind", ["household", "service", "petition"])
def test_an_invalid_batch_fails_whole_naming_each_record_and_field(api, make, org, db, kind):
    resource_id = _table(api, make, org, kind)
    good = list(GENERATORS[kind](len(BREAKS[kind]) * 2, 21))
    cases = list(broken(kind, len(BREAKS[kind]), 22))  # every way of breaking a record, once
    batch, expected = [], {}
    for index, case in enumerate(cases):
        batch.append(good[index])
        batch.append(case.record)
        expected[len(batch) - 1] = case
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": batch}, token=org.editor.token)
    assert reply.status == 409
    error = reply.error
    assert error["__type"] == "Validation Error"
    for index, case in expected.items():
        assert f"records.{index}.{case.path}" in error, (case.how, sorted(k for k in error if
                                                                         k.startswith(f"records.{index}.")))
        assert all(isinstance(m, str) and m for m in error[f"records.{index}.{case.path}"])
    named = {int(k.split(".")[1]) for k in error if k.startswith("records.")}
    assert named == set(expected), "only the broken records are named"
    assert _stored(db, resource_id) == {}, "nothing of a failed batch is written"
    assert _quarantined(db, resource_id) == []
    info = api.call("datastore_info", {"id": resource_id}, token=org.editor.token).result
    assert info["count"] == 0 and info["last_seq"] == 0


def test_messages_are_readable(api, make, org):
    resource_id = _table(api, make, org, "household")
    record = next(GENERATORS["household"](1, 3))
    wrong = break_record("household", record, "head_id_check_digit")
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": [wrong.record]},
                     token=org.editor.token)
    message = reply.error["records.0.head_id_number"][0]
    assert "check" in message.lower() or "校验" in message
    sex = break_record("household", record, "member_sex_in_chinese")
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": [sex.record]},
                     token=org.editor.token)
    assert "'1'" in reply.error["records.0.members.0.sex"][0] or "1" in reply.error["records.0.members.0.sex"][0]


def test_several_errors_in_one_record_are_all_reported(api, make, org):
    resource_id = _table(api, make, org, "household")
    record = next(GENERATORS["household"](1, 4))
    record["head_id_number"] = "12345"
    record["town"] = ""
    record["members"][0]["sex"] = "男"
    del record["village"]
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": [record]}, token=org.editor.token)
    assert reply.status == 409
    assert {"records.0.head_id_number", "records.0.town", "records.0.members.0.sex",
            "records.0.village"} <= set(reply.error)


def test_quarantine_writes_the_valid_records_and_keeps_the_invalid_ones(api, make, org, db):
    resource_id = _table(api, make, org, "household")
    good = list(GENERATORS["household"](6, 31))
    bad = [case for case in broken("household", 3, 32)]
    batch = [good[0], bad[0].record, good[1], good[2], bad[1].record, good[3], bad[2].record, good[4], good[5]]
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": batch, "on_invalid": "quarantine"},
                     token=org.editor.token)
    assert reply.status == 200, reply.body
    result = reply.result
    assert (result["inserted"], result["quarantined"], result["skipped"]) == (6, 3, 0)
    assert [item["index"] for item in result["invalid"]] == [1, 4, 6]
    for item, case in zip(result["invalid"], bad):
        assert case.path in [e["field"] for e in item["errors"]]
        assert case.keyword in [e["keyword"] for e in item["errors"]]
    assert set(_stored(db, resource_id)) == {r["household_number"] for r in good}
    kept = _quarantined(db, resource_id)
    assert [q.row_number for q in kept] == [1, 4, 6]
    for row, case in zip(kept, bad):
        assert row.raw == case.record, "the raw record is kept as sent"
        assert row.status == "open" and row.source == "api"
        assert any(e["field"] == case.path and e["keyword"] == case.keyword and e["message"] for e in row.errors)
    # the change feed has only the valid records
    feed = api.call("datastore_changes", {"resource_id": resource_id}, token=org.editor.token).result
    assert len(feed["changes"]) == 6


def test_quarantine_of_a_batch_without_a_valid_record(api, make, org, db):
    resource_id = _table(api, make, org, "petition")
    bad = [case.record for case in broken("petition", 4, 5)]
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": bad, "on_invalid": "quarantine"},
                     token=org.editor.token)
    assert reply.status == 200, reply.body
    assert (reply.result["inserted"], reply.result["quarantined"]) == (0, 4)
    assert len(_quarantined(db, resource_id)) == 4


def test_skip_writes_the_valid_records_and_keeps_nothing_else(api, make, org, db):
    resource_id = _table(api, make, org, "service")
    good = list(GENERATORS["service"](3, 41))
    bad = [case for case in broken("service", 2, 42)]
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "on_invalid": "skip",
                                          "records": [bad[0].record, *good, bad[1].record]}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert (reply.result["inserted"], reply.result["skipped"], reply.result["quarantined"]) == (3, 2, 0)
    assert [item["index"] for item in reply.result["invalid"]] == [0, 4]
    assert reply.result["invalid"][1]["errors"][0]["field"] == bad[1].path
    assert set(_stored(db, resource_id)) == {r["case_number"] for r in good}
    assert _quarantined(db, resource_id) == []


def test_dry_run_with_quarantine_keeps_nothing(api, make, org, db):
    resource_id = _table(api, make, org, "household")
    good = list(GENERATORS["household"](2, 51))
    bad = next(broken("household", 1, 52))
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": [*good, bad.record],
                                          "on_invalid": "quarantine", "dry_run": True}, token=org.editor.token)
    assert reply.status == 200, reply.body
    assert (reply.result["inserted"], reply.result["quarantined"], reply.result["dry_run"]) == (2, 1, True)
    assert reply.result["invalid"][0]["index"] == 2
    assert _stored(db, resource_id) == {}
    assert _quarantined(db, resource_id) == []


def test_dry_run_of_an_invalid_batch_fails_like_the_real_call(api, make, org):
    resource_id = _table(api, make, org, "household")
    bad = next(broken("household", 1, 53))
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": [bad.record], "dry_run": True},
                     token=org.editor.token)
    assert reply.status == 409
    assert f"records.0.{bad.path}" in reply.error


def test_unknown_on_invalid_is_refused(api, make, org):
    resource_id = _table(api, make, org, "household")
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "on_invalid": "ignore",
                                          "records": list(GENERATORS["household"](1, 1))}, token=org.editor.token)
    assert reply.status == 409
    assert "on_invalid" in reply.error


def test_quarantined_row_numbers_count_from_the_first_row_of_the_batch(app, make, org, db):
    """Batched callers (file imports) pass ``first_row`` so row numbers point into the whole file."""
    resource_id = _table_by_service(app, make, org)
    actor = db.get(User, org.editor.id)
    table = service.get_table(db, resource_id)
    good = list(GENERATORS["household"](2, 61))
    bad = next(broken("household", 1, 62))
    counts = service.upsert_records(db, actor, table, [good[0], bad.record, good[1]], on_invalid="quarantine",
                                    source="import:households.csv", first_row=1000)
    db.commit()
    assert counts["invalid"][0]["index"] == 1001
    kept = _quarantined(db, resource_id)
    assert [(q.row_number, q.source) for q in kept] == [(1001, "import:households.csv")]
    with pytest.raises(Exception) as failed:
        service.upsert_records(db, actor, table, [bad.record], first_row=2000)
    assert f"records.2000.{bad.path}" in failed.value.errors
    db.rollback()


def _table_by_service(app, make, org) -> str:
    from catalog.datasets.resources import create_resource
    from catalog.datasets.service import get_dataset
    from catalog.db import get_db

    dataset = make.dataset(org.id, record_schema="household@1")
    with get_db(app).session() as session:
        actor = session.get(User, org.editor.id)
        resource = create_resource(session, actor, get_dataset(session, dataset["id"]),
                                   values={"url": "http://example.gov.cn/zh.csv"}, record=False)
        service.create_table(session, actor, resource)
        session.commit()
        return resource.id


# --- records that break the key or JSON itself -------------------------------------------------


@pytest.fixture
def coded(api, make, org) -> str:
    """A table described by fields, keyed by ``code``."""
    dataset = make.dataset(org.id, share_type="unconditional", share_condition=None)
    fields = [{"id": "code", "type": "text"}, {"id": "n", "type": "int"}, {"id": "x", "type": "numeric"},
              {"id": "extra", "type": "json"}]
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}, "primary_key": "code",
                                            "fields": fields}, token=org.editor.token)
    assert created.status == 200, created.body
    return created.result["resource_id"]


def test_a_record_without_its_key_is_invalid(api, coded, org):
    reply = api.call("datastore_upsert", {"resource_id": coded, "records": [{"code": "a"}, {"n": 1}]},
                     token=org.editor.token)
    assert reply.status == 409
    assert "records.1.code" in reply.error


def test_an_empty_key_is_invalid(api, coded, org, db):
    reply = api.call("datastore_upsert", {"resource_id": coded, "records": [{"code": ""}]}, token=org.editor.token)
    assert reply.status == 409
    assert reply.error["records.0.code"] == ["Missing value (primary key)"]
    quarantined = api.call("datastore_upsert", {"resource_id": coded, "on_invalid": "quarantine",
                                                "records": [{"code": ""}, {"code": "ok"}]}, token=org.editor.token)
    assert (quarantined.result["inserted"], quarantined.result["quarantined"]) == (1, 1)
    assert _quarantined(db, coded)[0].raw == {"code": ""}


def test_a_key_longer_than_500_characters_is_invalid(api, coded, org):
    reply = api.call("datastore_upsert", {"resource_id": coded, "records": [{"code": "户" * 501}]},
                     token=org.editor.token)
    assert reply.status == 409
    assert "500" in reply.error["records.0.code"][0]
    fits = api.call("datastore_upsert", {"resource_id": coded, "records": [{"code": "户" * 500}]},
                    token=org.editor.token)
    assert fits.status == 200, fits.body


def test_not_a_number_and_infinity_are_refused_with_the_field_named(api, client, coded, org, db):
    body = ('{"resource_id": "%s", "records": [{"code": "a", "x": NaN}, {"code": "b", "extra": {"v": [1, Infinity]}}]}'
            % coded)
    reply = client.post("/api/3/action/datastore_upsert", data=body, content_type="application/json",
                        headers={"Authorization": org.editor.token})
    assert reply.status_code == 409, reply.get_data(as_text=True)
    error = reply.get_json()["error"]
    assert "records.0.x" in error and "records.1.extra.v.1" in error
    body = body.replace('"records"', '"on_invalid": "quarantine", "records"')
    kept = client.post("/api/3/action/datastore_upsert", data=body, content_type="application/json",
                       headers={"Authorization": org.editor.token})
    assert kept.status_code == 200, kept.get_data(as_text=True)
    assert kept.get_json()["result"]["quarantined"] == 2
    assert [q.row_number for q in _quarantined(db, coded)] == [0, 1]
    search = api.call("datastore_search", {"resource_id": coded, "q": "a"}, token=org.editor.token)
    assert search.status == 200 and search.result["total"] == 0


def test_a_python_value_that_is_not_json_is_refused_by_the_service(coded, org, db):
    """Callers of the service (connectors) may pass Python values; one JSON cannot hold is named."""
    import datetime as dt

    from catalog.errors import ValidationError

    actor = db.get(User, org.editor.id)
    table = service.get_table(db, coded)
    with pytest.raises(ValidationError) as refused:
        service.upsert_records(db, actor, table, [{"code": "d", "extra": {"on": [dt.date(2026, 1, 3)]}}])
    assert "is not a JSON value" in refused.value.errors["records.0.extra.on.0"][0]
    db.rollback()
    counts = service.upsert_records(db, actor, table, [{"code": "d", "extra": {"on": dt.date(2026, 1, 3)}},
                                                       {"code": "e"}], on_invalid="quarantine")
    assert (counts["inserted"], counts["quarantined"]) == (1, 1)
    db.commit()
    assert _quarantined(db, coded)[0].raw == repr({"code": "d", "extra": {"on": dt.date(2026, 1, 3)}})
