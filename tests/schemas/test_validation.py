"""schemas/validation.py: the compiled fast path agrees with jsonschema, batches are split into valid
records and errors by index, and department schemas are checked before they are accepted."""
from __future__ import annotations

import copy
import random
from typing import Any

import fastjsonschema
import jsonschema
import pytest

from schemas import load_schema
from schemas.registry import FieldError, SchemaValidator, python_pattern
from schemas.validation import (SENSITIVE_KINDS, RecordValidator, check_record_schema, closed_schema,
                                primary_key, record_validator, sensitive_fields)

from .records_samples import GENERATORS, broken

KINDS = ("household", "service", "petition")
DRAFT = "https://json-schema.org/draft/2020-12/schema"


def reference(schema: dict[str, Any]) -> SchemaValidator:
    """jsonschema, Draft 2020-12, with our format checkers: the validator the fast path must match."""
    return SchemaValidator(schema)


def agree(schema: dict[str, Any], values: list[Any]) -> None:
    fast, slow = RecordValidator(schema), reference(schema)
    assert fast.fast
    for value in values:
        assert fast.is_valid(value) == slow.is_valid(value) == (slow.errors(value) == []), repr(value)


# --- the fast path ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_schemas_compile_for_the_fast_path(kind):
    validator = record_validator(kind, 1)
    assert validator.fast and validator.fast_path_problems == []
    assert record_validator(kind, 1) is validator  # cached


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_agrees_with_jsonschema_on_samples(kind):
    validator, slow = record_validator(kind, 1), reference(load_schema("records", kind, 1))
    valid = list(GENERATORS[kind](200, 99))
    invalid = [case.record for case in broken(kind, 200, 99)]
    assert all(validator.is_valid(r) and slow.is_valid(r) for r in valid)
    assert not any(validator.is_valid(r) or slow.is_valid(r) for r in invalid)


EDGE_VALUES = [None, True, False, 0, 5, 5.0, -1, 1.5, 1e308, "", " ", "\n", "0", "男", "2026-01-03",
               "2026-01-03T09:30:00+08:00", "13800138000", "610923100201", "11010519491231002X", [], {},
               {"name": "王芳"}, ["x"], "x" * 300]


