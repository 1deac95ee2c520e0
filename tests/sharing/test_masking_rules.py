"""The masking rules as pure functions: which paths a grant covers, which paths a reader sees masked,
how a record is masked (and never the caller's own copy), and which fields a schema declares.
Values are masked by hand here (SECURITY.md's forms), never with the functions under test.
"""
from __future__ import annotations

import copy
import json

import pytest

from catalog.sharing import masking

SCHEMA = {
    "type": "object",
    "x-primary-key": ["id_number"],
    "$defs": {"person": {"type": "object", "properties": {
        "name": {"type": "string", "x-sensitive": "name"},
        "id_number": {"type": "string", "x-sensitive": "resident-id"}}}},
    "properties": {
        "id_number": {"type": "string", "x-sensitive": "resident-id"},
        "address": {"type": "string", "x-sensitive": "text"},
        "town": {"type": "string"},
        "members": {"type": "array", "items": {"allOf": [{"$ref": "#/$defs/person"}, {"properties": {
            "phone": {"type": "string", "x-sensitive": "mobile"}, "sex": {"type": "string"}}}]}},
        "aliases": {"type": "array", "items": {"type": "string", "x-sensitive": "name"}},
        "contact": {"type": "object", "properties": {"mobile": {"type": "string", "x-sensitive": "mobile"}}},
    },
    "if": {"properties": {"town": {"const": "城关镇"}}},
    "then": {"properties": {"bank_account": {"type": "string", "x-sensitive": "text"}}},
}

RECORD = {
    "id_number": "610923198001010010", "address": "城关镇东街12号", "town": "城关镇",
    "members": [{"name": "王建国", "id_number": "610923198001010010", "phone": "13912345678", "sex": "1"},
                {"name": "李秀英", "id_number": "610923198506150027", "sex": "2"}],
    "aliases": ["王二", "老王"], "contact": {"mobile": "15091512345"}, "bank_account": "6222020200112345678",
}

ALL_PATHS = {"id_number": "resident-id", "address": "text", "members.*.name": "name",
             "members.*.id_number": "resident-id", "members.*.phone": "mobile", "aliases.*": "name",
             "contact.mobile": "mobile", "bank_account": "text"}


@pytest.mark.parametrize("path, granted, covered", [
    ("members.*.phone", {"members"}, True),              # a parent covers its children
    ("members.*.phone", {"members.phone"}, True),        # the array step may be left out
    ("members.*.phone", {"members.*.phone"}, True),
    ("members.*.phone", {"members.*"}, True),
    ("members.*.phone", {"members.name"}, False),
    ("members.*.phone", {"phone"}, False),               # a child name alone covers nothing
    ("members.*.phone", set(), False),
    ("contact.mobile", {"contact"}, True),
    ("contact.mobile", {"contact.mobile", "address"}, True),
    ("contact.mobile", {"contac"}, False),
    ("id_number", {"id_number"}, True),
    ("id_number", {"id_number.x"}, False),
    ("aliases.*", {"aliases"}, True),
    ("members.*.phone", {""}, False),                    # an empty name covers nothing
])
def test_which_paths_a_grant_covers(path, granted, covered):
    assert masking.covered(path, granted) is covered


def test_masked_paths_for_owner_grantee_and_stranger():
    assert masking.masked_paths(SCHEMA, None) == {}                      # the owner department
    assert masking.masked_paths(SCHEMA, set()) == ALL_PATHS              # no grant: every sensitive path
    granted = masking.masked_paths(SCHEMA, {"members", "bank_account"})
    assert granted == {k: v for k, v in ALL_PATHS.items() if not k.startswith("members") and k != "bank_account"}


def test_a_record_is_masked_at_every_depth_and_the_original_is_untouched():
    original = copy.deepcopy(RECORD)
    masked = masking.mask_record(RECORD, ALL_PATHS)
    assert RECORD == original
    assert masked == {
        "id_number": "610923********0010", "address": "***", "town": "城关镇",
        "members": [{"name": "王**", "id_number": "610923********0010", "phone": "139****5678", "sex": "1"},
                    {"name": "李**", "id_number": "610923********0027", "sex": "2"}],
        "aliases": ["王*", "老*"],
        "contact": {"mobile": "150****2345"}, "bank_account": "***",
    }


def test_sensitive_items_of_an_array_of_strings_are_masked():
    assert masking.mask_record(RECORD, {"aliases.*": "name"})["aliases"] == ["王*", "老*"]


def test_masking_in_place_changes_the_callers_copy_only_when_asked():
    mine = copy.deepcopy(RECORD)
    result = masking.mask_record(mine, {"address": "text"}, in_place=True)
    assert result is mine and mine["address"] == "***"
    again = copy.deepcopy(RECORD)
    assert masking.mask_record(again, {"address": "text"}) is not again and again["address"] == RECORD["address"]


def test_nothing_to_mask_returns_the_record_itself():
    assert masking.mask_record(RECORD, {}) is RECORD


@pytest.mark.parametrize("record, paths, expected", [
    ({"members": "not a list"}, {"members.*.name": "name"}, {"members": "not a list"}),
    ({"contact": ["not", "a", "dict"]}, {"contact.mobile": "mobile"}, {"contact": ["not", "a", "dict"]}),
    ({"town": "城关镇"}, {"address": "text"}, {"town": "城关镇"}),                 # absent: not added
    ({"members": [{"sex": "1"}, "odd item"]}, {"members.*.name": "name"}, {"members": [{"sex": "1"}, "odd item"]}),
    ({"address": None, "id_number": ""}, {"address": "text", "id_number": "resident-id"},
     {"address": None, "id_number": ""}),
    ({"address": 12}, {"address": "text"}, {"address": "***"}),
])
def test_odd_shapes_are_left_alone_or_withheld(record, paths, expected):
    assert masking.mask_record(record, paths) == expected


