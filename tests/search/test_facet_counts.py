"""The facet counts kept per value and visibility class (migration 0023) equal a count of the catalogue
after every kind of write — through the API, in bulk SQL, a rename, a rollback — and after two transactions
write the same datasets at once (PostgreSQL); a search without words answers from them."""
from __future__ import annotations

import json
import threading
import time

import pytest
import sqlalchemy as sa

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.models import Dataset, Resource, Tag, dataset_tag
from catalog.datasets.service import create_dataset
from catalog.db import get_db
from catalog.departments.service import create_department
from catalog.groups.models import DatasetGroup
from catalog.search.models import facet_count
from catalog.search.service import search_datasets
from tests.conftest import dataset_values, fresh_postgres_database

COLUMNS = ("share_type", "update_cycle", "open_type", "category", "license_id")


def counted_from_the_catalogue(session) -> dict[tuple, int]:
    """(facet, value, department, state, private) -> datasets, counted straight from the catalogue's tables."""
    live = Dataset.state != "deleted"
    cls = (Dataset.owner_org, Dataset.state, Dataset.private)
    found: dict[tuple, int] = {}

    def add(facet, rows):
        for value, *key, n in rows:
            found[(facet, value, *key)] = found.get((facet, value, *key), 0) + n

    add("", session.execute(sa.select(sa.literal(""), *cls, sa.func.count()).where(live).group_by(*cls)))
    add("organization", session.execute(sa.select(Dataset.owner_org, *cls, sa.func.count()).where(live)
                                        .group_by(*cls)))
    for name in COLUMNS:
        column = getattr(Dataset, name)
        add(name, session.execute(sa.select(column, *cls, sa.func.count()).where(live, column.is_not(None))
                                  .group_by(column, *cls)))
    add("tags", session.execute(sa.select(Tag.name, *cls, sa.func.count())
                                .join(dataset_tag, dataset_tag.c.dataset_id == Dataset.id)
                                .join(Tag, Tag.id == dataset_tag.c.tag_id).where(live).group_by(Tag.name, *cls)))
    formats = (sa.select(Resource.package_id, sa.func.upper(Resource.format).label("fmt")).distinct()
               .where(Resource.format.is_not(None), Resource.format != "").subquery())
    add("res_format", session.execute(sa.select(formats.c.fmt, *cls, sa.func.count())
                                      .join(formats, formats.c.package_id == Dataset.id).where(live)
                                      .group_by(formats.c.fmt, *cls)))
    add("groups", session.execute(sa.select(DatasetGroup.group_name, *cls, sa.func.count())
                                  .join(DatasetGroup, DatasetGroup.dataset_id == Dataset.id).where(live)
                                  .group_by(DatasetGroup.group_name, *cls)))
    return found


def kept(session) -> dict[tuple, int]:
    """The same, summed from the kept counts (rows that sum to 0 left out)."""
    c = facet_count.c
    rows = session.execute(sa.select(c.facet, c.value, c.owner_org, c.state, c.private, sa.func.sum(c.n))
                           .group_by(c.facet, c.value, c.owner_org, c.state, c.private))
    return {tuple(key): int(n) for *key, n in rows if n != 0}


@pytest.fixture
def catalog(make, sysadmin):
    make.department("ningshan-mzj", title="宁陕县民政局")
    make.department("ningshan-gaj", title="宁陕县公安局")
    make.dataset("ningshan-gaj", name="household", title="宁陕县户籍人口信息表", tags=["户籍", "人口"])
    make.dataset("ningshan-mzj", name="allowance", title="城乡低保对象名单", tags=["低保"],
                 share_type="unconditional", share_condition=None)
    make.dataset("ningshan-mzj", name="private-list", title="户籍核查内部名单", private=True, tags=["户籍"])
    make.dataset("ningshan-mzj", name="draft-list", title="户籍走访草稿", state="draft", tags=["户籍"])


def test_every_kind_of_write_keeps_the_counts_exact(api, db, catalog, sysadmin):
    assert kept(db) == counted_from_the_catalogue(db) != {}
    token = sysadmin.token
    for format_ in ("CSV", "csv", "XLSX"):  # CSV twice in one dataset counts once
        reply = api.call("resource_create", {"package_id": "allowance", "name": format_, "format": format_,
                                             "url": f"http://example.gov.cn/a.{format_}"}, token=token)
        assert reply.status == 200, reply.body
    xlsx = reply.result["id"]
    assert kept(db)[("res_format", "CSV", *_class(db, "allowance"))] == 1
    steps = [
        ("resource_patch", {"id": xlsx, "format": "PDF"}),
        ("package_patch", {"id": "household", "tags": [{"name": "人口"}, {"name": "普查"}],
                           "groups": [{"name": "218"}]}),
        ("package_patch", {"id": "household", "private": True}),
        ("package_patch", {"id": "allowance", "owner_org": "ningshan-gaj"}),
        ("resource_delete", {"id": xlsx}),
        ("package_patch", {"id": "household", "groups": []}),
        ("package_delete", {"id": "draft-list"}),
    ]
    for action, data in steps:
        reply = api.call(action, data, token=token)
        assert reply.status == 200, (action, reply.body)
        assert kept(db) == counted_from_the_catalogue(db), action
    # bulk SQL and a tag renamed in place are counted too
    db.execute(sa.update(Dataset).where(Dataset.name != "household").values(update_cycle="yearly"))
    db.execute(sa.update(Tag).where(Tag.name == "户籍").values(name="户籍管理"))
    assert kept(db) == counted_from_the_catalogue(db)
    db.rollback()
    assert kept(db) == counted_from_the_catalogue(db)


