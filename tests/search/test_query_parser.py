"""package_search's Solr-style q and fq, table-driven, on a small hand-written catalog (SQLite and PostgreSQL).

Twelve datasets of three departments, created through the service layer inside a module-wide
transaction that is rolled back at the end. Each query lists the datasets a CKAN user would expect
from reading the titles, abstracts, tags, formats and dates below; the expectations were worked out
by hand from that table, not by running the search.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa

from catalog.db import get_db
from tests.conftest import dataset_values, rolled_back

NOW = dt.datetime.now(dt.timezone.utc)
DEPARTMENTS = {"ningshan-gaj": "宁陕县公安局", "ningshan-mzj": "宁陕县民政局", "ningshan-zrzy": "宁陕县自然资源局"}


def day(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


#: name, department, title, notes, tags, resources (format, name, description), licence, share type,
#: update cycle, resource code, extras, themes (GB/T 21063.4 codes), last modified.
CORPUS = [
    dict(name="hj-renkou", org="ningshan-gaj", title="宁陕县户籍人口信息表", notes="全县户籍人口的户编号与成员。",
         tags=["户籍", "人口"], resources=[("CSV", "户籍人口 2024年", "按乡镇汇总的户籍人口"), ("XLSX", "户籍人口明细", "")],
         license="cc-by", share="unconditional", cycle="monthly", code="101001/000001",
         extras={"source": "公安内网"}, groups=["213"], modified=NOW - dt.timedelta(hours=2)),
    dict(name="hj-biandong", org="ningshan-gaj", title="户籍变动登记", notes="迁入、迁出与户籍变更记录。",
         tags=["户籍"], resources=[("PDF", "变动登记册", "")], license="odc-by", share="conditional",
         cycle="quarterly", code="101001/000002", groups=["213", "218"], modified=day("2025-06-01")),
    dict(name="dibao", org="ningshan-mzj", title="城乡低保对象名单", notes="低保对象的户籍所在地与保障金额。",
         tags=["低保", "社会救助"], resources=[("CSV", "低保名单", "")], license="cc-by", share="unconditional",
         cycle="quarterly", code="201003/000001", groups=["218"], modified=day("2026-02-01")),
    dict(name="dibao-meizi", org="ningshan-mzj", title="梅子镇低保对象名单", notes="梅子镇低保对象及家庭人口。",
         tags=["低保"], resources=[], license=None, share="conditional", cycle="yearly", code="201003/000002",
         groups=["218"], modified=day("2025-12-01")),
    dict(name="yanglao", org="ningshan-mzj", title="养老机构名录", notes="全县养老机构的床位与地址。",
         tags=["养老"], resources=[("XLSX", "机构名录", ""), ("API", "机构查询接口", "")], license="other-closed",
         share="unconditional", cycle="yearly", code="201005/000001", modified=day("2024-05-01")),
    dict(name="gis-basemap", org="ningshan-zrzy", title="GIS base map 基础地图",
         notes="Basemap tiles served through a REST api.", tags=["GIS", "open-data"],
         resources=[("WMS", "Base map tiles", ""), ("API", "REST endpoint", "")], license="cc-by",
         share="unconditional", cycle="irregular", code="203001/000001", groups=["203", "211"],
         modified=day("2025-03-01")),
    dict(name="dizhi", org="ningshan-zrzy", title="地质灾害隐患点", notes="地质灾害隐患点的位置与受威胁人口。",
         tags=["GIS", "地质灾害"], resources=[("SHP", "隐患点图层", ""), ("CSV", "隐患点清单", "")],
         license="odc-by", share="conditional", cycle="yearly", code="203002/000001", groups=["211"],
         modified=day("2025-09-01")),
    dict(name="tudi", org="ningshan-zrzy", title="土地利用现状", notes="土地利用分类面积统计。", tags=["GIS"],
         resources=[("SHP", "土地利用图斑", "")], license=None, share="conditional", cycle="yearly",
         code="203003/000001", groups=["203"], modified=day("2023-07-01")),
    dict(name="hunyin", org="ningshan-mzj", title="婚姻登记信息", notes="结婚与离婚登记。", tags=[], resources=[],
         license=None, share="conditional", cycle="monthly", code="201009/000001", modified=day("2025-01-15")),
    dict(name="jiuzhu", org="ningshan-mzj", title="临时救助发放记录", notes="社会救助资金的发放对象与金额。",
         tags=["社会救助"], resources=[("XLSX", "发放记录", "")], license=None, share="conditional",
         cycle="monthly", code="201004/000001", groups=["218"], modified=day("2025-11-01")),
    dict(name="neibu", org="ningshan-gaj", title="户籍核查内部名单", notes="内部核查。", tags=["户籍"], resources=[],
         license=None, share="none", cycle="monthly", code="101001/000003", private=True,
         modified=day("2025-02-01")),
    dict(name="zoufang", org="ningshan-mzj", title="户籍走访草稿", notes="草稿。", tags=["户籍"], resources=[],
         license=None, share="none", cycle="monthly", code="201010/000001", state="draft",
         modified=day("2025-02-02")),
]
VISIBLE = [d["name"] for d in CORPUS if not d.get("private") and not d.get("state")]
MZJ = ["dibao", "dibao-meizi", "yanglao", "hunyin", "jiuzhu"]
GIS = ["gis-basemap", "dizhi", "tudi"]


def others(*names: str) -> list[str]:
    return [n for n in VISIBLE if n not in names]


#: (id, parameters, the datasets found, any order).
QUERIES: list[tuple[str, dict[str, Any], list[str]]] = [
    # words, in the default fields (title, abstract, tags, department, codes)
    ("word", {"q": "户籍"}, ["hj-renkou", "hj-biandong", "dibao"]),
    ("two-words-are-anded", {"q": "户籍 人口"}, ["hj-renkou"]),
    ("word-in-tags", {"q": "GIS"}, GIS),
    ("english-any-case", {"q": "rest API"}, ["gis-basemap"]),
    ("department-name-with-hyphen", {"q": "ningshan-gaj"}, ["hj-renkou", "hj-biandong"]),
    ("resource-code", {"q": "101001/000001"}, ["hj-renkou"]),
    ("traditional-script", {"q": "戶籍 變動"}, ["hj-biandong"]),
    ("nothing", {"q": "火星"}, []),
    ("match-all", {"q": "*:*"}, VISIBLE),
    ("text-field", {"q": "text:低保"}, ["dibao", "dibao-meizi"]),
    # operators
    ("or", {"q": "户籍 OR 低保"}, ["hj-renkou", "hj-biandong", "dibao", "dibao-meizi"]),
    ("or-symbols", {"q": "养老 || 婚姻"}, ["yanglao", "hunyin"]),
    ("and", {"q": "户籍 AND 低保"}, ["dibao"]),
    ("and-symbols", {"q": "户籍 && 变动"}, ["hj-biandong"]),
    ("minus", {"q": "户籍 -低保"}, ["hj-renkou", "hj-biandong"]),
    ("not", {"q": "户籍 NOT 低保"}, ["hj-renkou", "hj-biandong"]),
    ("not-alone", {"q": "NOT 户籍"}, others("hj-renkou", "hj-biandong", "dibao")),
    ("plus-is-required", {"q": "+title:低保 -name:dibao-meizi"}, ["dibao"]),
    ("parentheses", {"q": "(户籍 OR 养老) AND organization:ningshan-mzj"}, ["dibao", "yanglao"]),
    ("parentheses-or-field", {"q": "(tags:GIS AND res_format:SHP) OR name:hunyin"}, ["dizhi", "tudi", "hunyin"]),
    ("and-binds-before-or", {"q": "name:tudi OR tags:GIS res_format:CSV"}, ["tudi", "dizhi"]),
    ("not-of-a-group", {"q": "-(tags:GIS OR tags:低保)"}, ["hj-renkou", "hj-biandong", "yanglao", "hunyin", "jiuzhu"]),
    # phrases and prefixes
    ("phrase", {"q": '"base map"'}, ["gis-basemap"]),
    ("phrase-word-order", {"q": '"map base"'}, []),
    ("phrase-chinese", {"q": '"户籍人口"'}, ["hj-renkou"]),
    ("phrase-traditional", {"q": '"戶籍變動"'}, ["hj-biandong"]),
    ("phrase-in-title", {"q": 'title:"低保对象名单"'}, ["dibao", "dibao-meizi"]),
    ("phrase-in-notes", {"q": 'notes:"低保对象的"'}, ["dibao"]),
    ("prefix-chinese", {"q": "地质*"}, ["dizhi"]),
    ("prefix-title", {"q": "title:婚*"}, ["hunyin"]),
    ("prefix-pinyin-title", {"q": "title:huj*"}, ["hj-renkou", "hj-biandong"]),
    # exact string fields
    ("name", {"q": "name:dibao"}, ["dibao"]),
    ("name-prefix", {"q": "name:dibao*"}, ["dibao", "dibao-meizi"]),
    ("name-group", {"q": "name:(dibao OR tudi)"}, ["dibao", "tudi"]),
    ("name-hyphen-prefix", {"q": "name:hj-*"}, ["hj-renkou", "hj-biandong"]),
    ("tags", {"q": "tags:GIS"}, GIS),
    ("tags-chinese", {"q": "tags:社会救助"}, ["dibao", "jiuzhu"]),
    ("tags-quoted", {"q": 'tags:"open-data"'}, ["gis-basemap"]),
    ("tags-prefix", {"q": "tags:地质*"}, ["dizhi"]),
    ("tags-present", {"q": "tags:*"}, others("hunyin")),
    ("tags-absent", {"q": "-tags:*"}, ["hunyin"]),
    ("not-tags", {"q": "-tags:GIS"}, others(*GIS)),
    ("organization", {"q": "organization:ningshan-mzj"}, MZJ),
    ("organization-prefix", {"q": "organization:ningshan-zr*"}, GIS),
    ("res-format", {"q": "res_format:CSV"}, ["hj-renkou", "dibao", "dizhi"]),
    ("res-format-any-case", {"q": "res_format:csv"}, ["hj-renkou", "dibao", "dizhi"]),
    ("res-format-group", {"q": "res_format:(SHP OR WMS)"}, GIS),
    ("res-format-not-org", {"q": "res_format:API -organization:ningshan-zrzy"}, ["yanglao"]),
    ("res-format-present", {"q": "res_format:*"}, others("dibao-meizi", "hunyin")),
    ("license", {"q": "license_id:cc-by"}, ["hj-renkou", "dibao", "gis-basemap"]),
    ("license-present", {"q": "license_id:*"}, ["hj-renkou", "hj-biandong", "dibao", "yanglao", "gis-basemap", "dizhi"]),
    ("share-type", {"q": "share_type:unconditional"}, ["hj-renkou", "dibao", "yanglao", "gis-basemap"]),
    ("cycle-and-category", {"q": "update_cycle:monthly AND category:101001"}, ["hj-renkou"]),
    ("code-prefix", {"q": "resource_code:101001/*"}, ["hj-renkou", "hj-biandong"]),
    ("code-range", {"q": "resource_code:[201003/000000 TO 201005/999999]"}, ["dibao", "dibao-meizi", "jiuzhu", "yanglao"]),
    ("dataset-type", {"q": "dataset_type:dataset"}, VISIBLE),
    ("capacity", {"q": "capacity:public"}, VISIBLE),
    ("groups", {"q": "groups:218"}, ["hj-biandong", "dibao", "dibao-meizi", "jiuzhu"]),
    ("groups-or", {"q": "groups:211 OR groups:213"}, ["gis-basemap", "dizhi", "hj-renkou", "hj-biandong"]),
    ("groups-and", {"q": "groups:(203 AND 211)"}, ["gis-basemap"]),
    ("extras", {"q": "extras_source:公安内网"}, ["hj-renkou"]),
    ("extras-present", {"q": "extras_source:*"}, ["hj-renkou"]),
    # analysed text fields
    ("title", {"q": "title:户籍"}, ["hj-renkou", "hj-biandong"]),
    ("title-and-org", {"q": "title:低保 organization:ningshan-mzj"}, ["dibao", "dibao-meizi"]),
    ("title-pinyin", {"q": "title:huji"}, ["hj-renkou", "hj-biandong"]),
    ("title-english", {"q": "title:gis"}, ["gis-basemap"]),
    ("notes", {"q": "notes:低保"}, ["dibao", "dibao-meizi"]),
    ("notes-not-tags", {"q": "notes:GIS"}, []),
    ("notes-english", {"q": "notes:api"}, ["gis-basemap"]),
    ("res-name", {"q": "res_name:明细"}, ["hj-renkou"]),
    ("res-name-or", {"q": "res_name:图层 OR res_name:图斑"}, ["dizhi", "tudi"]),
    ("res-description", {"q": "res_description:乡镇"}, ["hj-renkou"]),
    ("res-url", {"q": "res_url:http\\://example.gov.cn/tudi.shp"}, ["tudi"]),
    ("res-url-quoted", {"q": 'res_url:"http://example.gov.cn/tudi.shp"'}, ["tudi"]),
    ("res-url-prefix", {"q": "res_url:http\\://example.gov.cn/dibao*"}, ["dibao"]),
    # dates and numbers
    ("modified-range", {"q": "metadata_modified:[2025-06-01T00:00:00Z TO 2025-12-31T23:59:59Z]"},
     ["hj-biandong", "dizhi", "dibao-meizi", "jiuzhu"]),
    ("modified-range-exclusive", {"q": "metadata_modified:{2025-06-01T00:00:00Z TO 2025-12-31T23:59:59Z}"},
     ["dizhi", "dibao-meizi", "jiuzhu"]),
    ("modified-open-start", {"q": "metadata_modified:[* TO 2024-12-31T00:00:00Z]"}, ["yanglao", "tudi"]),
    ("modified-date-math", {"q": "metadata_modified:[NOW-1DAY TO *]"}, ["hj-renkou"]),
    ("modified-one-day", {"q": "metadata_modified:2025-06-01"}, ["hj-biandong"]),
    ("created-range", {"q": "metadata_created:[2023-01-01T00:00:00Z TO 2023-01-03T00:00:00Z}"},
     ["hj-renkou", "hj-biandong"]),
    ("num-resources", {"q": "num_resources:[2 TO *]"}, ["hj-renkou", "yanglao", "gis-basemap", "dizhi"]),
    ("num-resources-zero", {"q": "num_resources:0"}, ["dibao-meizi", "hunyin"]),
    ("num-tags", {"q": "num_tags:[2 TO *]"}, ["hj-renkou", "dibao", "gis-basemap", "dizhi"]),
    # fq: the same syntax, filtering without ranking
    ("fq-date-range", {"q": "户籍", "fq": "metadata_modified:[2025-07-01T00:00:00Z TO *]"}, ["hj-renkou", "dibao"]),
    ("fq-type", {"fq": "type:dataset"}, VISIBLE),
    ("fq-other-type", {"fq": "dataset_type:harvest"}, []),
    ("fq-title", {"fq": "title:低保"}, ["dibao", "dibao-meizi"]),
    ("fq-groups", {"q": "低保", "fq": "groups:218"}, ["dibao", "dibao-meizi"]),
    ("fq-extras", {"fq": "extras_source:公安内网"}, ["hj-renkou"]),
    ("fq-list", {"fq_list": ["tags:GIS", "res_format:SHP"]}, ["dizhi", "tudi"]),
    ("fq-negated-org", {"q": "*:*", "fq": "-organization:ningshan-mzj"}, others(*MZJ)),
    ("fq-or", {"fq": "organization:ningshan-gaj OR tags:养老"}, ["hj-renkou", "hj-biandong", "yanglao"]),
]

#: Queries only an administrator with include_private / include_drafts sees answered.
ADMIN_QUERIES = [
    ("private", {"q": "capacity:private", "include_private": True}, ["neibu"]),
    ("draft", {"q": "state:draft", "include_drafts": True}, ["zoufang"]),
    ("private-and-draft-words", {"q": "户籍 -name:hj*", "include_private": True, "include_drafts": True},
     ["dibao", "neibu", "zoufang"]),
]


def load(session) -> dict[str, str]:
    """Create the departments and datasets through the service layer; return the tokens."""
    from catalog.auth.service import create_token, create_user
    from catalog.datasets.models import Dataset
    from catalog.datasets.resources import create_resource
    from catalog.datasets.service import create_dataset
    from catalog.departments.service import create_department, set_member
    from catalog.groups.models import DatasetGroup

    admin = create_user(session, None, name="parser-admin", password="correct-horse-battery", sysadmin=True,
                        check_auth=False)
    _token, secret = create_token(session, None, user=admin, name="parser", check_auth=False)
    departments = {name: create_department(session, admin, name=name, title=title)
                   for name, title in DEPARTMENTS.items()}
    editor = create_user(session, None, name="mzj-editor", password="correct-horse-battery", check_auth=False)
    set_member(session, admin, departments["ningshan-mzj"], editor, "editor")
    _token, editor_secret = create_token(session, None, user=editor, name="parser", check_auth=False)
    for number, item in enumerate(CORPUS):
        values = dataset_values(departments[item["org"]].id, number)
        values.update(name=item["name"], title=item["title"], notes=item["notes"], license_id=item["license"],
                      share_type=item["share"], update_cycle=item["cycle"], resource_code=item["code"],
                      category=item["code"].split("/")[0], private=item.get("private", False),
                      state=item.get("state", "active"))
        if item["share"] == "unconditional":
            values["share_condition"] = None
        dataset = create_dataset(session, admin, values=values, tags=item["tags"], extras=item.get("extras"))
        for fmt, name, description in item["resources"]:
            create_resource(session, admin, dataset, record=False, values={
                "url": f"http://example.gov.cn/{item['name']}.{fmt.lower()}", "format": fmt, "name": name,
                "description": description or None})
        session.add_all(DatasetGroup(dataset_id=dataset.id, group_name=code) for code in item.get("groups", []))
        session.flush()
        session.execute(sa.update(Dataset).where(Dataset.id == dataset.id).values(
            metadata_modified=item["modified"], metadata_created=day("2023-01-01") + dt.timedelta(days=number))
            .execution_options(synchronize_session=False))
    session.commit()
    return {"token": secret, "editor": editor_secret}


@pytest.fixture(scope="module")
def catalog(base_app):
    """The app with the corpus loaded in a module-wide transaction (rolled back after)."""
    database = get_db(base_app)
    with rolled_back(base_app):
        with base_app.app_context(), database.session() as session:
            tokens = load(session)
        yield {"client": base_app.test_client(), **tokens}


def call(catalog, params: dict[str, Any], *, as_admin: bool = False, token: str | None = None):
    query = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
    token = catalog["token"] if as_admin else token
    headers = {"Authorization": token} if token else {}
    return catalog["client"].get("/api/3/action/package_search", query_string=query, headers=headers)


def found(catalog, params: dict[str, Any], *, as_admin: bool = False, token: str | None = None) -> dict[str, Any]:
    response = call(catalog, {"rows": 100, **params}, as_admin=as_admin, token=token)
    body = response.get_json()
    assert response.status_code == 200, (params, body)
    return body["result"]


def refused(catalog, params: dict[str, Any]) -> dict[str, list[str]]:
    response = call(catalog, params)
    body = response.get_json()
    assert response.status_code == 409, (params, response.status_code, body)
    assert body["success"] is False
    return body["error"]


def test_there_are_enough_queries():
    assert len(QUERIES) + len(ADMIN_QUERIES) >= 60
    assert len({q[0] for q in QUERIES + ADMIN_QUERIES}) == len(QUERIES) + len(ADMIN_QUERIES)


@pytest.mark.parametrize("query_id, params, expected", QUERIES, ids=[q[0] for q in QUERIES])
def test_query(catalog, query_id, params, expected):
    result = found(catalog, params)
    names = sorted(d["name"] for d in result["results"])
    assert (names, result["count"]) == (sorted(expected), len(expected)), (query_id, params)


@pytest.mark.parametrize("query_id, params, expected", ADMIN_QUERIES, ids=[q[0] for q in ADMIN_QUERIES])
def test_admin_query(catalog, query_id, params, expected):
    result = found(catalog, params, as_admin=True)
    assert sorted(d["name"] for d in result["results"]) == sorted(expected), (query_id, params)


@pytest.mark.parametrize("who", ["anonymous", "other-department-editor"])
def test_private_and_draft_datasets_stay_hidden_from_field_queries(catalog, who):
    """The private register is 公安局's; the draft is 民政局's: neither may be probed by another reader."""
    token = catalog["editor"] if who == "other-department-editor" else None
    private = {"include_private": True, "include_drafts": True}
    for q in ("capacity:private", "name:neibu", "name:neibu*", "title:核查", '"内部名单"', "tags:户籍 -name:hj*",
              "metadata_modified:[2025-02-01T00:00:00Z TO 2025-02-01T00:00:00Z]", "num_tags:1 organization:ningshan-gaj",
              "res_format:* OR NOT res_format:*"):
        result = found(catalog, {"q": q, "fl": "name", **private}, token=token)
        assert "neibu" not in [d["name"] for d in result["results"]], (who, q)
        if who == "anonymous":
            assert "zoufang" not in [d["name"] for d in result["results"]], (who, q)
    facets = found(catalog, {"q": "*:*", "facet.field": "tags", **private}, token=token)["search_facets"]
    assert {i["name"]: i["count"] for i in facets["tags"]["items"]}["户籍"] == (3 if token else 2)


def test_the_editor_finds_the_draft_of_their_own_department(catalog):
    result = found(catalog, {"q": "state:draft", "include_drafts": True}, token=catalog["editor"])
    assert [d["name"] for d in result["results"]] == ["zoufang"]


def test_words_rank_title_matches_first_then_newest(catalog):
    names = [d["name"] for d in found(catalog, {"q": "户籍"})["results"]]
    assert names == ["hj-renkou", "hj-biandong", "dibao"]
    # words under OR still rank: both title matches (newest first) before the abstract-only one
    names = [d["name"] for d in found(catalog, {"q": "户籍 OR name:tudi"})["results"]]
    assert names == ["hj-renkou", "hj-biandong", "dibao", "tudi"]


def test_words_in_fq_filter_without_ranking(catalog):
    result = found(catalog, {"fq": "户籍"})
    assert [d["name"] for d in result["results"]] == ["hj-renkou", "dibao", "hj-biandong"]  # newest first
    assert result["sort"] == "metadata_modified desc"


def test_the_ckan_harvesters_query_pages_changes_by_id(catalog):
    """ckanext-harvest's CKAN harvester: changes since its last run, sorted by id so paging is stable."""
    params = {"fq": "metadata_modified:[2025-10-01T00:00:00.000000Z TO *] -organization:ningshan-zrzy",
              "sort": "id asc", "rows": 2}
    first, second = found(catalog, {**params, "start": 0}), found(catalog, {**params, "start": 2})
    ids = [d["id"] for d in first["results"] + second["results"]]
    assert ids == sorted(ids) and first["count"] == 4
    assert sorted(d["name"] for d in first["results"] + second["results"]) == [
        "dibao", "dibao-meizi", "hj-renkou", "jiuzhu"]
    words = found(catalog, {**params, "q": "低保", "rows": 10})
    assert [d["id"] for d in words["results"]] == sorted(d["id"] for d in words["results"])


