"""Themes (CKAN groups) at the service level and the edges of their actions (issue 16)."""
from __future__ import annotations

import json

import pytest

from catalog.auth.models import User
from catalog.datasets.service import get_dataset
from catalog.errors import NotAuthorized, NotFound, ValidationError
from catalog.groups.service import get_theme, list_themes, set_dataset_themes
from catalog.groups.themes import CLASSIFICATION, themes
from tests.conftest import dataset_values


def test_the_themes_are_the_standards_2xx_items():
    with open(CLASSIFICATION, encoding="utf-8") as f:
        items = json.load(f)["items"]
    assert list(themes()) == [f"2{n:02d}" for n in range(1, 22)]
    assert themes()["218"] == items["218"] and "101" not in themes()


def test_list_filters_by_either_language_and_pages(db):
    assert list_themes(db, None, q="Civil") == ["218"] == list_themes(db, None, q="民政")
    assert list_themes(db, None, sort="name asc", offset=19) == ["220", "221"]
    assert list_themes(db, None, sort="name", limit=0) == []
    with pytest.raises(ValidationError) as bad:
        list_themes(db, None, sort="name sideways")
    assert "sort" in bad.value.errors


def test_filing_is_replaced_deduplicated_and_checked(db, make, org):
    created = make.dataset(org.id)
    dataset = get_dataset(db, created["id"])
    editor = db.get(User, org.editor.id)
    assert set_dataset_themes(db, editor, dataset, [{"name": "218"}, "217", {"id": "218"}]) is True
    assert set_dataset_themes(db, editor, dataset, ["217", "218"]) is False  # the same set is no change
    with pytest.raises(ValidationError) as bad:
        set_dataset_themes(db, editor, dataset, ["218", {"name": ""}])
    assert "groups.1.name" in bad.value.errors
    with pytest.raises(NotAuthorized):
        set_dataset_themes(db, db.get(User, org.member.id), dataset, ["201"])
    with pytest.raises(NotAuthorized):
        set_dataset_themes(db, db.get(User, org.outsider.id), dataset, ["201"])


def test_package_create_files_and_outsiders_cannot_touch_private_datasets(api, org):
    values = dataset_values(org.id, 7) | {"private": True, "groups": [{"name": "206"}]}
    created = api.call("package_create", values, token=org.editor.token).result
    assert [g["name"] for g in created["groups"]] == ["206"]
    reply = api.call("member_create", {"id": "201", "object": created["name"], "object_type": "package"},
                     token=org.outsider.token)
    assert reply.status == 404  # a private dataset is answered for as a missing one
    refused = api.call("member_create", {"id": "201", "object": created["name"], "object_type": "user"},
                       token=org.editor.token)
    assert refused.status == 409 and "object_type" in refused.error
    gone = api.call("member_delete", {"id": "201", "object": created["name"], "object_type": "package"},
                    token=org.editor.token)
    assert gone.status == 404 and "not in group 201" in gone.error["message"]
    counted = api.call("group_show", {"id": "206"}, method="GET").result
    assert counted["package_count"] == 0  # anonymous: the private dataset is not counted
    assert api.call("group_show", {"id": "206"}, token=org.member.token).result["package_count"] == 1


def test_help_link_without_version(client):
    body = client.get("/api/action/group_list").get_json()
    assert body["help"] == "http://localhost/api/action/help_show?name=group_list"
    assert client.get("/api/3/action/license_list").get_json()["help"] == \
        "http://localhost/api/3/action/help_show?name=license_list"


def test_unknown_theme_is_not_found(db):
    with pytest.raises(NotFound):
        get_theme("21")


def test_refiling_is_a_change_harvesters_and_the_activity_see(api, org, make):
    created = make.dataset(org.id)
    before = api.call("package_show", {"id": created["id"]}, method="GET").result
    api.call("member_create", {"id": "218", "object": created["name"], "object_type": "package"},
             token=org.editor.token).result
    after = api.call("package_show", {"id": created["id"]}, method="GET").result
    assert after["metadata_modified"] > before["metadata_modified"]
    activity = api.call("package_activity_list", {"id": created["id"]}, method="GET").result[0]
    assert activity["data"]["changes"] == [{"field": "groups", "old": [], "new": ["218"]}]
    again = api.call("member_create", {"id": "218", "object": created["name"], "object_type": "package"},
                     token=org.editor.token).result
    assert again["state"] == "active"
    unchanged = api.call("package_show", {"id": created["id"]}, method="GET").result
    assert unchanged["metadata_modified"] == after["metadata_modified"]  # already there: no change
