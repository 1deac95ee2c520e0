"""The record schemas of the three shared datasets (schemas/records/*/1.json): sound Draft 2020-12
documents, labelled everywhere, saying what DOMAIN.md says, and accepting realistic records."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator

from schemas import list_schemas, load_schema
from schemas.formats import check_division_code, check_resident_id
from schemas.validation import (DRAFT_2020_12, check_record_schema, closed_schema, primary_key, record_validator,
                                sensitive_fields)

from . import records_samples as samples
from .records_samples import BREAKS, GENERATORS, TOWNS, break_record, broken

KINDS = ("household", "service", "petition")
CJK = re.compile(r"[\u4e00-\u9fff]")


def schema(kind: str) -> dict[str, Any]:
    return load_schema("records", kind, 1)


def properties(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema, by dotted path (``*`` for array items)."""
    for name, prop in (node.get("properties") or {}).items():
        here = f"{path}.{name}" if path else name
        yield here, prop
        yield from properties(prop, here)
        if isinstance(prop.get("items"), dict):
            yield from properties(prop["items"], f"{here}.*")


def nodes(node: Any) -> Iterator[dict[str, Any]]:
    """Every object inside a schema document (subschemas and keyword values alike)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from nodes(value)
    elif isinstance(node, list):
        for value in node:
            yield from nodes(value)


def messages(errors) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for error in errors:
        found.setdefault(error.path, []).append(error.message)
    return found


# --- the documents ------------------------------------------------------------------------------


def test_the_three_schemas_are_shipped():
    assert {(kind, 1) for kind in KINDS} <= set(list_schemas("records"))


@pytest.mark.parametrize("kind", KINDS)
def test_valid_draft_2020_12_document(kind):
    document = schema(kind)
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == DRAFT_2020_12
    assert document["$id"] == f"urn:catalog:schema:records:{kind}:1"
    assert (document["x-name"], document["x-version"]) == (kind, 1)
    assert document["type"] == "object"
    assert check_record_schema(document) == []


@pytest.mark.parametrize("kind, key", [("household", ["household_number"]), ("service", ["case_number"]),
                                       ("petition", ["petition_number"])])
def test_primary_key(kind, key):
    document = schema(kind)
    assert document["x-primary-key"] == key == primary_key(document)
    assert set(key) <= set(document["required"])
    assert all(document["properties"][k]["type"] == "string" for k in key)


@pytest.mark.parametrize("kind", KINDS)
def test_every_property_has_chinese_and_english_labels(kind):
    document = schema(kind)
    assert CJK.search(document["x-labels"]["zh"]) and document["x-labels"]["en"]
    found = list(properties(document))
    assert len(found) > 10
    for path, prop in found:
        labels = prop.get("x-labels")
        assert labels, f"{path} has no x-labels"
        assert CJK.search(labels.get("zh", "")), f"{path} has no Chinese label"
        assert labels.get("en", "").strip(), f"{path} has no English label"


@pytest.mark.parametrize("kind", KINDS)
def test_every_enum_has_labels_for_exactly_its_values(kind):
    enums = [node for node in nodes(schema(kind)) if "enum" in node and "x-labels" in node]
    assert enums
    for node in enums:
        labels = node.get("x-enumLabels")
        assert labels is not None, f"{node['x-labels']['en']} has no x-enumLabels"
        assert list(labels) == node["enum"], node["x-labels"]["en"]
        for value, label in labels.items():
            assert CJK.search(label["zh"]) and label["en"], value


@pytest.mark.parametrize("kind", KINDS)
def test_every_pattern_has_a_readable_message(kind):
    patterned = [node for node in nodes(schema(kind)) if isinstance(node.get("pattern"), str) and "type" in node]
    assert patterned
    for node in patterned:
        assert node.get("x-messages", {}).get("pattern"), node["pattern"]


@pytest.mark.parametrize("kind", KINDS)
def test_records_have_no_undeclared_fields_at_any_depth(kind):
    # An undeclared column could not be marked x-sensitive, so it would reach every reader in clear.
    document = schema(kind)
    assert document["additionalProperties"] is False
    assert closed_schema(document) == document, "the shipped schema is closed everywhere already"
    record = next(GENERATORS[kind](1, 0))
    record["备注"] = "部门自行增加的列"
    record["remark_code"] = 12
    assert messages(record_validator(kind, 1).errors(record)) == {
        "备注": ["unknown field: the schema does not declare it"],
        "remark_code": ["unknown field: the schema does not declare it"]}
    assert not record_validator(kind, 1).is_valid(record), "the compiled fast path refuses it too"
    nested = [path for path, prop in properties(document) if prop.get("type") == "object"]
    nested += [f"{path}.*" for path, prop in properties(document)
               if prop.get("type") == "array" and prop["items"].get("type") == "object"]
    assert nested
    for path in nested:
        node = document
        for part in path.split("."):
            node = node["items"] if part == "*" else node["properties"][part]
        assert node["additionalProperties"] is False, path


def test_sensitive_fields():
    assert sensitive_fields(schema("household")) == {
        "head_name": "name", "head_id_number": "resident-id", "members.*.name": "name",
        "members.*.id_number": "resident-id", "members.*.phone": "mobile", "address": "text"}
    assert sensitive_fields(schema("service")) == {
        "applicant.name": "name", "applicant.id_number": "resident-id", "applicant.phone": "mobile"}
    assert sensitive_fields(schema("petition")) == {
        "petitioner.name": "name", "petitioner.id_number": "resident-id", "petitioner.phone": "mobile",
        "content": "text", "reply": "text", "follow_up_visit.note": "text"}


@pytest.mark.parametrize("kind", KINDS)
def test_every_identifier_field_is_marked_sensitive(kind):
    document = schema(kind)
    marked = sensitive_fields(document)
    for path, prop in properties(document):
        if prop.get("format") in ("cn-resident-id", "cn-mobile"):
            assert marked.get(path) == {"cn-resident-id": "resident-id", "cn-mobile": "mobile"}[prop["format"]], path


# --- what DOMAIN.md says ------------------------------------------------------------------------


def member_schema() -> dict[str, Any]:
    return schema("household")["properties"]["members"]["items"]


def zh_labels(prop: dict[str, Any]) -> dict[str, str]:
    return {value: label["zh"] for value, label in prop["x-enumLabels"].items()}


def test_household_identifier_formats():
    props = schema("household")["properties"]
    assert props["household_number"]["format"] == "cn-household-number"
    assert props["head_id_number"]["format"] == "cn-resident-id"
    assert props["division_code"]["format"] == "cn-division-code"
    assert member_schema()["properties"]["id_number"]["format"] == "cn-resident-id"
    assert member_schema()["properties"]["phone"]["format"] == "cn-mobile"
    assert props["last_visit_date"]["format"] == "date"
    assert props["updated_at"]["format"] == "date-time"


def test_member_codes_follow_the_national_standards():
    member = member_schema()["properties"]
    assert zh_labels(member["sex"]) == {"1": "男", "2": "女"}  # GB/T 2261.1
    assert zh_labels(member["relation"]) == {  # GB/T 4761
        "01": "本人", "02": "户主", "10": "配偶", "20": "子", "30": "女", "40": "孙子女", "50": "父母", "99": "其他"}
    assert member["working_away"]["type"] == "boolean"
    assert member["working_away"]["x-labels"]["zh"] == "是否外出务工"
    assert schema("household")["properties"]["contact_cadre"]["x-labels"]["zh"] == "包联干部"
    assert schema("household")["properties"]["grid_worker"]["x-labels"]["zh"] == "网格员"


def test_service_value_lists():
    props = schema("service")["properties"]
    assert zh_labels(props["channel"]) == {"immediate": "马上办", "online": "网上办", "nearby": "就近办",
                                          "once": "一次办"}
    assert zh_labels(props["status"]) == {"accepted": "受理", "processing": "办理中", "completed": "办结",
                                         "rejected": "不予受理", "returned": "退件"}
    assert zh_labels(props["applicant"]["properties"]["type"]) == {"person": "自然人", "organisation": "法人或其他组织"}
    assert props["promised_days"]["type"] == "integer" and props["promised_days"]["minimum"] == 0
    assert "completed_at" not in schema("service")["required"]
    assert "satisfaction" not in schema("service")["required"]


def test_petition_value_lists():
    props = schema("petition")["properties"]
    assert zh_labels(props["channel"]) == {"letter": "来信", "visit": "来访", "online": "网上信访",
                                          "hotline": "12345 热线"}
    assert zh_labels(props["satisfaction"]) == {"satisfied": "满意", "basically_satisfied": "基本满意",
                                               "dissatisfied": "不满意"}
    for optional in ("extended_deadline", "completed_on", "follow_up_visit", "satisfaction", "reply"):
        assert optional not in schema("petition")["required"]
    for date_field in ("accepted_on", "deadline", "extended_deadline", "completed_on"):
        assert props[date_field]["format"] == "date"


# --- realistic records --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_two_hundred_generated_records_are_valid(kind):
    validator = record_validator(kind, 1)
    records = list(GENERATORS[kind](200, 2026))
    assert {index: validator.errors(r) for index, r in enumerate(records) if validator.errors(r)} == {}
    assert all(validator.is_valid(r) for r in records)
    keys = [tuple(r[k] for k in primary_key(validator.schema)) for r in records]
    assert len(set(keys)) == len(keys)


@pytest.mark.parametrize("kind", KINDS)
def test_generators_are_deterministic(kind):
    generate = GENERATORS[kind]
    assert list(generate(50, 1)) == list(generate(50, 1))
    assert list(generate(50, 1)) != list(generate(50, 2))
    assert list(generate(20, 1)) == list(generate(50, 1))[:20]


@pytest.mark.parametrize("kind", KINDS)
def test_generated_records_cover_the_value_lists(kind):
    records = list(GENERATORS[kind](400, 0))
    if kind == "household":
        relations = {m["relation"] for r in records for m in r["members"]}
        assert {"02", "10", "20", "30"} <= relations
        assert any(m.get("working_away") for r in records for m in r["members"])
        assert any(len(r["members"]) == 1 for r in records) and any(len(r["members"]) >= 4 for r in records)
    elif kind == "service":
        assert {r["status"] for r in records} == set(schema("service")["properties"]["status"]["enum"])
        assert {r["channel"] for r in records} == set(schema("service")["properties"]["channel"]["enum"])
        assert {r["applicant"]["type"] for r in records} == {"person", "organisation"}
    else:
        assert {r["status"] for r in records} == set(schema("petition")["properties"]["status"]["enum"])
        assert {r["channel"] for r in records} == set(schema("petition")["properties"]["channel"]["enum"])
        assert any("extended_deadline" in r for r in records)
        assert any("follow_up_visit" in r for r in records)


def test_households_are_consistent():
    towns = dict(TOWNS)
    for record in samples.households(300, 5):
        division = record["division_code"]
        assert check_division_code(division) is None
        assert division.startswith("610923") and 100 <= int(division[6:9]) <= 199  # 镇
        assert towns[record["town"]] == division[6:9]
        assert record["household_number"].startswith(division)
        head = record["members"][0]
        assert (head["relation"], head["name"], head["id_number"]) == ("02", record["head_name"],
                                                                       record["head_id_number"])
        for member in record["members"]:
            assert check_resident_id(member["id_number"]) is None
            male = int(member["id_number"][16]) % 2 == 1  # GB 11643: odd sequence = male
            assert member["sex"] == ("1" if male else "2")


def test_services_and_petitions_are_consistent():
    for record in samples.services(300, 5):
        if "completed_at" in record:
            assert record["completed_at"] >= record["accepted_at"]
        assert ("satisfaction" in record) <= (record["status"] == "completed")
    for record in samples.petitions(300, 5):
        accepted = dt.date.fromisoformat(record["accepted_on"])
        assert dt.date.fromisoformat(record["deadline"]) == accepted + dt.timedelta(days=60)
        if "extended_deadline" in record:
            extension = dt.date.fromisoformat(record["extended_deadline"]) - dt.date.fromisoformat(record["deadline"])
            assert dt.timedelta(days=1) <= extension <= dt.timedelta(days=30)
        if "completed_on" in record:
            assert dt.date.fromisoformat(record["completed_on"]) >= accepted


# --- invalid records: errors name the field -----------------------------------------------------


@pytest.mark.parametrize("kind, how", [(kind, how) for kind in KINDS for how in BREAKS[kind]])
def test_each_way_of_breaking_a_record_is_reported_at_its_field(kind, how):
    validator = record_validator(kind, 1)
    for record in GENERATORS[kind](5, 11):
        case = break_record(kind, record, how)
        errors = validator.errors(case.record)
        assert {(e.path, e.keyword) for e in errors} == {(case.path, case.keyword)}, (how, errors)
        assert all(e.message for e in errors)
        assert not validator.is_valid(case.record)
        assert validator.errors(record) == []  # the original is untouched


def test_second_member_with_a_wrong_check_digit():
    validator = record_validator("household", 1)
    record = next(r for r in samples.households(50, 0) if len(r["members"]) >= 3)
    good = record["members"][1]["id_number"]
    record["members"][1]["id_number"] = samples.wrong_check_char(good)
    assert messages(validator.errors(record)) == {
        "members.1.id_number": [f"resident ID check digit should be {good[17]} (GB 11643)"]}


def test_member_with_an_impossible_birth_date():
    case = break_record("household", next(samples.households(1, 0)), "member_id_birth_date")
    [message] = messages(record_validator("household", 1).errors(case.record))["members.0.id_number"]
    assert "19990230" in message and "not a real date" in message and "GB 11643" in message


def test_organisation_needs_a_valid_credit_code():
    validator = record_validator("service", 1)
    record = next(samples.services(1, 0))
    case = break_record("service", record, "organisation_bad_credit_code")
    [message] = messages(validator.errors(case.record))["applicant.credit_code"]
    assert "GB 32100" in message and "check character" in message
    case = break_record("service", record, "organisation_without_credit_code")
    assert messages(validator.errors(case.record)) == {"applicant.credit_code": ["Missing value"]}
    # a person needs an ID number and no credit code
    case = break_record("service", record, "person_without_id")
    assert messages(validator.errors(case.record)) == {"applicant.id_number": ["Missing value"]}


def test_completed_service_needs_completed_at():
    validator = record_validator("service", 1)
    record = next(r for r in samples.services(50, 0) if r["status"] == "processing")
    assert validator.errors(record) == []
    record["status"] = "completed"
    assert messages(validator.errors(record)) == {"completed_at": ["Missing value"]}


def test_working_away_needs_a_place_only_when_true():
    validator = record_validator("household", 1)
    record = next(samples.households(1, 0))
    record["members"][0].update(working_away=False)
    record["members"][0].pop("work_place", None)
    assert validator.errors(record) == []
    record["members"][0]["working_away"] = True
    assert messages(validator.errors(record)) == {"members.0.work_place": ["Missing value"]}


@pytest.mark.parametrize("kind, how, expected", [
    ("household", "division_code_county_only", "12-digit statistical division code"),
    ("household", "visit_date_with_slashes", "YYYY-MM-DD"),
    ("household", "updated_at_without_zone", "time zone"),
    ("household", "member_relation_unknown", "must be one of: 01, 02, 10, 20, 30, 40, 50, 99"),
    ("service", "item_code_in_chinese", "GB/T 39554.1"),
    ("service", "channel_in_chinese", "must be one of: immediate, online, nearby, once"),
    ("service", "fractional_promised_days", "must be an integer"),
    ("service", "accepted_at_trailing_newline", "RFC 3339"),
    ("petition", "deadline_not_a_date", "not a real calendar date"),
    ("petition", "petitioner_unknown_field", "unknown field: the schema does not declare it"),
])
def test_messages_are_readable(kind, how, expected):
    case = break_record(kind, next(GENERATORS[kind](1, 3)), how)
    [message] = messages(record_validator(kind, 1).errors(case.record))[case.path]
    assert expected in message


@pytest.mark.parametrize("kind", KINDS)
def test_broken_goes_round_every_way(kind):
    cases = list(broken(kind, 2 * len(BREAKS[kind]), 4))
    assert [c.how for c in cases] == list(BREAKS[kind]) * 2
    assert all(not record_validator(kind, 1).is_valid(c.record) for c in cases)
