"""package_search through the API: matching, filters, facets, visibility, errors."""
from __future__ import annotations

import json

import pytest


@pytest.fixture
def catalog(make, sysadmin):
    officer = make.user("officer")
    mzj = make.department("ningshan-mzj", title="宁陕县民政局", members={"editor": officer})
    gaj = make.department("ningshan-gaj", title="宁陕县公安局")
    make.dataset(gaj["id"], name="household", title="宁陕县户籍人口信息表", tags=["户籍", "人口"],
                 notes="全县户籍人口的户编号与成员。", update_cycle="monthly",
                 resource_code="101001/000777")
    make.dataset(mzj["id"], name="allowance", title="城乡低保对象名单", tags=["低保"],
                 notes="低保对象的户籍所在地与保障金额。", share_type="unconditional",
                 share_condition=None, update_cycle="quarterly", resource_code="201003/000001",
                 category="201")
    make.dataset(mzj["id"], name="private-list", title="户籍核查内部名单", private=True)
    make.dataset(mzj["id"], name="draft-list", title="户籍走访草稿", state="draft")
    return {"officer": officer, "mzj": mzj, "gaj": gaj}


def names(reply):
    return [d["name"] for d in reply.result["results"]]


def test_chinese_word_finds_the_title_and_ranks_title_above_abstract(api, catalog):
    reply = api.call("package_search", {"q": "户籍"}, method="GET")
    assert names(reply) == ["household", "allowance"]
    assert reply.result["count"] == 2


@pytest.mark.parametrize("query", ["人口", "戶籍", "huji", "hj", "ＨＵＪＩ", "101001/000777"])
def test_variants_find_the_household_dataset(api, catalog, query):
    assert "household" in names(api.call("package_search", {"q": query}, method="GET"))


def test_created_dataset_is_found_at_once_and_deleted_one_is_gone(api, catalog, sysadmin):
    assert names(api.call("package_search", {"q": "低保"})) == ["allowance"]
    api.call("package_delete", {"id": "allowance"}, token=sysadmin.token)
    assert names(api.call("package_search", {"q": "低保"})) == []


def test_filters_and_negation(api, catalog):
    assert names(api.call("package_search", {"fq": "organization:ningshan-mzj"})) == ["allowance"]
    assert names(api.call("package_search", {"q": "户籍", "fq": "-share_type:unconditional"})) == ["household"]
    assert names(api.call("package_search", {"fq": 'tags:"低保"'})) == ["allowance"]


def test_facets_count_the_filtered_visible_set(api, catalog):
    reply = api.call("package_search", {"q": "户籍", "facet.field": json.dumps(["organization", "update_cycle"])},
                     method="GET")
    facets = reply.result["search_facets"]
    orgs = {i["name"]: i["count"] for i in facets["organization"]["items"]}
    assert orgs == {"ningshan-gaj": 1, "ningshan-mzj": 1}
    cycles = {i["name"]: i["display_name"] for i in facets["update_cycle"]["items"]}
    assert cycles == {"monthly": "每月", "quarterly": "每季度"}


def test_private_and_drafts_only_for_members_who_ask(api, catalog):
    officer = catalog["officer"]
    assert "private-list" not in names(api.call("package_search", {"q": "户籍", "include_private": True}))
    mine = names(api.call("package_search", {"q": "户籍", "include_private": True, "include_drafts": True},
                          token=officer.token))
    assert {"private-list", "draft-list"} <= set(mine)
    assert "private-list" not in names(api.call("package_search", {"q": "户籍"}, token=officer.token))


@pytest.mark.parametrize("params, field", [
    ({"fq": "secret_column:1"}, "fq"),
    ({"fq": 'organization:"unbalanced'}, "fq"),
    ({"sort": "title_string sideways"}, "sort"),
    ({"sort": "name; DROP TABLE dataset"}, "sort"),
    ({"rows": -1}, "rows"),
    ({"rows": 2**31}, "rows"),
    ({"facet.field": '["password"]'}, "facet.field"),
    ({"qq": "typo"}, "qq"),
])
def test_bad_parameters_are_named_not_crashed(api, catalog, params, field):
    reply = api.call("package_search", params)
    assert reply.status == 409
    assert field in reply.error
    assert "SELECT" not in json.dumps(reply.error)


def test_sort_and_paging(api, catalog):
    first = api.call("package_search", {"sort": "title_string asc", "rows": 1})
    second = api.call("package_search", {"sort": "title_string asc", "rows": 1, "start": 1})
    assert first.result["count"] == 2
    assert len(first.result["results"]) == 1
    assert names(first) != names(second)


def test_renamed_department_is_found_under_its_new_title(api, catalog, sysadmin):
    api.call("organization_patch", {"id": "ningshan-gaj", "title": "宁陕县公安局户政大队"}, token=sysadmin.token)
    assert names(api.call("package_search", {"q": "户政大队"})) == ["household"]