def test_sort_on_resource_and_tag_counts(catalog):
    names = [d["name"] for d in found(catalog, {"q": "organization:ningshan-mzj",
                                                "sort": "num_resources desc, name asc"})["results"]]
    assert names == ["yanglao", "dibao", "jiuzhu", "dibao-meizi", "hunyin"]
    names = [d["name"] for d in found(catalog, {"q": "tags:低保 OR tags:养老", "sort": "num_tags asc, name desc"})["results"]]
    assert names == ["yanglao", "dibao-meizi", "dibao"]
    names = [d["name"] for d in found(catalog, {"q": "低保", "sort": "num_tags desc"})["results"]]
    assert names == ["dibao", "dibao-meizi"]


@pytest.mark.parametrize("params, field, words", [
    ({"q": "(户籍 OR 低保"}, "q", ["unbalanced '('", "position 0"]),
    ({"q": "户籍 OR 低保)"}, "q", ["unbalanced ')'", "position 8"]),
    ({"q": "户籍 AND"}, "q", ["dangling operator 'AND'", "position 3"]),
    ({"q": "OR 户籍"}, "q", ["operator 'OR'", "position 0"]),
    ({"q": "户籍 -"}, "q", ["lone '-'", "position 3"]),
    ({"q": "foo:bar"}, "q", ["unknown field 'foo'", "position 0"]),
    ({"q": "户籍 license_title:x"}, "q", ["unknown field 'license_title'", "position 3"]),
    ({"q": "title:[a TO b]"}, "q", ["ranges on 'title' are not supported"]),
    ({"q": "metadata_modified:[yesterday TO *]"}, "q", ["'yesterday' is not a date"]),
    ({"q": "metadata_modified:[NOW-1FORTNIGHT TO *]"}, "q", ["unknown date unit"]),
    ({"q": "num_resources:many"}, "q", ["whole number"]),
    ({"q": "户籍^2"}, "q", ["boosts (^) are not supported", "position 2"]),
    ({"q": '"户籍 人口"~3'}, "q", ["proximity", "position 7"]),
    ({"q": "hu*ji"}, "q", ["only supported at the end"]),
    ({"q": "capacity:secret"}, "q", ["capacity must be public or private"]),
    ({"q": "title:!!"}, "q", ["no word to search for"]),
    ({"fq": "tags:(a OR b"}, "fq", ["unbalanced '('", "position 5"]),
    ({"fq_list": ["tags:a", "bogus:b"]}, "fq", ["item 1", "unknown field 'bogus'"]),
    ({"sort": "num_followers desc"}, "sort", ["unknown field 'num_followers'"]),
    ({"fl": "id,bogus"}, "fl", ["unknown field 'bogus'"]),
    ({"facet.field": "bogus"}, "facet.field", ["cannot facet on bogus"]),
    ({"hl": "true"}, "hl", []),
    ({"include_deleted": "true"}, "include_deleted", []),
    ({"facet.sort": "count"}, "facet.sort", []),
    ({"q.op": "OR"}, "q.op", []),
    ({"sort": "views_recent desc"}, "sort", ["unknown field 'views_recent'"]),
])
def test_mistakes_are_refused_by_name(catalog, params, field, words):
    error = refused(catalog, params)
    assert field in error, error
    message = " ".join(error[field])
    for word in words:
        assert word in message, (word, message)


