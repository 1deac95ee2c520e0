"""Relevance: the queries of ``relevance_queries`` against 200 generated datasets plus a few
hand-written ones, on SQLite and PostgreSQL.

The catalog is loaded once per database through the service layer (departments, datasets with
their tags, resources with formats) inside one module-wide transaction that is rolled back at the
end, so the other search tests never see it. Each query is its own test item, so a failure names
the query and shows the expected against the actual result list.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import sqlalchemy as sa

from catalog.db import get_db
from tests.conftest import rolled_back

from . import corpus
from .relevance_queries import CORPUS_SIZE, EXTRA_DATASETS, QUERIES

#: Where the loaded catalog's clock starts; each dataset is modified one minute after the previous.
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def _values(item: dict[str, Any], owner_id: str) -> dict[str, Any]:
    values = {key: item[key] for key in (
        "name", "title", "notes", "resource_code", "category", "share_type", "open_type",
        "update_cycle", "items")}
    values.update(owner_org=owner_id, share_condition=item.get("share_condition") or None,
                  open_condition=item.get("open_condition") or None,
                  share_method={"channel": "platform", "type": "api"}, publish_date="2025-01-01",
                  private=item.get("private", False), state=item.get("state", "active"))
    return values


def load_catalog(session) -> dict[str, Any]:
    """Create the sysadmin, the departments and every dataset; return the admin's token."""
    from catalog.auth.service import create_token, create_user
    from catalog.datasets.models import Dataset
    from catalog.datasets.resources import create_resource
    from catalog.datasets.service import create_dataset, delete_dataset
    from catalog.departments.service import create_department

    admin = create_user(session, None, name="relevance-admin", password="correct-horse-battery",
                        sysadmin=True, check_auth=False)
    _token, secret = create_token(session, None, user=admin, name="relevance", check_auth=False)
    departments = {slug: create_department(session, admin, name=slug, title=title)
                   for slug, title in corpus.ORGS.items()}
    items = corpus.generate(CORPUS_SIZE) + [dict(e) for e in EXTRA_DATASETS]
    created = {}
    for number, item in enumerate(items):
        dataset = create_dataset(session, admin, values=_values(item, departments[item["org"]].id),
                                 tags=item["tags"])
        for fmt in item["formats"]:
            create_resource(session, admin, dataset, record=False, values={
                "url": f"http://example.gov.cn/{item['name']}.{fmt.lower()}", "format": fmt})
        created[item["name"]] = (dataset, number)
    # A fixed clock: load order is modification order, unless a dataset says otherwise.
    session.flush()
    for item in items:
        dataset, number = created[item["name"]]
        minutes = item.get("modified_at", number)
        session.execute(sa.update(Dataset).where(Dataset.id == dataset.id).values(
            metadata_modified=EPOCH + dt.timedelta(minutes=minutes),
            metadata_created=EPOCH + dt.timedelta(minutes=number)).execution_options(
            synchronize_session=False))
    for item in items:
        if item.get("delete"):
            delete_dataset(session, admin, created[item["name"]][0])
    session.commit()
    return {"token": secret, "count": len(items)}


@pytest.fixture(scope="module")
def relevance(base_app):
    """The app with the relevance catalog loaded in a module-wide transaction (rolled back after)."""
    database = get_db(base_app)
    with rolled_back(base_app):
        with base_app.app_context(), database.session() as session:
            loaded = load_catalog(session)
        yield {"client": base_app.test_client(), **loaded}


def search(relevance, params: dict[str, Any], *, as_admin: bool = False) -> dict[str, Any]:
    """Call package_search with GET as a browser would; facet.field is sent as JSON."""
    query = {k: json.dumps(v) if isinstance(v, list) else v for k, v in params.items()}
    headers = {"Authorization": relevance["token"]} if as_admin else {}
    response = relevance["client"].get("/api/3/action/package_search", query_string=query,
                                       headers=headers)
    body = response.get_json(silent=True) or {}
    assert response.status_code == 200 and body.get("success"), (params, response.status_code, body)
    return body["result"]