def _class(db, name: str) -> tuple:
    dataset = db.scalar(sa.select(Dataset).where(Dataset.name == name))
    return dataset.owner_org, dataset.state, dataset.private


def test_a_search_without_words_counts_what_its_reader_may_see(api, catalog, make):
    officer = make.user("officer")
    api_facets = json.dumps(["organization", "tags"])
    anonymous = api.call("package_search", {"facet.field": api_facets}, method="GET").result
    assert anonymous["count"] == 2
    assert anonymous["facets"]["tags"] == {"户籍": 1, "人口": 1, "低保": 1}
    assert [r["name"] for r in anonymous["results"]] == ["allowance", "household"]  # newest first
    everything = {"facet.field": api_facets, "include_private": True, "include_drafts": True}
    assert api.call("package_search", everything, token=officer.token).result["count"] == 2
    make.department("ningshan-cgz", title="城关镇", members={"member": officer})
    make.dataset("ningshan-cgz", name="town-list", title="城关镇内部名单", private=True, tags=["户籍"])
    mine = api.call("package_search", everything, token=officer.token).result
    assert mine["count"] == 3 and mine["facets"]["tags"]["户籍"] == 2
    assert api.call("package_search", {"facet.field": api_facets}, method="GET").result["count"] == 2


def test_a_page_past_the_last_dataset_still_has_the_count_and_facets(api, catalog):
    """A page past the last dataset (or of no rows) shows no dataset but the same count and facets."""
    api_facets = json.dumps(["organization", "tags"])
    beyond = api.call("package_search", {"facet.field": api_facets, "start": 5}, method="GET").result
    assert beyond["results"] == [] and beyond["count"] == 2
    assert beyond["facets"]["tags"] == {"户籍": 1, "人口": 1, "低保": 1}
    assert beyond["facets"]["organization"] == {"ningshan-gaj": 1, "ningshan-mzj": 1}
    none = api.call("package_search", {"facet.field": api_facets, "rows": 0}, method="GET").result
    assert none["results"] == [] and none["count"] == 2 and none["facets"] == beyond["facets"]


@pytest.mark.slow
def test_two_transactions_writing_the_same_dataset_at_once_keep_the_counts_exact_postgresql(tmp_path):
    """In each round one transaction adds a CSV resource to a dataset and hides (or shows) it, and while it is
    still open a second one adds another CSV resource and a tag to the same dataset. The dataset counts once
    under CSV, and the tag under its new visibility; afterwards the kept counts equal a count of the
    catalogue, and so do a search's facets."""
    with fresh_postgres_database("catalog_test_counts") as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path),
                          "SECRET_KEY": "test", "SITE_URL": "http://localhost", "CATALOG_REVIEW": False})
        run_migrations(app)
        database = get_db(app)
        with database.session() as session:
            admin = User(name="root", sysadmin=True)
            session.add(admin)
            session.flush()
            department = create_department(session, admin, name="dept", title="部门").id
            shared = [create_dataset(session, admin, values=dataset_values(department, n), tags=["共享"]).id
                      for n in range(3)]
            session.commit()

        rounds = 6
        written = [threading.Event() for _ in range(rounds)]
        errors: list[str] = []

        def add_csv(session, target: str, name: str) -> None:
            session.execute(sa.insert(Resource.__table__).values(
                id=name, package_id=target, url="http://example.gov.cn/x.csv", format="CSV", position=1,
                extras={}))

        def first(step: int) -> None:
            with database.session() as session:
                target = shared[step % len(shared)]
                add_csv(session, target, f"first-{step}")
                session.execute(sa.update(Dataset).where(Dataset.id == target).values(private=step % 2 == 0))
                written[step].set()
                time.sleep(0.3)  # still open while the second transaction writes the same dataset
                session.commit()

        def second(step: int) -> None:
            written[step].wait(10)
            with database.session() as session:
                target = shared[step % len(shared)]
                add_csv(session, target, f"second-{step}")
                tag = Tag(name=f"标签{step}")
                session.add(tag)
                session.flush()
                session.execute(sa.insert(dataset_tag).values(dataset_id=target, tag_id=tag.id))
                session.commit()

        def run(role) -> None:
            try:
                for step in range(rounds):
                    role(step)
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(f"{role.__name__}: {error!r}")
                for event in written:
                    event.set()

        threads = [threading.Thread(target=run, args=(role,)) for role in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        with database.session() as session:
            expected = counted_from_the_catalogue(session)
            assert kept(session) == expected
            # rounds 3-5 left dataset 1 hidden, datasets 0 and 2 shown; each has CSV once (two resources)
            assert expected[("res_format", "CSV", department, "active", True)] == 1
            assert expected[("res_format", "CSV", department, "active", False)] == 2
            assert expected[("tags", "标签4", department, "active", True)] == 1
            found = search_datasets(session, None, facet_fields=["tags", "res_format"])
            assert found.count == 2 and {v: n for v, _d, n in found.facets["res_format"]} == {"CSV": 2}
        database.engine.dispose()