def test_rows_over_a_thousand_are_a_thousand(catalog):
    assert found(catalog, {"rows": 5000})["count"] == len(VISIBLE)
    assert len(found(catalog, {"rows": 5000})["results"]) == len(VISIBLE)


def test_fl_returns_only_the_asked_fields(catalog):
    results = found(catalog, {"q": "name:hj-renkou", "fl": "id,name"})["results"]
    assert len(results) == 1 and set(results[0]) == {"id", "name"}
    results = found(catalog, {"q": "name:hj-renkou", "fl": json.dumps(["name", "extras_source", "num_tags"])})["results"]
    assert results == [{"name": "hj-renkou", "extras_source": "公安内网", "num_tags": 2}]
    results = found(catalog, {"q": "name:hj-renkou", "fl": "*"})["results"]
    assert results[0]["title"] == "宁陕县户籍人口信息表" and len(results[0]["resources"]) == 2


def test_facet_field_may_be_a_bare_name(catalog):
    facets = found(catalog, {"q": "tags:GIS", "facet.field": "res_format"})["search_facets"]
    assert {i["name"]: i["count"] for i in facets["res_format"]["items"]} == {"SHP": 2, "CSV": 1, "WMS": 1, "API": 1}


def test_ckan_extension_parameters_are_accepted_and_ignored(catalog):
    result = found(catalog, {"q": "tags:GIS", "use_default_schema": "true", "ext_bbox": "108,33,109,34",
                             "ext_prev_extent": "x"})
    assert sorted(d["name"] for d in result["results"]) == sorted(GIS)


def test_groups_facet_counts_themes_with_their_names(catalog):
    facets = found(catalog, {"q": "*:*", "facet.field": "groups"})["search_facets"]["groups"]
    assert facets["title"] == "主题"
    assert [(i["name"], i["display_name"], i["count"]) for i in facets["items"]] == [
        ("218", "民政、社区", 4), ("203", "国土资源、能源", 2), ("211", "气象、水文、测绘、地震", 2),
        ("213", "政法、监察", 2)]


def test_long_queries_within_the_limit_are_answered(catalog):
    many = " OR ".join(["户籍"] * 150)  # 900 characters, 150 clauses
    assert found(catalog, {"q": many})["count"] == 3
    nested = "(" * 30 + "tags:GIS" + ")" * 30
    assert found(catalog, {"q": nested})["count"] == 3
    refused(catalog, {"q": "NOT " * 40 + "户籍"})
