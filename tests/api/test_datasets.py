"""package_* and tag_list through the action API, as a department data officer would use them."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from tests.conftest import dataset_values

DROP = object()


def payload(owner_org: str, n: int = 1, /, **changes) -> dict:
    """A complete dataset for package_create with some fields changed (``DROP`` removes one)."""
    values = dataset_values(owner_org, n)
    for key, value in changes.items():
        if value is DROP:
            values.pop(key, None)
        else:
            values[key] = value
    return values


def fields_of(error: dict) -> set[str]:
    """The field paths named by a validation error envelope."""
    return set(error) - {"__type"}


def assert_invalid(reply, field: str, *, contains: str | None = None, only: bool = True) -> list[str]:
    """A 409 Validation Error naming ``field`` (and only it, unless ``only`` is false)."""
    assert reply.status == 409, reply.body
    error = reply.error
    assert error["__type"] == "Validation Error"
    assert field in error, error
    if only:
        assert fields_of(error) == {field}, error
    messages = error[field]
    assert messages and all(isinstance(m, str) and m for m in messages)
    if contains is not None:
        assert any(contains in m for m in messages), messages
    return messages


def assert_forbidden(reply) -> None:
    assert reply.status == 403, reply.body
    assert reply.error["__type"] == "Authorization Error"
    assert reply.error["message"]


def assert_not_found(reply) -> None:
    assert reply.status == 404, reply.body
    assert reply.error["__type"] == "Not Found Error"
    assert reply.error["message"]




def token_of(org, who: str | None) -> str | None:
    return None if who is None else getattr(org, who).token


def show(api, id_or_name, token=None):
    return api.call("package_show", {"id": id_or_name}, token=token, method="GET")


# --- package_create ------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["admin", "editor", "sysadmin"])
def test_create_allowed_for_editors_admins_and_sysadmins(api, org, who):
    actor = getattr(org, who)
    reply = api.call("package_create", payload(org.id), token=actor.token)
    assert reply.status == 200, reply.body
    result = reply.result
    assert result["name"] == "household-register-1"
    assert result["title"] == "宁陕县户籍人口信息表 1"
    assert result["owner_org"] == org.id
    assert result["organization"]["name"] == "mzj"
    assert result["state"] == "active"
    assert result["private"] is False
    assert result["type"] == "dataset"
    assert result["resource_code"] == "101001/000001"
    assert result["share_method"] == {"channel": "platform", "type": "api"}
    assert result["publish_date"] == "2026-01-03"
    assert [i["name"] for i in result["items"]] == ["户编号", "户主姓名"]
    assert result["metadata_schema"] == "dataset@1"
    assert result["creator_user_id"] == actor.id
    assert result["resources"] == [] and result["num_resources"] == 0
    assert result["metadata_created"] and result["metadata_modified"]
    assert isinstance(result["revision"], int)
    assert show(api, result["id"]).result["name"] == "household-register-1"


@pytest.mark.parametrize("who", ["member", "outsider", None])
def test_create_refused_for_members_outsiders_and_anonymous(api, org, who):
    reply = api.call("package_create", payload(org.id), token=token_of(org, who))
    assert_forbidden(reply)
    assert_not_found(show(api, "household-register-1", token=org.sysadmin.token))


def test_create_needs_owner_org(api, org):
    assert_invalid(api.call("package_create", payload(org.id, owner_org=DROP), token=org.sysadmin.token),
                   "owner_org", contains="Missing value")
    assert_invalid(api.call("package_create", payload(org.id, owner_org=""), token=org.sysadmin.token),
                   "owner_org", contains="Missing value")


def test_create_with_unknown_owner_org(api, org):
    reply = api.call("package_create", payload(org.id, owner_org="no-such-dept"), token=org.sysadmin.token)
    assert_invalid(reply, "owner_org", contains="no-such-dept")


def test_create_accepts_owner_org_by_name(api, org):
    reply = api.call("package_create", payload("mzj"), token=org.editor.token)
    assert reply.result["owner_org"] == org.id


def test_create_needs_name(api, org):
    assert_invalid(api.call("package_create", payload(org.id, name=DROP), token=org.editor.token), "name")


@pytest.mark.parametrize("name", ["A", "Has Space", "大写", "x" * 101])
def test_create_with_bad_name(api, org, name):
    assert_invalid(api.call("package_create", payload(org.id, name=name), token=org.editor.token), "name")


@pytest.mark.parametrize("field", ["title", "notes", "resource_code", "category", "share_type",
                                   "open_type", "update_cycle", "items"])
def test_publishing_needs_each_core_field(api, org, field):
    reply = api.call("package_create", payload(org.id, **{field: DROP}), token=org.editor.token)
    # items default to an empty list, so its message is about the count
    assert_invalid(reply, field, contains="at least 1" if field == "items" else "Missing value")


@pytest.mark.parametrize("field", ["title", "notes", "resource_code", "category", "share_type",
                                   "open_type", "update_cycle", "items"])
def test_publishing_refuses_null_core_field(api, org, field):
    reply = api.call("package_create", payload(org.id, **{field: None}), token=org.editor.token)
    assert reply.status == 409, reply.body
    assert field in reply.error


def test_publishing_needs_at_least_one_item_and_a_non_empty_abstract(api, org):
    assert_invalid(api.call("package_create", payload(org.id, items=[]), token=org.editor.token),
                   "items", contains="at least 1")
    assert_invalid(api.call("package_create", payload(org.id, notes=""), token=org.editor.token),
                   "notes", contains="Missing value")
    assert_invalid(api.call("package_create", payload(org.id, title=""), token=org.editor.token),
                   "title", contains="Missing value")


def test_draft_with_only_name_and_owner_org_is_accepted(api, org):
    reply = api.call("package_create", {"name": "draft-one", "owner_org": org.id, "state": "draft"},
                     token=org.editor.token)
    result = reply.result
    assert result["state"] == "draft"
    assert result["title"] is None and result["items"] == []
    assert result["name"] not in api.call("package_list", method="GET").result


def test_publishing_a_draft_names_every_missing_field(api, org):
    api.call("package_create", {"name": "draft-one", "owner_org": org.id, "state": "draft"},
             token=org.editor.token).result
    reply = api.call("package_patch", {"id": "draft-one", "state": "active"}, token=org.editor.token)
    assert reply.status == 409
    assert fields_of(reply.error) == {"title", "notes", "resource_code", "category", "share_type",
                                      "open_type", "update_cycle", "items"}
    assert show(api, "draft-one", token=org.editor.token).result["state"] == "draft"


def test_draft_fields_are_still_checked(api, org):
    reply = api.call("package_create", {"name": "draft-one", "owner_org": org.id, "state": "draft",
                                        "share_type": "sometimes"}, token=org.editor.token)
    assert_invalid(reply, "share_type", contains="must be one of")


@pytest.mark.parametrize("share_type", ["conditional", "none"])
def test_share_condition_required_for_conditional_and_none(api, org, share_type):
    reply = api.call("package_create", payload(org.id, share_type=share_type, share_condition=DROP),
                     token=org.editor.token)
    assert_invalid(reply, "share_condition", contains="Missing value")
    reply = api.call("package_create", payload(org.id, share_type=share_type, share_condition=""),
                     token=org.editor.token)
    assert_invalid(reply, "share_condition", contains="Missing value")


def test_share_condition_not_required_for_unconditional(api, org):
    reply = api.call("package_create", payload(org.id, share_type="unconditional", share_condition=DROP),
                     token=org.editor.token)
    assert reply.result["share_type"] == "unconditional"
    assert reply.result["share_condition"] is None


@pytest.mark.parametrize("open_type", ["conditional", "none"])
def test_open_condition_required_for_conditional_and_none(api, org, open_type):
    reply = api.call("package_create", payload(org.id, open_type=open_type, open_condition=DROP),
                     token=org.editor.token)
    assert_invalid(reply, "open_condition", contains="Missing value")


def test_open_condition_not_required_for_unconditional(api, org):
    reply = api.call("package_create", payload(org.id, open_type="unconditional", open_condition=DROP),
                     token=org.editor.token)
    assert reply.result["open_type"] == "unconditional"


@pytest.mark.parametrize("field, value, path", [
    ("share_type", "sometimes", "share_type"),
    ("open_type", "public", "open_type"),
    ("update_cycle", "hourly", "update_cycle"),
    ("state", "published", "state"),
    ("items", [{"name": "户编号", "type": "C"}, {"name": "户主姓名", "type": "X"}], "items.1.type"),
    ("share_method", {"channel": "fax", "type": "api"}, "share_method.channel"),
    ("share_method", {"channel": "platform", "type": "ftp"}, "share_method.type"),
])
def test_bad_enum_values_name_the_path(api, org, field, value, path):
    reply = api.call("package_create", payload(org.id, **{field: value}), token=org.editor.token)
    assert_invalid(reply, path, contains="must be one of")


def test_enum_message_lists_the_allowed_values(api, org):
    reply = api.call("package_create", payload(org.id, update_cycle="hourly"), token=org.editor.token)
    message = assert_invalid(reply, "update_cycle")[0]
    for value in ("realtime", "daily", "weekly", "monthly", "quarterly", "semiannual", "yearly", "irregular"):
        assert value in message


@pytest.mark.parametrize("code", ["ABC", "101001-000001", "101001/00001", "011001/000001", "1/000001",
                                  "101001/0000012"])
def test_resource_code_pattern(api, org, code):
    reply = api.call("package_create", payload(org.id, resource_code=code), token=org.editor.token)
    assert_invalid(reply, "resource_code", contains="6-digit sequence")


def test_resource_code_must_begin_with_the_classification_code(api, org):
    reply = api.call("package_create", payload(org.id, category="102"), token=org.editor.token)
    assert_invalid(reply, "resource_code", contains="must begin with the classification code 102")


def test_longer_classification_codes_are_accepted(api, org):
    reply = api.call("package_create", payload(org.id, category="101001", resource_code="1010010/000001"),
                     token=org.editor.token)
    assert reply.result["resource_code"] == "1010010/000001"


@pytest.mark.parametrize("field, value", [("resource_code", "101" + "0" * 70 + "/000001"),
                                          ("category", "101" + "0" * 40)])
def test_overlong_codes_are_refused(api, org, field, value):
    changes = {field: value}
    if field == "category":
        changes["resource_code"] = value + "/000001"
    reply = api.call("package_create", payload(org.id, **changes), token=org.editor.token)
    assert reply.status == 409, reply.body
    assert field in reply.error


def test_category_pattern(api, org):
    reply = api.call("package_create", payload(org.id, category="abc"), token=org.editor.token)
    assert_invalid(reply, "category", contains="classification code")


def test_items_need_a_type_and_distinct_names(api, org):
    reply = api.call("package_create", payload(org.id, items=[{"name": "户编号"}]), token=org.editor.token)
    assert_invalid(reply, "items.0.type", contains="Missing value")
    items = [{"name": "户编号", "type": "C"}, {"name": "户主姓名", "type": "C"}, {"name": "户编号", "type": "N"}]
    reply = api.call("package_create", payload(org.id, items=items), token=org.editor.token)
    assert_invalid(reply, "items.2.name", contains="duplicate data item name 户编号")


def test_items_refuse_unknown_keys(api, org):
    reply = api.call("package_create", payload(org.id, items=[{"name": "a", "type": "C", "colour": "red"}]),
                     token=org.editor.token)
    assert_invalid(reply, "items.0.colour", contains="unknown field")


def test_duplicate_name(api, org):
    api.call("package_create", payload(org.id, 1), token=org.editor.token).result
    reply = api.call("package_create", payload(org.id, 2, name="household-register-1"), token=org.editor.token)
    assert_invalid(reply, "name", contains="already in use")


def test_duplicate_resource_code(api, org):
    api.call("package_create", payload(org.id, 1), token=org.editor.token).result
    reply = api.call("package_create", payload(org.id, 2, resource_code="101001/000001"), token=org.editor.token)
    assert_invalid(reply, "resource_code", contains="already in use")


@pytest.mark.parametrize("date", ["2026/01/03", "2026年01月03日", "20260103", "2026-02-30", "2026-13-01", ""])
def test_publish_date_format(api, org, date):
    reply = api.call("package_create", payload(org.id, publish_date=date), token=org.editor.token)
    assert_invalid(reply, "publish_date", contains="YYYY-MM-DD")


def test_related_codes(api, org):
    ok = api.call("package_create", payload(org.id, related_codes=["101001/000002", "102001/000003"]),
                  token=org.editor.token)
    assert ok.result["related_codes"] == ["101001/000002", "102001/000003"]
    reply = api.call("package_create", payload(org.id, 2, related_codes=["101001/000002", "bad"]),
                     token=org.editor.token)
    assert_invalid(reply, "related_codes.1", contains="resource code")
    reply = api.call("package_create", payload(org.id, 3, related_codes=["101001/000002"] * 2),
                     token=org.editor.token)
    assert_invalid(reply, "related_codes", contains="duplicates")


@pytest.mark.parametrize("field, value", [
    ("private", "maybe"),
    ("items", "abc"),
    ("items", ["abc"]),
    ("items", {"name": "x"}),
    ("title", 123),
    ("share_method", "abc"),
    ("share_method", ["platform"]),
    ("related_codes", "101001/000002"),
    ("tags", "abc"),
    ("tags", [{"name": 5}]),
    ("extras", {"key": "value"}),
    ("resources", "abc"),
    ("resources", [{"url": 5}]),
    ("revision", "new"),
    ("owner_org", 42),
    ("items", [{"name": "a", "type": "C", "length": "ten"}]),
])
def test_wrong_types_are_validation_errors(api, org, field, value):
    reply = api.call("package_create", payload(org.id, **{field: value}), token=org.editor.token)
    assert reply.status == 409, reply.body
    assert reply.error["__type"] == "Validation Error"
    assert any(path == field or path.startswith(field + ".") for path in fields_of(reply.error)), reply.error


def test_tags_as_dicts_strings_and_tag_string(api, org):
    reply = api.call("package_create", payload(org.id, tags=[{"name": "户籍"}, "人口"], tag_string="民政, 救助 ,"),
                     token=org.editor.token)
    tags = reply.result["tags"]
    assert sorted(t["name"] for t in tags) == sorted(["户籍", "人口", "民政", "救助"])
    assert [t["name"] for t in tags] == sorted(t["name"] for t in tags)
    assert all(t["display_name"] == t["name"] and t["id"] for t in tags)
    assert reply.result["num_tags"] == 4
    shown = show(api, reply.result["id"]).result
    assert [t["name"] for t in shown["tags"]] == [t["name"] for t in tags]


def test_tags_are_deduplicated_and_shared(api, org):
    first = api.call("package_create", payload(org.id, 1, tags=["户籍", "户籍", " 户籍 "]), token=org.editor.token)
    assert [t["name"] for t in first.result["tags"]] == ["户籍"]
    second = api.call("package_create", payload(org.id, 2, tags=["户籍"]), token=org.editor.token)
    assert second.result["tags"][0]["id"] == first.result["tags"][0]["id"]


@pytest.mark.parametrize("tags, path", [([{"name": "a/b"}], "tags.0.name"), ([{"title": "x"}], "tags.0.name"),
                                        (["ok", ""], "tags.1.name"), (["x" * 101], "tags.0.name")])
def test_bad_tags_name_the_path(api, org, tags, path):
    reply = api.call("package_create", payload(org.id, tags=tags), token=org.editor.token)
    assert_invalid(reply, path)


def test_extras_round_trip(api, org):
    extras = [{"key": "source_system", "value": "民政救助系统"}, {"key": "contact", "value": "0915-6821234"}]
    reply = api.call("package_create", payload(org.id, extras=extras), token=org.editor.token)
    expected = sorted(extras, key=lambda e: e["key"])
    assert reply.result["extras"] == expected
    assert show(api, reply.result["id"]).result["extras"] == expected


@pytest.mark.parametrize("key", ["title", "share_type", "owner_org", "id", "tags", "resources"])
def test_extra_named_like_a_core_field_is_refused(api, org, key):
    reply = api.call("package_create", payload(org.id, extras=[{"key": "ok", "value": "1"},
                                                               {"key": key, "value": "x"}]),
                     token=org.editor.token)
    assert_invalid(reply, "extras.1.key", contains="dataset field")


def test_duplicate_extra_key_is_refused(api, org):
    reply = api.call("package_create", payload(org.id, extras=[{"key": "a", "value": "1"}, {"key": "a", "value": "2"}]),
                     token=org.editor.token)
    assert_invalid(reply, "extras.1.key", contains="duplicate")


def test_extra_values_that_are_not_strings_are_kept_as_json(api, org):
    extras = [{"key": "n", "value": 3}, {"key": "flag", "value": True}, {"key": "map", "value": {"区": "宁陕"}}]
    result = api.call("package_create", payload(org.id, extras=extras), token=org.editor.token).result
    assert {e["key"]: e["value"] for e in result["extras"]} == {"n": "3", "flag": "true", "map": '{"区": "宁陕"}'}


def test_extra_without_key(api, org):
    reply = api.call("package_create", payload(org.id, extras=[{"value": "x"}]), token=org.editor.token)
    assert_invalid(reply, "extras.0.key", contains="Missing value")


def test_inline_resources_are_created(api, org):
    resources = [{"name": "户籍表", "url": "https://data.ningshan.gov.cn/files/hukou.csv"},
                 {"name": "接口", "url": "https://api.ningshan.gov.cn/hukou", "format": "API"}]
    reply = api.call("package_create", payload(org.id, resources=resources), token=org.editor.token)
    result = reply.result
    assert result["num_resources"] == 2
    assert [r["name"] for r in result["resources"]] == ["户籍表", "接口"]
    assert [r["position"] for r in result["resources"]] == [0, 1]
    assert [r["format"] for r in result["resources"]] == ["CSV", "API"]
    assert all(r["package_id"] == result["id"] for r in result["resources"])
    assert len(show(api, result["id"]).result["resources"]) == 2


def test_bad_inline_resource_creates_nothing(api, org):
    resources = [{"url": "https://data.ningshan.gov.cn/a.csv"}, {"url": "javascript:alert(1)"}]
    reply = api.call("package_create", payload(org.id, resources=resources), token=org.editor.token)
    assert_invalid(reply, "resources.1.url")
    assert_not_found(show(api, "household-register-1", token=org.sysadmin.token))


def test_inline_resource_fields_are_checked(api, org):
    resources = [{"url": "https://data.ningshan.gov.cn/a.csv", "name": "x" * 201}]
    reply = api.call("package_create", payload(org.id, resources=resources), token=org.editor.token)
    assert_invalid(reply, "resources.0.name")


def test_create_by_form_post(api, org):
    values = payload(org.id)
    form = {k: v for k, v in values.items() if isinstance(v, str)}
    form["items"] = json.dumps(values["items"], ensure_ascii=False)
    form["share_method"] = json.dumps(values["share_method"])
    reply = api.call("package_create", content_type="application/x-www-form-urlencoded", data_raw=form,
                     token=org.editor.token)
    assert reply.result["items"] == values["items"]


# --- package_show -----------------------------------------------------------------------------


def test_show_by_id_and_name(api, make, org):
    made = make.dataset(org.id)
    by_id = show(api, made["id"]).result
    by_name = show(api, made["name"]).result
    assert by_id == by_name
    assert by_id["id"] == made["id"] and by_id["name"] == made["name"]
    by_post = api.call("package_show", {"id": made["name"]})
    assert by_post.result["id"] == made["id"]


def test_show_unknown(api, org):
    assert_not_found(show(api, "no-such-dataset"))
    assert_not_found(show(api, "no-such-dataset", token=org.sysadmin.token))


def test_show_needs_id(api, org):
    assert_invalid(api.call("package_show", {}, method="GET"), "id")


@pytest.mark.parametrize("overrides", [{"private": True}, {"state": "draft"}])
@pytest.mark.parametrize("who, allowed", [("member", True), ("editor", True), ("admin", True),
                                          ("sysadmin", True), ("outsider", False), (None, False)])
def test_private_and_draft_datasets_are_for_members(api, make, org, overrides, who, allowed):
    made = make.dataset(org.id, **overrides)
    reply = show(api, made["name"], token=token_of(org, who))
    if allowed:
        assert reply.result["id"] == made["id"]
    else:  # the very answer a missing dataset gets: outsiders cannot tell that it exists
        assert reply.body == show(api, "no-such-dataset", token=token_of(org, who)).body | {
            "error": {"__type": "Not Found Error", "message": f"Dataset not found: {made['name']}"}}


@pytest.mark.parametrize("who, allowed", [("editor", True), ("admin", True), ("sysadmin", True),
                                          ("member", False), ("outsider", False), (None, False)])
def test_deleted_datasets_are_for_editors(api, make, org, who, allowed):
    made = make.dataset(org.id)
    api.call("package_delete", {"id": made["id"]}, token=org.editor.token).result
    reply = show(api, made["id"], token=token_of(org, who))
    if allowed:
        assert reply.result["state"] == "deleted"
    else:
        assert reply.status in (403, 404), reply.body


# --- package_list -----------------------------------------------------------------------------


def test_list_only_public_active_sorted(api, make, org):
    for name in ("zz-last", "aa-first", "mm-middle"):
        make.dataset(org.id, name=name)
    make.dataset(org.id, name="private-one", private=True)
    make.dataset(org.id, name="draft-one", state="draft")
    gone = make.dataset(org.id, name="deleted-one")
    api.call("package_delete", {"id": gone["id"]}, token=org.editor.token).result
    expected = ["aa-first", "mm-middle", "zz-last"]
    assert api.call("package_list", method="GET").result == expected
    assert api.call("package_list", {}, token=org.sysadmin.token).result == expected


def test_list_limit_and_offset(api, make, org):
    for name in ("d-4", "d-1", "d-3", "d-2"):
        make.dataset(org.id, name=name)
    assert api.call("package_list", {"limit": 2}, method="GET").result == ["d-1", "d-2"]
    assert api.call("package_list", {"limit": 2, "offset": 2}, method="GET").result == ["d-3", "d-4"]
    assert api.call("package_list", {"offset": 3}, method="GET").result == ["d-4"]
    assert api.call("package_list", {"offset": 10}, method="GET").result == []
    assert_invalid(api.call("package_list", {"limit": -1}, method="GET"), "limit")
    assert_invalid(api.call("package_list", {"offset": "x"}, method="GET"), "offset")


# --- package_update ---------------------------------------------------------------------------


def created(api, org, n=1, /, token=None, **changes) -> dict:
    reply = api.call("package_create", payload(org.id, n, **changes), token=token or org.editor.token)
    return reply.result


def test_update_replaces_every_field(api, org):
    first = created(api, org, version="1.0", author="张三", related_codes=["101001/000009"],
                    tags=["户籍", "人口"], extras=[{"key": "source", "value": "公安"}], private=True)
    values = payload(org.id, share_method=DROP, publish_date=DROP, title="新名称")
    values["id"] = first["id"]
    result = api.call("package_update", values, token=org.editor.token).result
    assert result["title"] == "新名称"
    assert result["version"] is None and result["author"] is None
    assert result["share_method"] is None and result["publish_date"] is None
    assert result["related_codes"] == [] and result["tags"] == [] and result["extras"] == []
    assert result["private"] is True  # state and private are kept when not given, as in CKAN
    stored = show(api, first["id"], token=org.editor.token).result
    assert stored["title"] == "新名称" and stored["tags"] == [] and stored["version"] is None


def test_update_cannot_clear_core_fields_of_a_published_dataset(api, org):
    first = created(api, org)
    reply = api.call("package_update", {"id": first["id"], "title": "only a title"}, token=org.editor.token)
    assert reply.status == 409
    assert {"notes", "resource_code", "category", "share_type"} <= fields_of(reply.error)
    assert show(api, first["id"]).result["notes"] == first["notes"]


def test_update_by_name_keeps_the_name(api, org):
    first = created(api, org)
    values = payload(org.id, name=DROP, title="改名")
    values["id"] = first["name"]
    result = api.call("package_update", values, token=org.editor.token).result
    assert result["name"] == first["name"] and result["title"] == "改名"


def test_update_renames(api, org):
    first = created(api, org)
    created(api, org, 2)
    values = payload(org.id, name="renamed")
    values["id"] = first["id"]
    assert api.call("package_update", values, token=org.editor.token).result["name"] == "renamed"
    values = payload(org.id, name="household-register-2")
    values["id"] = first["id"]
    assert_invalid(api.call("package_update", values, token=org.editor.token), "name", contains="already in use")


def test_update_needs_an_id(api, org):
    values = payload(org.id, name=DROP)
    assert_invalid(api.call("package_update", values, token=org.editor.token), "id", contains="Missing value")


def test_update_unknown(api, org):
    values = payload(org.id)
    values["id"] = "no-such-dataset"
    assert_not_found(api.call("package_update", values, token=org.editor.token))


@pytest.mark.parametrize("who", ["member", "outsider", None])
def test_update_refused_for_non_editors(api, org, who):
    first = created(api, org)
    values = payload(org.id, title="hijacked")
    values["id"] = first["id"]
    assert_forbidden(api.call("package_update", values, token=token_of(org, who)))
    assert show(api, first["id"]).result["title"] == first["title"]


def test_update_keeps_resources_when_omitted(api, org):
    first = created(api, org, resources=[{"url": "https://data.ningshan.gov.cn/a.csv"},
                                        {"url": "https://data.ningshan.gov.cn/b.xlsx"}])
    values = payload(org.id, title="新名称")
    values["id"] = first["id"]
    result = api.call("package_update", values, token=org.editor.token).result
    assert [r["id"] for r in result["resources"]] == [r["id"] for r in first["resources"]]
    assert [r["format"] for r in result["resources"]] == ["CSV", "XLSX"]


def test_update_with_resources_updates_creates_and_deletes(api, org):
    first = created(api, org, resources=[{"name": "a", "url": "https://data.ningshan.gov.cn/a.csv"},
                                        {"name": "b", "url": "https://data.ningshan.gov.cn/b.csv"},
                                        {"name": "c", "url": "https://data.ningshan.gov.cn/c.csv"}])
    a, _b, c = first["resources"]
    values = payload(org.id)
    values["id"] = first["id"]
    values["resources"] = [{"id": c["id"], "name": "c2", "url": c["url"]},
                           {"id": a["id"], "name": "a", "url": a["url"]},
                           {"name": "d", "url": "https://data.ningshan.gov.cn/d.json"}]
    result = api.call("package_update", values, token=org.editor.token).result
    resources = result["resources"]
    assert [r["name"] for r in resources] == ["c2", "a", "d"]
    assert [r["position"] for r in resources] == [0, 1, 2]
    assert resources[0]["id"] == c["id"] and resources[1]["id"] == a["id"]
    assert resources[2]["format"] == "JSON"
    assert result["num_resources"] == 3
    assert show(api, first["id"]).result["resources"] == resources


def test_update_with_empty_resources_deletes_them(api, org):
    first = created(api, org, resources=[{"url": "https://data.ningshan.gov.cn/a.csv"}])
    values = payload(org.id, resources=[])
    values["id"] = first["id"]
    assert api.call("package_update", values, token=org.editor.token).result["resources"] == []
    assert_not_found(api.call("resource_show", {"id": first["resources"][0]["id"]}, method="GET"))


def test_update_with_a_bad_resource_changes_nothing(api, org):
    first = created(api, org, resources=[{"url": "https://data.ningshan.gov.cn/a.csv"}])
    values = payload(org.id, title="新名称", resources=[{"url": "https://data.ningshan.gov.cn/a.csv"},
                                                        {"name": "no url"}])
    values["id"] = first["id"]
    assert_invalid(api.call("package_update", values, token=org.editor.token), "resources.1.url")
    stored = show(api, first["id"]).result
    assert stored["title"] == first["title"]
    assert [r["id"] for r in stored["resources"]] == [first["resources"][0]["id"]]


def test_stale_metadata_modified_is_refused(api, org):
    first = created(api, org)
    old = show(api, first["id"]).result
    values = payload(org.id, title="第一次修改")
    values.update(id=first["id"], metadata_modified=old["metadata_modified"])
    assert api.call("package_update", values, token=org.editor.token).status == 200
    values = payload(org.id, title="第二次修改，基于旧版本")
    values.update(id=first["id"], metadata_modified=old["metadata_modified"])
    reply = api.call("package_update", values, token=org.admin.token)
    assert_invalid(reply, "metadata_modified", contains="changed by someone else")
    assert show(api, first["id"]).result["title"] == "第一次修改"


def test_stale_metadata_modified_is_refused_by_patch(api, org):
    first = created(api, org)
    api.call("package_patch", {"id": first["id"], "version": "2"}, token=org.editor.token).result
    reply = api.call("package_patch", {"id": first["id"], "title": "旧版本上的修改",
                                       "metadata_modified": first["metadata_modified"]}, token=org.editor.token)
    assert_invalid(reply, "metadata_modified")
    assert show(api, first["id"]).result["title"] == first["title"]


def test_bad_metadata_modified(api, org):
    first = created(api, org)
    reply = api.call("package_patch", {"id": first["id"], "metadata_modified": "yesterday"},
                     token=org.editor.token)
    assert_invalid(reply, "metadata_modified", contains="ISO 8601")


def test_stale_revision_is_refused(api, org):
    first = created(api, org)
    api.call("package_patch", {"id": first["id"], "version": "2"}, token=org.editor.token).result
    values = payload(org.id, title="旧版本上的修改")
    values.update(id=first["id"], revision=first["revision"])
    assert_invalid(api.call("package_update", values, token=org.editor.token), "revision",
                   contains="changed by someone else")
    assert show(api, first["id"]).result["title"] == first["title"]


def test_authorization_comes_before_the_staleness_check(api, org):
    first = created(api, org)
    api.call("package_patch", {"id": first["id"], "version": "2"}, token=org.editor.token).result
    for name in ("package_update", "package_patch"):
        values = payload(org.id, title="x")
        values.update(id=first["id"], revision=first["revision"], metadata_modified=first["metadata_modified"])
        assert_forbidden(api.call(name, values, token=org.member.token))


def test_current_metadata_modified_and_revision_work(api, org):
    first = created(api, org)
    current = show(api, first["id"]).result
    values = payload(org.id, title="基于最新版本")
    values.update(id=first["id"], metadata_modified=current["metadata_modified"], revision=current["revision"])
    result = api.call("package_update", values, token=org.editor.token).result
    assert result["title"] == "基于最新版本"
    assert result["revision"] > current["revision"]
    assert result["metadata_modified"] > current["metadata_modified"]
    # the value returned by the write is itself current
    again = api.call("package_patch", {"id": first["id"], "version": "3", "revision": result["revision"],
                                       "metadata_modified": result["metadata_modified"]}, token=org.editor.token)
    assert again.result["version"] == "3"


def test_the_ckan_show_modify_update_workflow(api, org):
    first = created(api, org, tags=["户籍", "人口"], extras=[{"key": "source", "value": "公安"}], private=True,
                    resources=[{"name": "a", "url": "https://data.ningshan.gov.cn/a.csv"},
                               {"name": "b", "url": "https://data.ningshan.gov.cn/b.csv"}])
    dataset = show(api, first["id"], token=org.editor.token).result
    dataset["title"] = "宁陕县户籍人口信息表（修订）"
    dataset["resources"][1]["description"] = "按月更新"
    result = api.call("package_update", dataset, token=org.editor.token).result
    assert result["title"] == "宁陕县户籍人口信息表（修订）"
    assert [t["name"] for t in result["tags"]] == [t["name"] for t in first["tags"]]
    assert result["extras"] == first["extras"]
    assert result["private"] is True
    assert result["items"] == first["items"] and result["share_method"] == first["share_method"]
    assert [r["id"] for r in result["resources"]] == [r["id"] for r in first["resources"]]
    assert result["resources"][1]["description"] == "按月更新"
    assert result["resources"][0]["url"] == first["resources"][0]["url"]
    # and a second client that read before this update is refused
    stale = dict(dataset, title="另一个人的修改")
    reply = api.call("package_update", stale, token=org.admin.token)
    assert reply.status == 409 and reply.error["__type"] == "Validation Error"
    assert fields_of(reply.error) & {"revision", "metadata_modified"}, reply.error
    assert show(api, first["id"]).status == 404  # still private: answered as if missing
    assert show(api, first["id"], token=org.member.token).result["title"] == "宁陕县户籍人口信息表（修订）"


def test_show_update_round_trip_of_an_unchanged_dataset_changes_nothing_visible(api, org):
    first = created(api, org, tags=["户籍"], resources=[{"url": "https://data.ningshan.gov.cn/a.csv"}])
    dataset = show(api, first["id"]).result
    result = api.call("package_update", dataset, token=org.editor.token).result
    ignore = {"metadata_modified", "revision", "resources", "organization"}
    assert {k: v for k, v in result.items() if k not in ignore} == \
        {k: v for k, v in dataset.items() if k not in ignore}
    assert [r["id"] for r in result["resources"]] == [r["id"] for r in dataset["resources"]]


@pytest.fixture
def second_dept(make, org):
    both = make.user("both")
    dept = make.department("rsj", members={"editor": both, "member": org.editor, "admin": org.admin})
    return SimpleNamespace(dept=dept, id=dept["id"], both=both)


def test_moving_needs_rights_in_both_departments(api, make, org, second_dept):
    first = created(api, org)
    move = payload(second_dept.id)
    move["id"] = first["id"]
    # the editor is only a plain member of the target department
    assert_forbidden(api.call("package_update", move, token=org.editor.token))
    # an editor of the target department only cannot take datasets from another department
    assert_forbidden(api.call("package_update", move, token=second_dept.both.token))
    assert show(api, first["id"]).result["owner_org"] == org.id
    # an admin of both may move it
    result = api.call("package_update", move, token=org.admin.token).result
    assert result["owner_org"] == second_dept.id
    assert result["organization"]["name"] == "rsj"
    stored = show(api, first["id"]).result
    assert stored["owner_org"] == second_dept.id and stored["organization"]["name"] == "rsj"


def test_move_by_patch_and_to_unknown_department(api, org, second_dept):
    first = created(api, org)
    reply = api.call("package_patch", {"id": first["id"], "owner_org": "rsj"}, token=org.sysadmin.token)
    assert reply.result["organization"]["name"] == "rsj"
    reply = api.call("package_patch", {"id": first["id"], "owner_org": "nowhere"}, token=org.sysadmin.token)
    assert_invalid(reply, "owner_org", contains="nowhere")


# --- package_patch ----------------------------------------------------------------------------


def test_patch_changes_only_given_fields(api, org):
    first = created(api, org, version="1.0", tags=["户籍", "人口"], extras=[{"key": "source", "value": "公安"}],
                    private=True, resources=[{"url": "https://data.ningshan.gov.cn/a.csv"}])
    result = api.call("package_patch", {"id": first["id"], "title": "只改名称"}, token=org.editor.token).result
    assert result["title"] == "只改名称"
    unchanged = {"title", "metadata_modified", "revision"}
    assert {k: v for k, v in result.items() if k not in unchanged} == \
        {k: v for k, v in first.items() if k not in unchanged}


def test_patch_replaces_tags_and_extras_when_given(api, org):
    first = created(api, org, tags=["户籍", "人口"], extras=[{"key": "source", "value": "公安"}])
    result = api.call("package_patch", {"id": first["id"], "tags": [{"name": "民政"}],
                                        "extras": [{"key": "owner", "value": "民政局"}]},
                      token=org.editor.token).result
    assert [t["name"] for t in result["tags"]] == ["民政"]
    assert result["extras"] == [{"key": "owner", "value": "民政局"}]


def test_patch_clears_a_field_given_as_null(api, org):
    first = created(api, org, version="1.0")
    assert api.call("package_patch", {"id": first["id"], "version": None},
                    token=org.editor.token).result["version"] is None


def test_patch_to_conditional_sharing_needs_a_condition(api, org):
    first = created(api, org, share_type="unconditional", share_condition=DROP)
    reply = api.call("package_patch", {"id": first["id"], "share_type": "conditional"}, token=org.editor.token)
    assert_invalid(reply, "share_condition", contains="Missing value")
    assert show(api, first["id"]).result["share_type"] == "unconditional"
    reply = api.call("package_patch", {"id": first["id"], "share_type": "conditional",
                                       "share_condition": "仅限民政部门"}, token=org.editor.token)
    assert reply.result["share_condition"] == "仅限民政部门"


def test_patch_by_name_and_by_member(api, org):
    first = created(api, org)
    assert api.call("package_patch", {"id": first["name"], "version": "2"},
                    token=org.admin.token).result["version"] == "2"
    assert_forbidden(api.call("package_patch", {"id": first["name"], "version": "3"}, token=org.member.token))


def test_patch_with_bad_value_names_the_field(api, org):
    first = created(api, org)
    assert_invalid(api.call("package_patch", {"id": first["id"], "update_cycle": "sometimes"},
                            token=org.editor.token), "update_cycle")
    assert_invalid(api.call("package_patch", {"id": first["id"], "private": "maybe"},
                            token=org.editor.token), "private")


# --- package_delete ---------------------------------------------------------------------------


def test_delete(api, org):
    first = created(api, org, tags=["待删除"])
    assert api.call("package_delete", {"id": first["id"]}, token=org.editor.token).status == 200
    assert first["name"] not in api.call("package_list", method="GET").result
    assert "待删除" not in api.call("tag_list", method="GET").result
    for token in (None, org.outsider.token, org.member.token):
        assert show(api, first["id"], token=token).status in (403, 404)
    assert show(api, first["id"], token=org.editor.token).result["state"] == "deleted"
    again = api.call("package_delete", {"id": first["name"]}, token=org.editor.token)
    assert again.status == 200 and again.body["success"] is True
    assert show(api, first["id"], token=org.admin.token).result["state"] == "deleted"


@pytest.mark.parametrize("who", ["member", "outsider", None])
def test_delete_refused_for_non_editors(api, org, who):
    first = created(api, org)
    assert_forbidden(api.call("package_delete", {"id": first["id"]}, token=token_of(org, who)))
    assert show(api, first["id"]).result["state"] == "active"


def test_delete_unknown(api, org):
    assert_not_found(api.call("package_delete", {"id": "no-such-dataset"}, token=org.sysadmin.token))


def test_delete_needs_post(api, org):
    first = created(api, org)
    reply = api.call("package_delete", {"id": first["id"]}, token=org.editor.token, method="GET")
    assert reply.status == 405
    assert show(api, first["id"]).result["state"] == "active"


def test_deleted_dataset_frees_nothing_but_can_be_recreated_under_another_name(api, org):
    first = created(api, org)
    api.call("package_delete", {"id": first["id"]}, token=org.editor.token).result
    assert_invalid(api.call("package_create", payload(org.id), token=org.editor.token), "name", only=False)
    again = api.call("package_create", payload(org.id, 2), token=org.editor.token)
    assert again.status == 200


# --- tag_list ---------------------------------------------------------------------------------


def test_tag_list_only_tags_of_public_active_datasets(api, make, org):
    make.dataset(org.id, tags=["户籍", "人口"])
    make.dataset(org.id, tags=["人口", "低保"])
    make.dataset(org.id, tags=["机密"], private=True)
    make.dataset(org.id, tags=["草稿"], state="draft")
    gone = make.dataset(org.id, tags=["已删除"])
    api.call("package_delete", {"id": gone["id"]}, token=org.editor.token).result
    tags = api.call("tag_list", method="GET").result
    assert sorted(tags) == sorted(["户籍", "人口", "低保"])
    assert tags == sorted(tags)
    assert api.call("tag_list", token=org.sysadmin.token).result == tags


def test_tag_list_query(api, make, org):
    make.dataset(org.id, tags=["Population", "population-2020", "households", "hu_ji", "huji"])
    assert sorted(api.call("tag_list", {"query": "popul"}, method="GET").result) == \
        ["Population", "population-2020"]
    assert api.call("tag_list", {"query": "HOUSE"}, method="GET").result == ["households"]
    assert api.call("tag_list", {"query": "nothing"}, method="GET").result == []
    # LIKE wildcards in the query are taken literally
    assert api.call("tag_list", {"query": "_"}, method="GET").result == ["hu_ji"]
    assert api.call("tag_list", {"query": "%"}, method="GET").result == []


def test_tag_list_all_fields(api, make, org):
    make.dataset(org.id, tags=["户籍"])
    tags = api.call("tag_list", {"all_fields": "true"}, method="GET").result
    assert len(tags) == 1
    tag = tags[0]
    assert tag["name"] == "户籍" and tag["display_name"] == "户籍"
    assert tag["id"] and tag["vocabulary_id"] is None and tag["state"] == "active"


def test_update_without_state_or_private_keeps_them(api, make, sysadmin):
    dept = make.department("ningshan-keep")
    draft = make.dataset(dept["id"], state="draft", private=True)
    shown = api.call("package_show", {"id": draft["id"]}, token=sysadmin.token).result
    shown.pop("state"), shown.pop("private")
    shown["title"] = "改了标题"
    updated = api.call("package_update", shown, token=sysadmin.token)
    assert updated.status == 200, updated.body
    assert updated.result["state"] == "draft"
    assert updated.result["private"] is True
