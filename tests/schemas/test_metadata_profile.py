"""The core metadata profile (schemas/metadata/dataset/1.json): a sound schema whose rules say what
GB/T 21063.3 and the sharing rules require, labelled in Chinese and English."""
from __future__ import annotations

import copy
import re
from typing import Any, Iterator

import pytest
from jsonschema import Draft202012Validator

from catalog.datasets.models import Dataset
from catalog.datasets.service import METADATA_FIELDS
from catalog.datasets.validation import metadata_errors
from schemas import get_validator, list_schemas, load_schema

CJK = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def profile() -> dict[str, Any]:
    return load_schema("metadata", "dataset", 1)


def complete() -> dict[str, Any]:
    """A complete, published document as the service validates it."""
    return {
        "name": "household-register", "title": "宁陕县户籍人口信息表", "notes": "全县户籍人口基本信息",
        "state": "active", "private": False, "resource_code": "101001/000001", "category": "101",
        "share_type": "conditional", "share_condition": "仅限民政部门", "open_type": "none",
        "open_condition": "含个人信息", "update_cycle": "monthly", "publish_date": "2026-01-03",
        "share_method": {"channel": "platform", "type": "api"}, "related_codes": ["101001/000002"],
        "items": [{"name": "户编号", "type": "C", "length": 18, "description": "18 位户编号"}],
        "tags": [{"name": "户籍"}],
    }


def errors(document: dict[str, Any]) -> dict[str, list[str]]:
    return metadata_errors(document)


def with_(**changes) -> dict[str, Any]:
    document = complete()
    for key, value in changes.items():
        if value is None:
            document.pop(key, None)
        else:
            document[key] = value
    return document


