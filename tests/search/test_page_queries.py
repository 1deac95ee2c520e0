"""A search page's JSON reads its datasets' DataStore state and themes once per page, not once per
resource or dataset: the number of SQL statements of a package_search does not grow with the page."""
from __future__ import annotations

import contextlib
import json

import pytest
import sqlalchemy as sa

from catalog.db import get_db


@contextlib.contextmanager
def counted(app):
    """Count the SQL statements the app's engine runs inside the block."""
    statements: list[str] = []
    engine = get_db(app).engine

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def shelf(api, make, sysadmin):
    """Twelve datasets of two departments, each with a link, a DataStore table and two themes."""
    mzj = make.department("ningshan-mzj", title="宁陕县民政局")
    gaj = make.department("ningshan-gaj", title="宁陕县公安局")
    stored = {}
    for n in range(12):
        made = make.dataset((mzj if n % 2 else gaj)["id"], name=f"roster-{n:02d}", title=f"低保名单 {n}",
                            tags=["低保", f"第{n}批"], share_type="unconditional", share_condition=None)
        link = api.call("resource_create", {"package_id": made["id"], "name": "名单", "format": "CSV",
                                            "url": f"http://example.gov.cn/{n}.csv"}, token=sysadmin.token)
        assert link.status == 200, link.body
        created = api.call("datastore_create", {"resource": {"package_id": made["id"], "name": "记录"},
                                                "fields": [{"id": "name", "type": "text"}]},
                           token=sysadmin.token)
        assert created.status == 200, created.body
        stored[made["name"]] = (link.result["id"], created.result["resource_id"])
        themed = api.call("package_patch", {"id": made["id"], "groups": [{"name": "218"}, {"name": "201"}]},
                          token=sysadmin.token)
        assert themed.status == 200, themed.body
    return stored


def search(api, rows: int, **params):
    reply = api.call("package_search", {"rows": rows, "facet.field": json.dumps(["organization", "tags"]),
                                        **params}, method="GET")
    assert reply.status == 200, reply.body
    return reply.result


@pytest.mark.parametrize("query", ["", "低保 名单"])
def test_a_page_of_ten_costs_the_statements_of_a_page_of_two(app, api, shelf, query):
    search(api, 10, q=query)  # the answer is cached: both pages below read the same way
    search(api, 2, q=query)
    with counted(app) as two:
        small = search(api, 2, q=query)
    with counted(app) as ten:
        large = search(api, 10, q=query)
    assert len(small["results"]) == 2 and len(large["results"]) == 10
    assert len(ten) == len(two), "\n".join(ten)
    # what the page shows is still right: each dataset's themes, and which resource has a DataStore
    for result in large["results"]:
        link, table = shelf[result["name"]]
        assert [g["name"] for g in result["groups"]] == ["201", "218"]
        active = {r["id"]: r["datastore_active"] for r in result["resources"]}
        assert active == {link: False, table: True}


def test_package_show_and_resource_show_keep_their_datastore_state(api, shelf):
    link, table = shelf["roster-03"]
    shown = api.call("package_show", {"id": "roster-03"}, method="GET").result
    assert {r["id"]: r["datastore_active"] for r in shown["resources"]} == {link: False, table: True}
    assert [g["name"] for g in shown["groups"]] == ["201", "218"]
    assert api.call("resource_show", {"id": table}, method="GET").result["datastore_active"] is True
    assert api.call("resource_show", {"id": link}, method="GET").result["datastore_active"] is False