def test_the_top_level_fields_holding_masked_values():
    assert masking.top_level_masked(ALL_PATHS) == {"id_number", "address", "members", "aliases", "contact",
                                                   "bank_account"}
    assert masking.top_level_masked({}) == set()


@pytest.mark.parametrize("kind, value, masked", [
    ("resident-id", "610923198001010010", "610923********0010"),
    ("resident-id", "61092319800101001X", "610923********001X"),
    ("mobile", "13912345678", "139****5678"),
    ("name", "王建国", "王**"),
    ("name", "欧阳娜娜", "欧***"),
    ("name", "王", "王*"),
    ("text", "城关镇东街12号", "***"),
    ("text", "", ""),                      # nothing to hide: an empty value stays empty
    ("mobile", "", ""),
    ("no-such-kind", "城关镇东街12号", "***"),
])
def test_each_kind(kind, value, masked):
    assert masking.mask_value(kind, value) == masked


def test_undeclared_fields_are_dropped_at_every_depth_feed_members_kept():
    shape = masking.declared_shape(SCHEMA)
    record = {**RECORD, "secret_note": "不该出现", "_seq": 7, "_key": "k", "_deleted": False,
              "members": [{**RECORD["members"][0], "pet": "狗"}], "contact": {"mobile": "15091512345", "qq": "1"}}
    kept = masking.without_undeclared(record, shape)
    assert "secret_note" not in kept and "pet" not in kept["members"][0] and "qq" not in kept["contact"]
    assert (kept["_seq"], kept["_key"], kept["_deleted"]) == (7, "k", False)
    assert kept["bank_account"] == RECORD["bank_account"]        # declared under then: kept
    assert kept["members"][0]["phone"] == "13912345678"           # declared under allOf: kept
    assert kept["members"][0]["name"] == "王建国"                  # declared behind $ref: kept
    assert record["secret_note"] == "不该出现"                    # the input is not changed


def test_a_schema_without_properties_declares_anything():
    shape = masking.declared_shape({"type": "object"})
    assert masking.without_undeclared({"a": 1, "b": {"c": 2}}, shape) == {"a": 1, "b": {"c": 2}}


def _encode(values, primary_key):
    names = [values.get(name) for name in primary_key]
    return names[0] if len(names) == 1 else json.dumps(names, ensure_ascii=False)


def test_the_feed_key_is_rebuilt_from_masked_key_fields_only_when_one_is_masked():
    entry = {"village": "东街", "id_number": "510100********0051"}
    assert masking.masked_key(entry, ["id_number"], {"id_number": "resident-id"}, _encode) == "510100********0051"
    assert masking.masked_key(entry, ["village", "id_number"], {"id_number": "resident-id"}, _encode) == \
        '["东街", "510100********0051"]'
    assert masking.masked_key(entry, ["village"], {"id_number": "resident-id"}, _encode) is None


def test_every_way_a_schema_declares_a_field_counts():
    schema = {
        "$defs": {"node": {"type": "object", "properties": {"label": {"type": "string"},
                                                            "child": {"$ref": "#/$defs/node"}}}},
        "properties": {
            "a": {"anyOf": [{"properties": {"x": {"type": "string"}}}, {"properties": {"y": {"type": "string"}}}]},
            "b": {"oneOf": [{"properties": {"z": {"type": "string"}}}]},
            "c": {"if": {"properties": {"k": {"const": 1}}}, "then": {"properties": {"t": {"type": "string"}}},
                  "else": {"properties": {"e": {"type": "string"}}}},
            "tree": {"$ref": "#/$defs/node"},            # recursive: expanded once, not forever
            "tags": {"type": "array"},                   # items not declared: anything
        },
    }
    shape = masking.declared_shape(schema)
    record = {"a": {"x": "1", "y": "2", "w": "no"}, "b": {"z": "3", "w": "no"}, "c": {"t": "4", "e": "5", "w": "no"},
              "tree": {"label": "root", "child": {"label": "leaf", "w": "no"}, "w": "no"},
              "tags": [{"free": 1}, "x"], "w": "no"}
    assert masking.without_undeclared(record, shape) == {
        "a": {"x": "1", "y": "2"}, "b": {"z": "3"}, "c": {"t": "4", "e": "5"},
        # a recursive $ref is expanded once (record schemas with one are refused at registration)
        "tree": {"label": "root", "child": {"label": "leaf", "w": "no"}}, "tags": [{"free": 1}, "x"]}


def test_a_reference_under_then_or_else_is_followed():
    schema = {"$defs": {"extra": {"properties": {"note": {"type": "string"}}}},
              "properties": {"kind": {"type": "string"}},
              "if": {"properties": {"kind": {"const": "a"}}}, "then": {"$ref": "#/$defs/extra"},
              "else": {"allOf": [{"$ref": "#/$defs/extra"}]}}
    shape = masking.declared_shape(schema)
    assert masking.without_undeclared({"kind": "a", "note": "n", "w": 1}, shape) == {"kind": "a", "note": "n"}