def property_schemas(schema: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property schema, with its dotted path (array items as ``[]``)."""
    for name, sub in schema.get("properties", {}).items():
        here = f"{path}.{name}" if path else name
        yield here, sub
        yield from property_schemas(sub, here)
        if isinstance(sub.get("items"), dict):
            yield from property_schemas(sub["items"], here + "[]")


# --- the document itself ----------------------------------------------------------------------


def test_is_a_valid_draft_2020_12_schema(profile):
    assert profile["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(profile)
    assert profile["$id"] == "urn:catalog:schema:metadata:dataset:1"
    assert (profile["x-name"], profile["x-version"]) == ("dataset", 1)
    assert ("dataset", 1) in list_schemas("metadata")


def test_every_property_has_chinese_and_english_labels(profile):
    missing = []
    for path, schema in property_schemas(profile):
        labels = schema.get("x-labels", {})
        if not (isinstance(labels.get("zh"), str) and CJK.search(labels["zh"])
                and isinstance(labels.get("en"), str) and labels["en"].strip()):
            missing.append(path)
    assert missing == []


def test_every_enum_has_chinese_and_english_labels(profile):
    enums = [(path, schema) for path, schema in property_schemas(profile) if "enum" in schema]
    assert {path for path, _ in enums} >= {"state", "share_type", "open_type", "update_cycle",
                                           "share_method.channel", "share_method.type", "items[].type"}
    for path, schema in enums:
        labels = schema.get("x-enumLabels")
        assert labels is not None, path
        assert set(labels) == set(schema["enum"]), path
        for value, label in labels.items():
            assert CJK.search(label.get("zh", "")), (path, value)
            assert label.get("en", "").strip(), (path, value)


def test_enum_labels_match_the_domain_terms(profile):
    props = profile["properties"]
    assert {v: l["zh"] for v, l in props["share_type"]["x-enumLabels"].items()} == {
        "unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
    assert [props["update_cycle"]["x-enumLabels"][v]["zh"] for v in props["update_cycle"]["enum"]] == [
        "实时", "每日", "每周", "每月", "每季度", "每半年", "每年", "不定期"]
    assert props["items"]["items"]["properties"]["type"]["enum"] == [
        "C", "N", "Y", "D", "T", "L", "M", "G", "B", "I", "F"]
    assert {v: l["zh"] for v, l in props["share_method"]["properties"]["channel"]["x-enumLabels"].items()} == {
        "platform": "共享平台", "email": "邮件", "media": "介质"}
    assert {v: l["zh"] for v, l in props["share_method"]["properties"]["type"]["x-enumLabels"].items()} == {
        "database": "数据库", "file": "文件", "api": "接口"}


def test_custom_messages_are_for_keywords_the_schema_uses(profile):
    for path, schema in property_schemas(profile):
        for keyword in schema.get("x-messages", {}):
            assert keyword in schema, (path, keyword)
    related = profile["properties"]["related_codes"]["items"]
    for keyword in related.get("x-messages", {}):
        assert keyword in related


def test_patterns_compile(profile):
    for path, schema in property_schemas(profile):
        if "pattern" in schema:
            re.compile(schema["pattern"])
    assert profile["properties"]["related_codes"]["items"]["pattern"] == \
        profile["properties"]["resource_code"]["pattern"]


def test_properties_are_the_fields_the_service_stores(profile):
    assert set(profile["properties"]) == set(METADATA_FIELDS) | {"tags"}


def test_string_limits_fit_the_database_columns(profile):
    columns = Dataset.__table__.columns
    for name, schema in profile["properties"].items():
        length = getattr(columns[name].type, "length", None) if name in columns else None
        if length is None or schema.get("type") != "string":
            continue
        if "enum" in schema:
            assert max(len(v) for v in schema["enum"]) <= length, name
        else:
            assert schema.get("maxLength", 10 ** 9) <= length, name


# --- the rules ----------------------------------------------------------------------------------


def test_complete_document_is_valid():
    assert errors(complete()) == {}


def test_draft_needs_only_a_name():
    assert errors({"name": "draft-one", "state": "draft"}) == {}
    assert errors({"name": "draft-one"}) == {}


@pytest.mark.parametrize("field", ["title", "notes", "resource_code", "category", "share_type",
                                   "open_type", "update_cycle", "items"])
def test_published_needs_each_core_field(field):
    assert errors(with_(**{field: None})) == {field: ["Missing value"]}
    # a draft may leave it out
    assert errors(with_(state="draft", **{field: None})) == {}


def test_published_needs_items_and_a_non_empty_abstract():
    assert errors(with_(items=[])) == {"items": ["must have at least 1 entry"]}
    assert errors(with_(notes="")) == {"notes": ["Missing value"]}
    assert errors(with_(state="draft", items=[], notes="")) == {}


def test_every_missing_field_is_named_at_once():
    assert set(errors({"name": "x1", "state": "active"})) == {
        "title", "notes", "resource_code", "category", "share_type", "open_type", "update_cycle", "items"}


@pytest.mark.parametrize("kind, condition", [("share_type", "share_condition"), ("open_type", "open_condition")])
def test_conditions(kind, condition):
    for value in ("conditional", "none"):
        assert errors(with_(**{kind: value, condition: None})) == {condition: ["Missing value"]}
        assert errors(with_(**{kind: value, condition: ""})) == {condition: ["Missing value"]}
        assert errors(with_(state="draft", **{kind: value, condition: None})) == {condition: ["Missing value"]}
    assert errors(with_(**{kind: "unconditional", condition: None})) == {}


@pytest.mark.parametrize("path, document", [
    ("share_type", with_(share_type="partial")),
    ("open_type", with_(open_type="open")),
    ("update_cycle", with_(update_cycle="每月")),
    ("state", with_(state="published")),
    ("items.0.type", with_(items=[{"name": "a", "type": "X"}])),
    ("share_method.channel", with_(share_method={"channel": "fax", "type": "api"})),
])
def test_enums(path, document):
    found = errors(document)
    assert list(found) == [path]
    assert found[path][0].startswith("must be one of: ")


@pytest.mark.parametrize("code, ok", [
    ("101/000001", True), ("101001/000001", True), ("1010010001/000123", True),
    ("101001/00001", False), ("101001/0000001", False), ("1010/000001", False), ("10100/000001", False),
    ("001001/000001", False), ("101001-000001", False), ("101001/000001\n", False), (" 101001/000001", False),
    ("101" + "0" * 70 + "/000001", False),
])
def test_resource_code_form(code, ok):
    found = errors(with_(resource_code=code))
    if ok:
        assert found == {}
    else:
        assert "resource_code" in found and set(found) == {"resource_code"}


def test_resource_code_begins_with_the_category():
    assert errors(with_(category="102")) == {"resource_code": ["must begin with the classification code 102"]}
    assert errors(with_(category="101001", resource_code="1010010/000001")) == {}
    assert errors(with_(category="101002", resource_code="101001/000001")) == {
        "resource_code": ["must begin with the classification code 101002"]}


def test_a_bad_category_is_reported_once():
    found = errors(with_(category="abc"))
    assert list(found) == ["category"]


@pytest.mark.parametrize("category", ["1", "10", "1010", "001", "101\n", "1" + "0" * 40])
def test_category_form(category):
    assert "category" in errors(with_(category=category))


@pytest.mark.parametrize("name, ok", [("ab", True), ("household-register_2026", True), ("a", False),
                                      ("Household", False), ("户籍", False), ("a b", False),
                                      ("abc\n", False), ("x" * 101, False), ("x" * 100, True)])
def test_name_form(name, ok):
    assert ("name" in errors(with_(name=name))) is not ok


@pytest.mark.parametrize("date, ok", [("2026-01-03", True), ("2024-02-29", True), ("2026-02-29", False),
                                      ("2026/01/03", False), ("2026年01月03日", False), ("20260103", False),
                                      ("2026-1-3", False), ("2026-01-03T00:00:00", False)])
def test_publish_date(date, ok):
    found = errors(with_(publish_date=date))
    assert (found == {}) is ok
    if not ok:
        assert found == {"publish_date": ["must be a date written as YYYY-MM-DD"]}


def test_items():
    assert errors(with_(items=[{"name": "户编号"}])) == {"items.0.type": ["Missing value"]}
    assert errors(with_(items=[{"type": "C"}])) == {"items.0.name": ["Missing value"]}
    assert errors(with_(items=[{"name": "a", "type": "C"}, {"name": "a", "type": "N"}])) == {
        "items.1.name": ["duplicate data item name a"]}
    assert errors(with_(items=[{"name": "a", "type": "C", "length": 0}])) == {"items.0.length": ["must be >= 1"]}
    assert errors(with_(items=[{"name": "a", "type": "C", "unit": "元"}])) == {
        "items.0.unit": ["unknown field: the schema does not declare it"]}
    assert "items" in errors(with_(items=[{"name": f"f{i}", "type": "C"} for i in range(501)]))


def test_share_method():
    assert errors(with_(share_method={"channel": "platform"})) == {"share_method.type": ["Missing value"]}
    assert errors(with_(share_method={"channel": "email", "type": "file", "via": "x"})) == {
        "share_method.via": ["unknown field: the schema does not declare it"]}


def test_related_codes():
    assert errors(with_(related_codes=["101001/000002", "101001/000002"])) == {
        "related_codes": ["must not contain duplicates"]}
    assert errors(with_(related_codes=["x"])) == {"related_codes.0": ["must be a resource code such as 101001/000123"]}


@pytest.mark.parametrize("tag, ok", [("户籍", True), ("low-income 2026", True), ("v1.0_a", True),
                                     ("a/b", False), ("", False), ("a\n", False), ("x" * 101, False)])
def test_tags(tag, ok):
    assert ("tags.0.name" in errors(with_(tags=[{"name": tag}]))) is not ok


@pytest.mark.parametrize("field, value, message", [
    ("private", "yes", "must be a boolean"),
    ("title", 5, "must be a string"),
    ("items", "abc", "must be an array"),
    ("share_method", "platform", "must be an object"),
])
def test_types(field, value, message):
    assert errors(with_(**{field: value})) == {field: [message]}


def test_messages_are_deterministic():
    document = with_(share_type="partial", update_cycle="x", items=[{"name": "a"}])
    assert errors(copy.deepcopy(document)) == errors(document)


def test_validator_is_cached_and_reports_field_errors():
    validator = get_validator("metadata", "dataset", 1)
    assert validator is get_validator("metadata", "dataset", 1)
    assert validator.is_valid(complete())
    found = validator.errors(with_(title=None))
    assert [(e.path, e.keyword, e.message) for e in found] == [("title", "required", "Missing value")]
