"""Sorting or filtering on a masked field would reveal its values (their order, or a guessed value
confirmed), so a reader who sees a field masked may not sort or filter on it, whatever the field is called.

The attack: many departments' record schemas name fields by the pinyin initials of the Chinese column
(XM 姓名, SFZH 身份证号, LXDH 联系电话). Another department's editor, reading the register unconditionally
but with those fields masked, sorts by XM (plain, quoted, descending) to learn the order of the names.
"""
from __future__ import annotations

import pytest

from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "特困供养人员名册（字段代码）",
    "type": "object",
    "x-primary-key": ["BH"],
    "properties": {
        "BH": {"type": "string"},
        "XM": {"type": "string", "x-sensitive": "name"},
        "SFZH": {"type": "string", "x-sensitive": "resident-id"},
        "XZ": {"type": "string"},
    },
    "required": ["BH", "XM"],
    "additionalProperties": False,
}
ROWS = [{"BH": "001", "XM": "王建国", "SFZH": "610923198001010010", "XZ": "城关镇"},
        {"BH": "002", "XM": "李秀英", "SFZH": "610923198506150027", "XZ": "城关镇"}]


@pytest.fixture
def register(api, make, org, sysadmin):
    registered = api.call("schema_create", {"name": "tekun-codes", "schema": SCHEMA, "owner_org": org.id},
                          token=org.editor.token)
    assert registered.status == 200, registered.body
    dataset = make.dataset(org.id, name="tekun", record_schema=registered.result["id"], share_type="unconditional",
                           share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token)
    assert created.status == 200, created.body
    written = api.call("datastore_upsert", {"resource_id": created.result["resource_id"], "records": ROWS},
                       token=sysadmin.token)
    assert written.status == 200, written.body
    return created.result["resource_id"]


@pytest.fixture
def reader(make):
    """An editor of another department: reads the register, XM and SFZH masked."""
    editor = make.user("town-editor")
    make.department("ningshan-cgz", members={"editor": editor})
    return editor


@pytest.mark.parametrize("query", [{"sort": "XM"}, {"sort": '"XM"'}, {"sort": "XM desc"}, {"sort": "XZ, XM"},
                                   {"filters": {"XM": "王建国"}}])
def test_a_masked_field_named_by_its_code_cannot_be_sorted_or_filtered_on(api, register, reader, query):
    plain = api.call("datastore_search", {"resource_id": register}, token=reader.token)
    assert plain.status == 200 and "王建国" not in str(plain.body)   # XM is masked for this reader
    reply = api.call("datastore_search", {"resource_id": register, **query}, token=reader.token)
    assert reply.status == 403, reply.body
    assert "XM" in reply.error["message"]


def test_a_visible_field_named_by_its_code_can_be_sorted_on(api, register, reader):
    reply = api.call("datastore_search", {"resource_id": register, "sort": "XZ, BH desc"}, token=reader.token)
    assert reply.status == 200, reply.body
    assert [r["BH"] for r in reply.result["records"]] == ["002", "001"]