def mutations(record: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """``record`` with one value somewhere replaced, edited or removed."""
    mutated = copy.deepcopy(record)
    parent: Any = mutated
    key: Any = rng.choice(list(parent))
    while isinstance(parent[key], (dict, list)) and parent[key] and rng.random() < 0.6:
        parent = parent[key]
        key = rng.choice(list(parent)) if isinstance(parent, dict) else rng.randrange(len(parent))
    value = parent[key]
    action = rng.randrange(6)
    if action == 0 and isinstance(parent, dict):
        del parent[key]
    elif action == 1 and isinstance(value, str) and value:
        parent[key] = rng.choice([value + "\n", value[:-1], " " + value, value.lower(),
                                  value.translate({ord(d): ord(d) - ord("0") + ord("０") for d in "0123456789"})])
    elif action == 2 and isinstance(parent, dict):
        parent["extra_" + str(rng.randrange(3))] = rng.choice(EDGE_VALUES)
    else:
        parent[key] = copy.deepcopy(rng.choice(EDGE_VALUES))
    return mutated


@pytest.mark.parametrize("kind", KINDS)
def test_fast_path_agrees_with_jsonschema_on_random_mutations(kind):
    rng = random.Random(kind)
    records = list(GENERATORS[kind](100, 7))
    mutated = [mutations(rng.choice(records), rng) for _ in range(600)]
    slow = reference(load_schema("records", kind, 1))
    assert sum(not slow.is_valid(r) for r in mutated) > 300  # most mutations break the record
    agree(load_schema("records", kind, 1), mutated)


@pytest.mark.parametrize("value", [None, [], "record", 12, [{"household_number": "610923100201010001"}]])
def test_a_record_that_is_not_an_object(value):
    validator = record_validator("household", 1)
    assert not validator.is_valid(value)
    assert [e.keyword for e in validator.errors(value)] == ["type"]


def test_formats_agree_with_the_detailed_path():
    schema = {"$schema": DRAFT, "type": "object", "properties": {
        name: {"type": "string", "format": name} for name in
        ("date", "date-time", "email", "uuid", "ipv4", "cn-uscc", "cn-mobile", "made-up-format")}}
    values = ["2026-01-03", "2024-02-29", "2026-02-29", "2026-1-3", "２０２６-01-03", "2026-01-03\n", "0000-01-01",
              "2026-01-03T09:30:00+08:00", "2026-01-03t09:30:00z", "2026-01-03T09:30:00.123Z",
              "2026-01-03T09:30:00", "2026-01-03 09:30:00+08:00", "2026-01-03T09:30:00+0800",
              "2026-01-03T23:59:60Z", "2026-01-03T24:00:00Z", "2026-01-03T09:30:00+08:00\n",
              "a@b.cn", "not an email", "123e4567-e89b-12d3-a456-426614174000", "123e4567", "10.0.0.1",
              "10.0.0.256", "11100000000013127D", "11100000000013127A", "13800138000", "12800138000", ""]
    agree(schema, [{name: value} for value in values for name in schema["properties"]])


def test_integers_numbers_and_booleans_agree():
    schema = {"$schema": DRAFT, "type": "object", "properties": {
        "i": {"type": "integer", "minimum": 0}, "n": {"type": ["number", "null"], "maximum": 10},
        "b": {"type": "boolean"}, "e": {"enum": [1, "1", None]}, "c": {"const": False},
        "u": {"type": "array", "uniqueItems": True}}}
    values = [5, 5.0, 5.5, -1, True, False, None, "5", 1e308, 0, 1, 1.0, "1", [1, 1.0], [1, True], [[1], [1.0]],
              [{"a": 1}, {"a": True}], 10.0, 10.5]
    agree(schema, [{name: value} for value in values for name in schema["properties"]])


def test_patterns_follow_ecma_262_in_both_paths():
    schema = {"$schema": DRAFT, "type": "object", "properties": {
        "code": {"type": "string", "pattern": r"^\d{6}$"}, "money": {"type": "string", "pattern": "^[$][0-9]+$"},
        "tag": {"type": "string", "pattern": r"^[\w-]+$"}, "free": {"type": "string", "pattern": "ab"}}}
    values = ["610923", "610923\n", "６１０９２３", "٦١٠٩٢٣", "61092", "$12", "$12\n", "12", "宁陕-县", "ab", "xaby", "a\nb"]
    agree(schema, [{name: value} for value in values for name in schema["properties"]])
    validator = RecordValidator(schema)
    assert validator.is_valid({"code": "610923", "money": "$5", "tag": "宁陕县"})  # \w stays Unicode, as in Python
    assert not validator.is_valid({"code": "６１０９２３"})  # \d is ASCII only, as in ECMA-262
    assert not validator.is_valid({"code": "610923\n"})  # $ is the very end


def test_ref_with_siblings_applies_both_as_in_2020_12():
    schema = {"$schema": DRAFT, "type": "object", "$defs": {"code": {"type": "string", "minLength": 2}},
              "properties": {"a": {"$ref": "#/$defs/code", "maxLength": 3}}}
    agree(schema, [{"a": "x"}, {"a": "xy"}, {"a": "xyz"}, {"a": "wxyz"}, {"a": 1}])
    assert not RecordValidator(schema).is_valid({"a": "wxyz"})


def test_draft_07_keywords_are_not_asserted():
    # "dependencies" and "additionalItems" mean nothing in 2020-12: neither path applies them
    schema = {"$schema": DRAFT, "type": "object", "dependencies": {"a": ["b"]},
              "properties": {"l": {"type": "array", "items": {"type": "integer"}, "additionalItems": False},
                             "s": {"type": "string", "contentEncoding": "base64"}}}
    agree(schema, [{"a": 1}, {"l": [1, 2]}, {"s": "not base64!"}])
    assert RecordValidator(schema).is_valid({"a": 1})


def test_defaults_are_not_filled_in():
    schema = {"$schema": DRAFT, "type": "object", "properties": {"status": {"type": "string", "default": "accepted"}}}
    record: dict[str, Any] = {}
    assert RecordValidator(schema).is_valid(record)
    assert record == {}


@pytest.mark.parametrize("keyword, schema, bad, good", [
    ("prefixItems", {"type": "array", "prefixItems": [{"type": "string"}]}, [1], ["x", 1]),
    ("dependentRequired", {"type": "object", "dependentRequired": {"x": ["y"]}}, {"x": 1}, {"x": 1, "y": 2}),
    ("unevaluatedProperties", {"type": "object", "properties": {"x": {}}, "unevaluatedProperties": False},
     {"x": 1, "z": 2}, {"x": 1}),
])
def test_keywords_fastjsonschema_does_not_know_fall_back_to_jsonschema(keyword, schema, bad, good):
    # fastjsonschema would compile these and ignore the keyword; the validator must not
    document = {"$schema": DRAFT, "type": "object", "properties": {"v": schema}}
    validator = RecordValidator(document)
    assert not validator.fast
    assert any(keyword in problem for problem in validator.fast_path_problems)
    assert not validator.is_valid({"v": bad}) and validator.errors({"v": bad})
    assert validator.is_valid({"v": good})


def test_remote_references_are_never_fetched():
    document = {"$schema": DRAFT, "type": "object",
                "properties": {"v": {"$ref": "http://127.0.0.1:9/schema.json"}}}
    assert not RecordValidator(document).fast
    problems = check_record_schema({**document, "x-primary-key": ["v"], "required": ["v"]})
    assert any("self-contained" in p for p in problems)


def test_an_invalid_schema_is_refused():
    with pytest.raises(jsonschema.SchemaError):
        RecordValidator({"type": "objet"})


def test_a_table_schema_without_a_primary_key_is_fine():
    # DataStore tables defined by CKAN "fields" have no labels and may have no primary key
    schema = {"$schema": DRAFT, "type": "object", "properties": {"n": {"type": "integer"}, "j": {}},
              "required": [], "x-primary-key": []}
    validator = RecordValidator(schema)
    assert validator.fast and primary_key(schema) == []
    assert validator.validate_many([{"n": 1, "j": [1]}, {"n": "1"}]) == (
        [0], {1: [FieldError("n", "type", "must be an integer")]})


# --- batches ------------------------------------------------------------------------------------


def test_validate_many_splits_a_batch():
    validator = record_validator("service", 1)
    good = list(GENERATORS["service"](6, 1))
    cases = list(broken("service", 3, 1))
    batch = [good[0], cases[0].record, good[1], good[2], cases[1].record, cases[2].record, good[3]]
    valid, errors = validator.validate_many(iter(batch))
    assert valid == [0, 2, 3, 6]
    assert sorted(errors) == [1, 4, 5]
    for index, case in zip((1, 4, 5), cases):
        assert {(e.path, e.keyword) for e in errors[index]} == {(case.path, case.keyword)}
    assert validator.validate_many([]) == ([], {})


def test_validate_many_takes_jsonschemas_word_when_the_fast_path_disagrees():
    validator = RecordValidator(load_schema("records", "petition", 1))

    def rejects_everything(record):
        raise fastjsonschema.JsonSchemaValueException("no")

    validator._fast = rejects_everything
    records = list(GENERATORS["petition"](3, 0)) + [case.record for case in broken("petition", 2, 0)]
    valid, errors = validator.validate_many(records)
    assert valid == [0, 1, 2] and sorted(errors) == [3, 4]
    assert validator.disagreements == 3


def test_an_exception_inside_the_compiled_function_falls_back():
    validator = record_validator("household", 1)
    fast = validator._fast

    def broken_function(record):
        raise OverflowError("cannot convert float infinity to integer")

    try:
        validator._fast = broken_function
        assert validator.is_valid(next(GENERATORS["household"](1, 0)))
        assert not validator.is_valid({})
    finally:
        validator._fast = fast


# --- schema extensions --------------------------------------------------------------------------


def test_primary_key_reads_the_extension():
    assert primary_key({"x-primary-key": ["a", "b"]}) == ["a", "b"]
    assert primary_key({"x-primary-key": "a"}) == ["a"]
    assert primary_key({}) == []


def test_sensitive_fields_follow_nesting_refs_and_conditionals():
    schema = {
        "$schema": DRAFT, "type": "object",
        "$defs": {"person": {"type": "object", "properties": {
            "name": {"type": "string", "x-sensitive": "name"},
            "phones": {"type": "array", "items": {"type": "string", "x-sensitive": "mobile"}}}}},
        "properties": {
            "owner": {"$ref": "#/$defs/person"},
            "rooms": {"type": "array", "items": {"type": "array", "items": {"$ref": "#/$defs/person"}}},
            "note": {"type": "string", "x-sensitive": "text"},
        },
        "allOf": [{"if": {"required": ["note"]}, "then": {"properties": {"id": {"x-sensitive": "resident-id"}}}}],
    }
    assert sensitive_fields(schema) == {
        "owner.name": "name", "owner.phones.*": "mobile", "rooms.*.*.name": "name",
        "rooms.*.*.phones.*": "mobile", "note": "text", "id": "resident-id"}


def recursive_schema() -> dict[str, Any]:
    return {"$schema": DRAFT, "type": "object", "x-primary-key": ["id"], "required": ["id"],
            "$defs": {"node": {"type": "object", "properties": {
                "name": {"type": "string", "x-sensitive": "name"},
                "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}}},
            "properties": {"id": {"type": "string"}, "root": {"$ref": "#/$defs/node"}}}


def test_recursive_schemas_are_refused_but_do_not_hang():
    # a tree of unbounded depth has no finite list of sensitive paths
    assert sensitive_fields(recursive_schema()) == {"root.name": "name"}  # not expanded inside itself
    problems = check_record_schema(recursive_schema())
    assert problems == ["$ref '#/$defs/node' is recursive: a record schema must describe records of bounded "
                        "depth (so that every sensitive field has a path)"]
    validator = RecordValidator(recursive_schema())  # still validates, to any depth
    deep = {"id": "1", "root": {"name": "a", "children": [{"name": "b", "children": [{"name": 3}]}]}}
    assert validator.fast and not validator.is_valid(deep)
    assert [e.path for e in validator.errors(deep)] == ["root.children.0.children.0.name"]


# --- accepting a department's schema ------------------------------------------------------------


def department_schema(**changes: Any) -> dict[str, Any]:
    schema = {
        "$schema": DRAFT, "title": "低保对象名册", "type": "object", "x-primary-key": ["id_number"],
        "properties": {
            "id_number": {"type": "string", "format": "cn-resident-id", "x-sensitive": "resident-id",
                          "x-labels": {"zh": "公民身份号码", "en": "Resident ID"}},
            "name": {"type": "string", "x-sensitive": "name", "x-labels": {"zh": "姓名", "en": "Name"}},
            "amount": {"type": "number", "minimum": 0, "x-labels": {"zh": "保障金额", "en": "Amount"}},
        },
        "required": ["id_number", "name"],
    }
    for key, value in changes.items():
        if value is None:
            schema.pop(key, None)
        else:
            schema[key] = value
    return schema


@pytest.mark.parametrize("kind", KINDS)
def test_our_schemas_are_acceptable(kind):
    assert check_record_schema(load_schema("records", kind, 1)) == []


def test_a_department_schema_is_acceptable():
    assert check_record_schema(department_schema()) == []
    assert check_record_schema(department_schema(**{"$schema": None})) == []  # 2020-12 is the default


def bad_property(prop: dict[str, Any]) -> dict[str, Any]:
    schema = department_schema()
    schema["properties"]["extra"] = prop
    return schema


@pytest.mark.parametrize("schema, expected", [
    ([1, 2], "must be a JSON object"),
    (department_schema(type="objet"), "not a valid JSON Schema (Draft 2020-12) at /type"),
    (department_schema(properties={"a": {"type": "string", "minLength": -1}}, required=[], **{"x-primary-key": []}),
     "not a valid JSON Schema (Draft 2020-12) at /properties/a/minLength"),
    (department_schema(type="array"), 'top-level type must be "object"'),
    (department_schema(type=None), 'top-level type must be "object"'),
    (department_schema(**{"$schema": "http://json-schema.org/draft-07/schema#"}), "Draft 2020-12"),
    (department_schema(**{"x-primary-key": None}), "x-primary-key is missing"),
    (department_schema(**{"x-primary-key": []}), "x-primary-key is empty"),
    (department_schema(**{"x-primary-key": "id_number"}), "x-primary-key must be a list of property names"),
    (department_schema(**{"x-primary-key": ["身份证号"]}), "x-primary-key names 身份证号, which is not a top-level property"),
    (department_schema(**{"x-primary-key": ["amount"]}), "x-primary-key property amount must be listed in required"),
    (department_schema(**{"x-primary-key": ["id_number", "id_number"]}), "more than once"),
    (bad_property({"type": "string", "x-sensitive": "phone"}),
     "x-sensitive at /properties/extra is 'phone'; it must be one of: resident-id, mobile, name, text"),
    (bad_property({"type": "array", "items": {"type": "object", "properties": {"p": {"x-sensitive": True}}}}),
     "x-sensitive at /properties/extra/items/properties/p"),
    (bad_property({"type": "string", "pattern": "^[0-9"}), "not a valid"),
    (bad_property({"type": "array", "prefixItems": [{"type": "string"}]}),
     "keyword prefixItems at /properties/extra is not supported"),
    (bad_property({"type": "object", "dependentRequired": {"a": ["b"]}}), "keyword dependentRequired"),
    (bad_property({"$ref": "https://example.org/person.json"}), "must be self-contained"),
    (bad_property({"$id": "https://example.org/x", "type": "string"}), "only the top level may have an $id"),
])
def test_unacceptable_schemas_are_refused_with_a_clear_message(schema, expected):
    problems = check_record_schema(schema)
    assert problems, expected
    assert any(expected in problem for problem in problems), problems


def test_primary_key_must_be_a_single_value():
    schema = department_schema(**{"x-primary-key": ["tags"]}, required=["tags"])
    schema["properties"]["tags"] = {"type": "array"}
    assert any("not an object or array" in p for p in check_record_schema(schema))


def test_every_problem_is_reported_at_once():
    schema = department_schema(type="array", **{"x-primary-key": ["nope"]})
    schema["properties"]["name"]["x-sensitive"] = "secret"
    problems = check_record_schema(schema)
    assert len(problems) == 3, problems


def test_sensitive_kinds():
    assert SENSITIVE_KINDS == ("resident-id", "mobile", "name", "text")


# --- fixes in the registry this module relies on -------------------------------------------------


def test_a_failed_any_of_is_reported():
    validator = SchemaValidator({"type": "object", "properties": {
        "contact": {"anyOf": [{"type": "string", "format": "cn-mobile"},
                              {"type": "string", "pattern": "^0[0-9]{2,3}-[0-9]{7,8}$"}]}}})
    assert validator.errors({"contact": "13800138000"}) == []
    errors = validator.errors({"contact": "12345"})
    assert [(e.path, e.keyword) for e in errors] == [("contact", "anyOf")]
    assert errors[0].message.startswith("must match one of the allowed forms")


def test_python_pattern():
    assert python_pattern(r"^\d{6}$") == r"^[0-9]{6}\Z"
    assert python_pattern(r"^[\d-]+$") == r"^[0-9-]+\Z"
    assert python_pattern(r"^\D$") == r"^[^0-9]\Z"
    assert python_pattern(r"^[$]\\d$") == r"^[\$]\\d\Z"


def test_date_time_refuses_a_trailing_newline_in_the_detailed_path_too():
    validator = SchemaValidator({"properties": {"t": {"type": "string", "format": "date-time"}}})
    assert validator.errors({"t": "2026-01-03T09:30:00+08:00"}) == []
    [error] = validator.errors({"t": "2026-01-03T09:30:00+08:00\n"})
    assert error.keyword == "format" and "RFC 3339" in error.message


def test_const_and_conditionals_agree_in_the_fast_path():
    # the fast path compiles const as a one-value enum and words no message for a failed branch
    schema = {"$schema": DRAFT, "type": "object", "properties": {
        "flag": {"const": True}, "n": {"const": 1, "enum": [1, 2]}, "s": {"const": "是", "allOf": [{"type": "string"}]},
        "o": {"const": {"a": [1, None]}},
        "items": {"type": "array", "items": {
            "type": "object", "if": {"properties": {"away": {"const": True}}, "required": ["away"]},
            "then": {"required": ["place"]}, "else": {"not": {"required": ["place"]}}}}}}
    values = [{}, {"flag": True}, {"flag": 1}, {"flag": 1.0}, {"flag": "true"}, {"n": 1}, {"n": True}, {"n": 2},
              {"n": 1.0}, {"s": "是"}, {"s": "否"}, {"o": {"a": [1, None]}}, {"o": {"a": [True, None]}},
              {"o": {"a": [1]}}, {"items": [{"away": True, "place": "x"}, {"away": False}, {}]},
              {"items": [{"away": True}]}, {"items": [{"away": False, "place": "x"}]}, {"items": [{"away": 1}]}]
    agree(schema, values)


# --- closed schemas -----------------------------------------------------------------------------

#: a department schema that declares fields in several places and says nothing of others
SPREAD = {
    "$schema": DRAFT, "type": "object", "x-primary-key": ["id"],
    "properties": {"id": {"type": "string"}, "status": {"type": "string"},
                   "contact": {"$ref": "#/$defs/contact"},
                   "visits": {"type": "array", "items": {"type": "object", "properties": {"on": {"type": "string"}}}},
                   "extra": {"type": "object"}},
    "required": ["id"],
    "allOf": [{"if": {"properties": {"status": {"const": "done"}, "flag": {"const": 1}}, "required": ["status"]},
               "then": {"properties": {"reply": {"type": "string"}}, "required": ["reply"]}}],
    "$defs": {"contact": {"type": "object", "properties": {"phone": {"type": "string", "x-sensitive": "mobile"}}}},
}


def test_closed_schema_refuses_undeclared_fields_at_every_depth_and_both_paths_agree():
    closed = closed_schema(SPREAD)
    assert "additionalProperties" not in SPREAD, "the input is untouched"
    assert closed["additionalProperties"] is False
    assert closed["properties"]["reply"] == {}, "declared in then: allowed beside additionalProperties"
    assert "flag" not in closed["properties"], "an if only tests; it declares nothing"
    assert closed["$defs"] == SPREAD["$defs"], "what a $ref points at is never changed"
    assert closed["properties"]["contact"]["additionalProperties"] is False
    assert closed["properties"]["visits"]["items"]["additionalProperties"] is False
    assert "additionalProperties" not in closed["properties"]["extra"], "an object declaring nothing stays open"
    assert closed_schema(closed) == closed
    assert sensitive_fields(closed) == sensitive_fields(SPREAD) == {"contact.phone": "mobile"}
    good = {"id": "1", "status": "done", "reply": "已办", "contact": {"phone": "13800138000"},
            "visits": [{"on": "2026-01-03"}], "extra": {"anything": 1}}
    agree(closed, [good, {**good, "flag": 1}, {**good, "contact": {"phone": "1", "wechat": "x"}},
                   {**good, "visits": [{"on": "x", "by": "李四"}]}, {"id": "2"}, {"id": "3", "phone": "1"}])
    errors = RecordValidator(closed).errors({**good, "flag": 1, "contact": {"phone": "1", "wechat": "x"}})
    assert [(e.path, e.keyword) for e in errors] == [("contact.wechat", "additionalProperties"),
                                                      ("flag", "additionalProperties")]


def test_a_schema_that_opens_an_object_on_purpose_stays_open():
    opened = {**SPREAD, "additionalProperties": {"type": "string"}}
    closed = closed_schema(opened)
    assert closed["additionalProperties"] == {"type": "string"}
    assert RecordValidator(closed).is_valid({"id": "1", "note": "备注"})
    patterned = closed_schema({**SPREAD, "patternProperties": {"^x_": {}}})
    assert "additionalProperties" not in patterned
