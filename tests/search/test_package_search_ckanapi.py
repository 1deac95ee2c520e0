"""package_search's parameters as CKAN clients send them: the published ckanapi client and raw HTTP against
a live server, answers checked against the JSON Schema of CKAN 2.10's package_search (tests/api/ckan_schemas)."""
from __future__ import annotations

import json
from pathlib import Path

import ckanapi
import jsonschema
import pytest
import requests

SCHEMA = Path(__file__).resolve().parent.parent / "api" / "ckan_schemas" / "package_search.json"


def check(found) -> None:
    with open(SCHEMA, encoding="utf-8") as f:
        jsonschema.validate(found, json.load(f))


@pytest.fixture
def site(live_url, make):
    """Two departments: 民政局 with a roster (two resources) and a pension list, 公安局 with a register."""
    mzj = make.department("ningshan-mzj", title="宁陕县民政局")
    gaj = make.department("ningshan-gaj", title="宁陕县公安局")
    make.dataset(mzj["id"], name="dibao", title="城乡低保对象名单", tags=["低保", "社会救助"])
    make.dataset(mzj["id"], name="yanglao", title="养老机构名录", tags=["养老"], license_id="cc-by")
    make.dataset(gaj["id"], name="huji", title="宁陕县户籍人口信息表", tags=["户籍", "人口"], license_id="cc-by")
    admin = make.user("search-admin", sysadmin=True)
    client = ckanapi.RemoteCKAN(live_url, apikey=admin.token)
    for fmt in ("CSV", "XLSX"):
        client.action.resource_create(package_id="dibao", url=f"https://data.ningshan.gov.cn/dibao.{fmt.lower()}",
                                      format=fmt)
    return live_url, ckanapi.RemoteCKAN(live_url)


def names(found) -> list[str]:
    return [d["name"] for d in found["results"]]


def test_solr_syntax_through_ckanapi(site):
    _url, ckan = site
    found = ckan.action.package_search(q="organization:ningshan-mzj AND -tags:养老")
    check(found)
    assert names(found) == ["dibao"]
    found = ckan.action.package_search(q="tags:(户籍 OR 养老)", sort="name asc")
    assert names(found) == ["huji", "yanglao"]
    found = ckan.action.package_search(q="*:*", fq="+dataset_type:dataset license_id:cc-by", sort="name desc")
    assert names(found) == ["yanglao", "huji"]
    found = ckan.action.package_search(fq="metadata_modified:[NOW-1HOUR TO *]", rows=5000,
                                       sort="num_resources desc, name asc")
    assert names(found) == ["dibao", "huji", "yanglao"]


def test_fl_facets_and_ignored_parameters_through_ckanapi(site):
    _url, ckan = site
    found = ckan.action.package_search(q="name:dibao", fl="name,num_resources", **{"facet.field": ["res_format"]})
    assert found["results"] == [{"name": "dibao", "num_resources": 2}]
    assert found["facets"]["res_format"] == {"CSV": 1, "XLSX": 1}
    found = ckan.action.package_search(q="低保", use_default_schema=True, ext_bbox="108.0,33.2,108.6,33.6")
    check(found)
    assert names(found) == ["dibao"]


def test_mistakes_are_validation_errors_naming_the_parameter(site):
    _url, ckan = site
    with pytest.raises(ckanapi.ValidationError) as info:
        ckan.action.package_search(q="organisation:ningshan-mzj")
    assert "unknown field 'organisation'" in info.value.error_dict["q"][0]
    with pytest.raises(ckanapi.ValidationError) as info:
        ckan.action.package_search(q="(低保 OR 养老")
    assert "unbalanced '(' at position 0" in info.value.error_dict["q"][0]


def test_raw_http_get_with_a_bare_facet_field(site):
    url, _ckan = site
    body = requests.get(f"{url}/api/3/action/package_search",
                        params={"q": "tags:低保", "facet.field": "organization", "rows": "2000"}).json()
    assert body["success"] and [d["name"] for d in body["result"]["results"]] == ["dibao"]
    assert body["result"]["facets"]["organization"] == {"ningshan-mzj": 1}
    body = requests.get(f"{url}/api/3/action/package_search", params={"q": "户籍 AND"}).json()
    assert body["success"] is False and "dangling operator 'AND' at position 3" in body["error"]["q"][0]
