"""CKAN 2.10 compatibility of the read actions (issue 16), driven as CKAN clients drive them: the published
ckanapi client and raw HTTP against a live server, each answer checked against a JSON Schema of CKAN's
response (tests/api/ckan_schemas/, written from CKAN's documentation), and the share rules checked as an
anonymous caller and as another department's editor."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import ckanapi
import jsonschema
import pytest
import requests

SCHEMAS = Path(__file__).resolve().parent / "ckan_schemas"


def check(name: str, value) -> None:
    """Fail with the schema's complaint when ``value`` is not shaped as CKAN 2.10 answers ``name``."""
    with open(SCHEMAS / f"{name}.json", encoding="utf-8") as f:
        jsonschema.validate(value, json.load(f))


@pytest.fixture
def site(live_url, make, sysadmin):
    """Two departments; mzj publishes A (in theme 218, links to B), B, a private P and a draft D."""
    people = {role: make.user(role) for role in ("editor", "member", "other_editor")}
    mzj = make.department("mzj", title="县民政局", members={"editor": people["editor"], "member": people["member"]})
    gaj = make.department("gaj", title="县公安局", members={"editor": people["other_editor"]})
    b = make.dataset(mzj["id"], name="relief-roster", title="低保对象名册", tags=["救助"])
    editor = ckanapi.RemoteCKAN(live_url, apikey=people["editor"].token)
    shown_b = editor.action.package_show(id=b["id"])
    a = make.dataset(mzj["id"], name="household-register", title="户籍人口信息表", tags=["户籍", "人口"],
                     license_id="cc-by", related_codes=[shown_b["resource_code"]])
    editor.action.resource_create(package_id=a["id"], url="https://data.ningshan.gov.cn/hukou.csv", format="CSV",
                                  name="户籍表", encoding="GB18030")
    editor.action.package_patch(id=a["id"], groups=[{"name": "218"}])
    p = make.dataset(mzj["id"], name="secret-petitions", title="信访人员名单", tags=["内部名单"], private=True,
                     license_id="other-closed")
    editor.action.resource_create(package_id=p["id"], url="https://intranet.example/p.zz", format="ZZSECRET")
    editor.action.package_patch(id=p["id"], groups=[{"name": "218"}])
    d = make.dataset(mzj["id"], name="draft-list", title="草稿名单", state="draft")
    return SimpleNamespace(url=live_url, mzj=mzj, gaj=gaj, a=a, b=b, p=p, d=d, people=people,
                           sysadmin=ckanapi.RemoteCKAN(live_url, apikey=sysadmin.token), editor=editor,
                           member=ckanapi.RemoteCKAN(live_url, apikey=people["member"].token),
                           other=ckanapi.RemoteCKAN(live_url, apikey=people["other_editor"].token),
                           anonymous=ckanapi.RemoteCKAN(live_url))


def outsiders(site):
    """Those who may not see mzj's private or draft datasets: anonymous and gaj's editor."""
    return (site.anonymous, site.other)


def test_package_show_has_ckan_fields_licence_and_themes(site):
    shown = site.anonymous.action.package_show(id="household-register")
    check("package_show", shown)
    assert (shown["isopen"], shown["license_title"]) == (True, "Creative Commons Attribution")
    assert shown["license_url"] == "http://www.opendefinition.org/licenses/cc-by"
    assert [g["name"] for g in shown["groups"]] == ["218"]
    assert shown["groups"][0]["title"] == "Civil affairs and communities"
    resource = shown["resources"][0]
    check("resource", resource)
    assert resource["encoding"] == "GB18030" and resource["resource_type"] is None
    closed = site.editor.action.package_show(id="secret-petitions")
    assert (closed["isopen"], closed["license_title"]) == (False, "Other (Not Open)") and "license_url" not in closed
    chinese = requests.get(f"{site.url}/api/3/action/package_show", params={"id": "household-register"},
                           headers={"Accept-Language": "zh-CN"}).json()
    assert chinese["result"]["groups"][0]["title"] == "民政、社区"
    assert chinese["result"]["license_title"] == "知识共享署名许可协议 (CC BY)"
    assert chinese["help"] == f"{site.url}/api/3/action/help_show?name=package_show"


def test_unknown_licence_is_its_own_title_and_not_open(site):
    patched = site.editor.action.package_patch(id="relief-roster", license_id="county-own")
    assert (patched["isopen"], patched["license_title"]) == (False, "county-own")


