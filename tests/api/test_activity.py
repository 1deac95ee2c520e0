"""package_activity_list: what happened to a dataset, newest first, with the fields that changed."""
from __future__ import annotations


import pytest

from tests.api.test_datasets import assert_forbidden, assert_invalid, assert_not_found, payload, token_of




def create(api, org, n=1, /, **changes) -> dict:
    return api.call("package_create", payload(org.id, n, **changes), token=org.editor.token).result


def activities(api, dataset_id, token=None, **params) -> list[dict]:
    reply = api.call("package_activity_list", {"id": dataset_id, **params}, token=token, method="GET")
    return reply.result


def changes_of(activity: dict) -> dict[str, tuple]:
    return {c["field"]: (c["old"], c["new"]) for c in activity["data"]["changes"]}


def test_new_changed_deleted_newest_first(api, org):
    dataset = create(api, org)
    api.call("package_patch", {"id": dataset["id"], "title": "新名称"}, token=org.editor.token).result
    api.call("package_delete", {"id": dataset["id"]}, token=org.editor.token).result
    found = activities(api, dataset["id"], token=org.editor.token)
    assert [a["activity_type"] for a in found] == ["deleted package", "changed package", "new package"]
    assert [a["timestamp"] for a in found] == sorted((a["timestamp"] for a in found), reverse=True)
    assert all(a["object_id"] == dataset["id"] and a["user_id"] == org.editor.id and a["id"] for a in found)
    new = found[-1]["data"]["package"]
    assert new["name"] == dataset["name"] and new["title"] == dataset["title"]
    assert found[0]["data"]["package"]["state"] == "deleted"


def test_update_lists_the_changed_fields_with_old_and_new_values(api, org):
    dataset = create(api, org, tags=["户籍"], version="1.0")
    values = payload(org.id, title="新名称", update_cycle="quarterly", tags=["户籍", "人口"])
    values["id"] = dataset["id"]
    api.call("package_update", values, token=org.editor.token).result
    latest = activities(api, dataset["id"])[0]
    assert latest["activity_type"] == "changed package"
    assert changes_of(latest) == {
        "title": (dataset["title"], "新名称"),
        "update_cycle": ("monthly", "quarterly"),
        "tags": (["户籍"], ["人口", "户籍"]),
        "version": ("1.0", None),
    }
    assert latest["data"]["package"]["title"] == "新名称"


def test_changes_ignore_the_order_tags_are_given_in(api, org):
    dataset = create(api, org, tags=["户籍", "人口"])
    api.call("package_patch", {"id": dataset["id"], "tags": ["人口", "户籍"], "version": "2"},
             token=org.editor.token).result
    assert changes_of(activities(api, dataset["id"])[0]) == {"version": (None, "2")}


def test_show_modify_update_is_one_activity(api, org):
    dataset = create(api, org, resources=[{"url": "https://data.ningshan.gov.cn/a.csv"},
                                          {"url": "https://data.ningshan.gov.cn/b.csv"}])
    shown = api.call("package_show", {"id": dataset["id"]}, method="GET").result
    shown["notes"] = "修订后的摘要"
    api.call("package_update", shown, token=org.editor.token).result
    found = activities(api, dataset["id"])
    assert [a["activity_type"] for a in found] == ["changed package", "new package"]
    assert changes_of(found[0]) == {"notes": (dataset["notes"], "修订后的摘要")}


def test_move_is_recorded(api, make, org):
    other = make.department("rsj", members={"editor": org.editor})
    dataset = create(api, org)
    api.call("package_patch", {"id": dataset["id"], "owner_org": "rsj"}, token=org.editor.token).result
    assert changes_of(activities(api, dataset["id"])[0]) == {"owner_org": (org.id, other["id"])}


def test_limit_and_offset(api, org):
    dataset = create(api, org)
    for version in ("1", "2", "3", "4"):
        api.call("package_patch", {"id": dataset["id"], "version": version}, token=org.editor.token).result
    everything = activities(api, dataset["id"])
    assert len(everything) == 5
    assert [changes_of(a).get("version", (None, None))[1] for a in everything[:4]] == ["4", "3", "2", "1"]
    assert activities(api, dataset["id"], limit=2) == everything[:2]
    assert activities(api, dataset["id"], limit=2, offset=2) == everything[2:4]
    assert activities(api, dataset["id"], offset=4) == everything[4:]
    assert activities(api, dataset["id"], offset=10) == []
    assert_invalid(api.call("package_activity_list", {"id": dataset["id"], "limit": 101}, method="GET"), "limit")
    assert_invalid(api.call("package_activity_list", {"id": dataset["id"], "offset": -1}, method="GET"), "offset")


def test_only_this_datasets_activity(api, org):
    first = create(api, org, 1)
    create(api, org, 2)
    assert [a["object_id"] for a in activities(api, first["id"])] == [first["id"]]


def test_by_name(api, org):
    dataset = create(api, org)
    assert activities(api, dataset["name"]) == activities(api, dataset["id"])


@pytest.mark.parametrize("who, allowed", [("member", True), ("editor", True), ("sysadmin", True),
                                          ("outsider", False), (None, False)])
def test_private_dataset_activity_is_for_members(api, org, who, allowed):
    dataset = create(api, org, private=True)
    reply = api.call("package_activity_list", {"id": dataset["id"]}, token=token_of(org, who), method="GET")
    if allowed:
        assert [a["activity_type"] for a in reply.result] == ["new package"]
    else:
        assert_not_found(reply)  # as for a dataset that does not exist


def test_deleted_dataset_activity_is_for_editors(api, org):
    dataset = create(api, org)
    api.call("package_delete", {"id": dataset["id"]}, token=org.editor.token).result
    assert activities(api, dataset["id"], token=org.editor.token)[0]["activity_type"] == "deleted package"
    for token in (None, org.member.token, org.outsider.token):
        reply = api.call("package_activity_list", {"id": dataset["id"]}, token=token, method="GET")
        assert reply.status in (403, 404)


def test_unknown_dataset(api):
    assert_not_found(api.call("package_activity_list", {"id": "nope"}, method="GET"))
    assert_invalid(api.call("package_activity_list", {}, method="GET"), "id")


def test_refused_write_leaves_no_activity(api, org):
    dataset = create(api, org)
    reply = api.call("package_patch", {"id": dataset["id"], "share_type": "bogus"}, token=org.editor.token)
    assert reply.status == 409
    assert_forbidden(api.call("package_patch", {"id": dataset["id"], "title": "x"}, token=org.member.token))
    assert [a["activity_type"] for a in activities(api, dataset["id"])] == ["new package"]