def check(expect: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """Compare one answer with the query's expectations; return the problems found."""
    names = [d["name"] for d in result["results"]]
    problems = []
    if "count" in expect and result["count"] != expect["count"]:
        problems.append(f"count {result['count']}, expected {expect['count']}")
    if "top" in expect:  # exact order of the first results
        top = list(expect["top"])
        if names[:len(top)] != top:
            problems.append(f"top {len(top)} in order:\n  expected {top}\n  actual   {names[:len(top)]}")
    if "then" in expect:  # the results right after ``top``, any order
        start, then = len(expect.get("top", [])), list(expect["then"])
        got = names[start:start + len(then)]
        if sorted(got) != sorted(then):
            problems.append(f"results {start + 1}-{start + len(then)} after the top ones:\n"
                            f"  missing    {sorted(set(then) - set(got))}\n"
                            f"  unexpected {sorted(set(got) - set(then))}")
    if "tiers" in expect:  # consecutive groups; order inside a group is free
        position = 0
        for number, tier in enumerate(expect["tiers"]):
            got = names[position:position + len(tier)]
            if sorted(got) != sorted(tier):
                problems.append(f"tier {number} (results {position + 1}-{position + len(tier)}):\n"
                                f"  missing    {sorted(set(tier) - set(got))}\n"
                                f"  unexpected {sorted(set(got) - set(tier))}")
            position += len(tier)
    if "all" in expect:  # the complete result set, any order
        if sorted(names) != sorted(expect["all"]) or result["count"] != len(expect["all"]):
            problems.append(f"result set (count {result['count']}):\n"
                            f"  missing    {sorted(set(expect['all']) - set(names))}\n"
                            f"  unexpected {sorted(set(names) - set(expect['all']))}")
    for name in expect.get("includes", []):
        if name not in names:
            problems.append(f"{name} not among the {len(names)} results returned")
    for name in expect.get("excludes", []):
        if name in names:
            problems.append(f"{name} found at position {names.index(name) + 1}, expected absent")
    for field, counts in expect.get("facets", {}).items():
        got = result["facets"].get(field)
        if got != counts:
            problems.append(f"facet {field}: {got}, expected {counts}")
    return problems


def _rows(expect: dict[str, Any]) -> int:
    wanted = [len(expect.get("top", [])) + len(expect.get("then", [])), sum(len(t) for t in expect.get("tiers", [])),
              len(expect.get("all", [])), 50 if ("includes" in expect or "excludes" in expect) else 0]
    return max(wanted + [10])


def test_the_catalog_is_loaded(relevance):
    result = search(relevance, {"rows": 0})
    hidden = sum(1 for e in EXTRA_DATASETS if e.get("private") or e.get("delete") or e.get("state"))
    assert result["count"] == relevance["count"] - hidden


def test_there_are_enough_queries_of_every_kind():
    kinds = {kind for query in QUERIES for kind in query["kinds"]}
    assert len(QUERIES) >= 40
    assert {"chinese", "traditional", "pinyin", "english", "code", "filter", "negation", "sort",
            "tag"} <= kinds
    assert sum(1 for q in QUERIES if q["params"].get("fq")) >= 10
    assert len({json.dumps(q["params"], sort_keys=True, ensure_ascii=False) for q in QUERIES}) == len(QUERIES)


@pytest.mark.parametrize("query", QUERIES, ids=[q["id"] for q in QUERIES])
def test_query(relevance, query):
    params = {"rows": _rows(query["expect"]), **query["params"]}
    result = search(relevance, params, as_admin=query.get("as_admin", False))
    problems = check(query["expect"], result)
    assert not problems, (f"{query['id']}: {query['why']}\nparams {params}\n"
                          + "\n".join(problems)
                          + f"\nall results: {[d['name'] for d in result['results']]}")