def test_license_list(site):
    licences = site.anonymous.action.license_list()
    check("license_list", licences)
    by_id = {lic["id"]: lic for lic in licences}
    for wanted in ("CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "odc-by", "odc-odbl", "odc-pddl", "other-open",
                   "other-closed", "notspecified", "cn-portal-terms"):
        assert wanted in by_id
    assert by_id["odc-odbl"]["is_okd_compliant"] is True and by_id["other-closed"]["is_okd_compliant"] is False
    assert by_id["cn-portal-terms"]["od_conformance"] == "not reviewed"


def test_group_list_show_and_package_show(site):
    names = site.anonymous.action.group_list()
    assert names[:3] == ["201", "202", "203"] or sorted(names) == names or len(names) == 21
    assert len(names) == 21 and all(n.startswith("2") for n in names)
    full = site.anonymous.action.group_list(all_fields=True, sort="package_count desc", limit=2)
    assert [g["name"] for g in full] == ["218", "201"] and full[0]["package_count"] == 1
    assert site.editor.action.group_list(all_fields=True, sort="package_count desc", limit=1)[0][
        "package_count"] == 2  # mzj's own private dataset counts for mzj's people
    assert site.anonymous.action.group_list(sort="name desc", limit=2, offset=1) == ["220", "219"]
    assert "package_count" not in site.anonymous.action.group_list(all_fields=True, include_dataset_count=False,
                                                                   limit=1)[0]
    assert site.anonymous.action.group_list(q="民政") == ["218"] == site.anonymous.action.group_list(q="civil")
    shown = site.anonymous.action.group_show(id="218", include_datasets=True)
    check("group_show", shown)
    assert [p["name"] for p in shown["packages"]] == ["household-register"]
    mine = site.member.action.group_show(id="218", include_datasets=True)
    assert {p["name"] for p in mine["packages"]} == {"household-register", "secret-petitions"}
    for caller in outsiders(site):
        assert [p["name"] for p in caller.action.group_package_show(id="218")] == ["household-register"]
    with pytest.raises(ckanapi.NotFound):
        site.anonymous.action.group_show(id="999")
    with pytest.raises(ckanapi.ValidationError) as bad:
        site.anonymous.action.group_list(sort="created asc")
    assert "sort" in bad.value.error_dict


def test_themes_are_set_by_the_datasets_editors_only(site):
    with pytest.raises(ckanapi.ValidationError) as unknown:
        site.editor.action.package_patch(id="relief-roster", groups=[{"name": "101"}])
    assert "groups.0.name" in unknown.value.error_dict
    with pytest.raises(ckanapi.NotAuthorized):
        site.other.action.member_create(id="201", object="relief-roster", object_type="package")
    site.editor.action.member_create(id="201", object="relief-roster", object_type="package")
    assert [g["name"] for g in site.anonymous.action.package_show(id="relief-roster")["groups"]] == ["201"]
    kept = site.editor.action.package_patch(id="relief-roster", title="低保对象名册（新）")
    assert [g["name"] for g in kept["groups"]] == ["201"]  # groups not given: kept, as CKAN
    site.editor.action.member_delete(id="201", object="relief-roster", object_type="package")
    assert site.anonymous.action.package_show(id="relief-roster")["groups"] == []


def test_organization_show_and_list_fields(site):
    shown = site.member.action.organization_show(id="mzj")
    check("organization_show", shown)
    assert {(u["name"], u["capacity"]) for u in shown["users"]} == {("editor", "editor"), ("member", "member")}
    assert (shown["groups"], shown["tags"], shown["extras"], shown["num_followers"]) == ([], [], [], 0)
    for caller in outsiders(site):
        assert caller.action.organization_show(id="mzj")["users"] == []
    assert "users" not in site.member.action.organization_show(id="mzj", include_users=False)
    listed = site.anonymous.action.organization_list(all_fields=True, include_tags=True, include_groups=True,
                                                     include_extras=True)
    check("organization_list", listed)
    assert all(o["tags"] == [] and o["groups"] == [] and o["extras"] == [] for o in listed)
    assert "tags" not in site.anonymous.action.organization_list(all_fields=True)[0]
    assert {o["name"]: o["package_count"] for o in listed} == {"mzj": 2, "gaj": 0}


def test_organization_list_for_user_and_autocomplete(site):
    assert [o["name"] for o in site.editor.action.organization_list_for_user(permission="create_dataset")] == ["mzj"]
    assert site.member.action.organization_list_for_user(permission="create_dataset") == []
    read = site.member.action.organization_list_for_user(permission="read", include_dataset_count=True)
    assert [(o["name"], o["capacity"], o["package_count"]) for o in read] == [("mzj", "member", 4)]
    assert {o["name"] for o in site.sysadmin.action.organization_list_for_user()} == {"mzj", "gaj"}
    assert site.anonymous.action.organization_list_for_user() == []
    with pytest.raises(ckanapi.NotFound):  # another account's departments are not the outsider's to see
        site.other.action.organization_list_for_user(id="member")
    assert site.anonymous.action.organization_autocomplete(q="公安") == [
        {"id": site.gaj["id"], "name": "gaj", "title": "县公安局"}]


def test_tag_show_and_autocompletes_never_show_private_or_draft_datasets(site):
    shown = site.anonymous.action.tag_show(id="户籍", include_datasets=True)
    check("tag_show", shown)
    assert [p["name"] for p in shown["packages"]] == ["household-register"]
    for caller in outsiders(site) + (site.member,):
        with pytest.raises(ckanapi.NotFound):
            caller.action.tag_show(id="内部名单")
        assert caller.action.tag_autocomplete(query="名单") == []
        assert caller.action.format_autocomplete(q="zz") == []
        assert caller.action.package_autocomplete(q="名单") == []
    assert site.anonymous.action.tag_autocomplete(query="户") == ["户籍"]
    assert site.anonymous.action.format_autocomplete(q="cs") == ["csv"]
    assert site.anonymous.action.package_autocomplete(q="户籍") == [
        {"name": "household-register", "title": "户籍人口信息表", "match_field": "title",
         "match_displayed": "户籍人口信息表 (household-register)"}]
    assert site.anonymous.action.package_autocomplete(q="relief", limit=1)[0]["match_field"] == "name"
    assert site.anonymous.action.vocabulary_list() == []
    v2 = requests.get(f"{site.url}/api/2/util/resource/format_autocomplete", params={"incomplete": "c"}).json()
    assert v2 == {"ResultSet": {"Result": [{"Format": "csv"}]}}
    secret = requests.get(f"{site.url}/api/2/util/resource/format_autocomplete", params={"incomplete": "zz"})
    assert secret.json() == {"ResultSet": {"Result": []}}
    assert requests.get(f"{site.url}/api/i18n/zh_CN").status_code == 200
    assert requests.get(f"{site.url}/api/i18n/xx").status_code == 404


def test_resource_search_and_current_list(site):
    found = site.anonymous.action.resource_search(query="format:csv")
    assert found["count"] == 1 and found["results"][0]["name"] == "户籍表"
    check("resource", found["results"][0])
    both = site.anonymous.action.resource_search(query=["format:csv", "name:户籍"], limit=0)
    assert (both["count"], both["results"]) == (1, [])
    for caller in outsiders(site):
        assert caller.action.resource_search(query="format:zzsecret")["count"] == 0
    with pytest.raises(ckanapi.ValidationError) as bad:
        site.anonymous.action.resource_search(query="colour:red")
    assert "colour" in bad.value.error_dict["query"][0]
    current = site.anonymous.action.current_package_list_with_resources(limit=10)
    assert {p["name"] for p in current} == {"household-register", "relief-roster"}
    assert len(site.anonymous.action.current_package_list_with_resources(limit=1, page=2)) == 1
    for package in current:
        check("package_show", package)


def test_package_relationships_from_related_codes(site):
    links = site.anonymous.action.package_relationships_list(id="household-register")
    assert [(r["subject"], r["object"], r["type"]) for r in links] == [
        ("household-register", "relief-roster", "links_to")]
    back = site.anonymous.action.package_relationships_list(id="relief-roster", rel="linked_from")
    assert [r["object"] for r in back] == ["household-register"]
    with pytest.raises(ckanapi.ValidationError):
        site.anonymous.action.package_relationships_list(id="relief-roster", rel="sibling_of")
    with pytest.raises(ckanapi.NotFound):
        site.other.action.package_relationships_list(id="secret-petitions")


def test_package_search_answers_in_ckans_shape(site):
    found = site.anonymous.action.package_search(q="户籍", rows=1, sort="name asc")
    check("package_search", found)
    assert found["count"] == 2 and [p["name"] for p in found["results"]] == ["household-register"]
    assert found["results"][0]["groups"][0]["name"] == "218"
