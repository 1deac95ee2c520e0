"""Facet counts served from the search cache stay exact: every write (through the API, a rolled-back
one, concurrent ones on PostgreSQL) shows in the very next search, and each reader counts only what
they may see."""
from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.models import Dataset
from catalog.datasets.service import create_dataset, delete_dataset, metadata_of, update_dataset
from catalog.db import get_db
from catalog.departments.models import Department
from catalog.departments.service import create_department
from catalog.search.service import search_datasets
from tests.conftest import dataset_values, fresh_postgres_database

FACETS = ["organization", "share_type", "tags", "res_format"]


@pytest.fixture
def catalog(make, sysadmin):
    officer = make.user("officer")
    outsider = make.user("outsider")
    mzj = make.department("ningshan-mzj", title="宁陕县民政局", members={"editor": officer})
    make.department("ningshan-gaj", title="宁陕县公安局", members={"editor": outsider})
    gaj = {"id": "ningshan-gaj"}
    make.dataset(gaj["id"], name="household", title="宁陕县户籍人口信息表", tags=["户籍", "人口"])
    make.dataset(mzj["id"], name="allowance", title="城乡低保对象名单", tags=["低保"],
                 share_type="unconditional", share_condition=None)
    make.dataset(mzj["id"], name="private-list", title="户籍核查内部名单", private=True, tags=["户籍"])
    make.dataset(mzj["id"], name="draft-list", title="户籍走访草稿", state="draft", tags=["户籍"])
    return {"officer": officer, "outsider": outsider}


def facets(api, token=None, **params):
    reply = api.call("package_search", {"facet.field": json.dumps(FACETS), **params}, token=token, method="GET")
    assert reply.status == 200, reply.body
    result = reply.result
    return result["count"], {name: result["facets"][name] for name in FACETS}


def test_each_write_shows_in_the_next_search(api, catalog, sysadmin):
    before = facets(api)
    assert before == (2, {"organization": {"ningshan-gaj": 1, "ningshan-mzj": 1},
                          "share_type": {"conditional": 1, "unconditional": 1},
                          "tags": {"户籍": 1, "人口": 1, "低保": 1}, "res_format": {}})
    assert facets(api) == before  # asked again, unchanged

    api.call("package_patch", {"id": "household", "share_type": "unconditional", "share_condition": None},
             token=sysadmin.token)
    count, after = facets(api)
    assert after["share_type"] == {"unconditional": 2}

    api.call("resource_create", {"package_id": "allowance", "name": "名单", "url": "http://example.gov.cn/a.csv",
                                 "format": "CSV"}, token=sysadmin.token)
    assert facets(api)[1]["res_format"] == {"CSV": 1}

    api.call("package_patch", {"id": "household", "tags": [{"name": "人口"}]}, token=sysadmin.token)
    assert facets(api)[1]["tags"] == {"人口": 1, "低保": 1}

    api.call("package_delete", {"id": "allowance"}, token=sysadmin.token)
    count, after = facets(api)
    assert count == 1
    assert after["organization"] == {"ningshan-gaj": 1} and after["res_format"] == {}

    api.call("package_patch", {"id": "household", "private": True}, token=sysadmin.token)
    assert facets(api) == (0, {"organization": {}, "share_type": {}, "tags": {}, "res_format": {}})


def test_words_and_facets_follow_a_write(api, catalog, make):
    assert facets(api, q="户籍")[1]["organization"] == {"ningshan-gaj": 1, "ningshan-mzj": 1}
    make.dataset("ningshan-gaj", name="census", title="户籍人口抽样调查", tags=["人口"])
    count, after = facets(api, q="户籍")
    assert count == 3 and after["organization"] == {"ningshan-gaj": 2, "ningshan-mzj": 1}
    assert after["tags"]["人口"] == 2


def test_each_reader_counts_what_they_may_see(api, catalog, make):
    officer, outsider = catalog["officer"], catalog["outsider"]
    everything = {"include_private": True, "include_drafts": True}
    assert facets(api, **everything)[1]["organization"] == {"ningshan-gaj": 1, "ningshan-mzj": 1}
    # the officer of 民政局 also counts its private dataset and its draft, nobody else's
    count, mine = facets(api, token=officer.token, **everything)
    assert count == 4 and mine["organization"] == {"ningshan-gaj": 1, "ningshan-mzj": 3}
    assert mine["tags"] == {"户籍": 3, "人口": 1, "低保": 1}
    assert facets(api, token=officer.token)[1]["organization"] == {"ningshan-gaj": 1, "ningshan-mzj": 1}
    assert facets(api, token=outsider.token, **everything)[1]["organization"] == \
        {"ningshan-gaj": 1, "ningshan-mzj": 1}

    make.dataset("ningshan-mzj", name="private-two", title="内部名单二", private=True)
    assert facets(api, token=officer.token, **everything)[1]["organization"]["ningshan-mzj"] == 4
    assert facets(api, token=outsider.token, **everything)[1]["organization"]["ningshan-mzj"] == 1
    assert facets(api, **everything)[1]["organization"]["ningshan-mzj"] == 1


def test_joining_a_department_counts_its_private_datasets_at_once(api, catalog, sysadmin):
    outsider = catalog["outsider"]
    everything = {"include_private": True, "include_drafts": True}
    assert facets(api, token=outsider.token, **everything)[1]["organization"]["ningshan-mzj"] == 1
    reply = api.call("organization_member_create", {"id": "ningshan-mzj", "username": "outsider", "role": "member"},
                     token=sysadmin.token)
    assert reply.status == 200, reply.body
    assert facets(api, token=outsider.token, **everything)[1]["organization"]["ningshan-mzj"] == 3


def test_a_rolled_back_write_is_not_counted_and_a_later_one_is(db, catalog):
    def share_types():
        return dict((value, n) for value, _d, n in
                    search_datasets(db, None, facet_fields=["share_type"]).facets["share_type"])

    household = db.scalar(sa.select(Dataset).where(Dataset.name == "household"))
    household.share_type = "none"
    db.flush()
    assert share_types() == {"none": 1, "unconditional": 1}  # seen inside its own transaction
    db.rollback()
    assert share_types() == {"conditional": 1, "unconditional": 1}
    household = db.scalar(sa.select(Dataset).where(Dataset.name == "household"))
    household.share_type = "unconditional"  # another write where the rolled-back one was
    db.flush()
    assert share_types() == {"unconditional": 2}


@pytest.mark.slow
def test_counts_stay_exact_under_two_concurrent_writers_postgresql(tmp_path):
    """Two threads create, reshare, hide and delete datasets in their own transactions while a third
    searches; afterwards (and after each writer's own commit) the facets equal a plain SQL count."""
    with fresh_postgres_database("catalog_test_facets") as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path),
                          "SECRET_KEY": "test", "SITE_URL": "http://localhost", "CATALOG_REVIEW": False})
        run_migrations(app)
        database = get_db(app)
        with database.session() as session:
            admin = User(name="root", sysadmin=True)
            session.add(admin)
            session.flush()
            departments = [create_department(session, admin, name=f"dept-{i}", title=f"部门{i}").id
                           for i in range(2)]
            session.commit()
            admin_id = admin.id

        def check(label: str) -> None:
            """Search and count in one REPEATABLE READ snapshot: whatever the cache answers must be
            the plain SQL count of that same state."""
            with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                    Session(bind=conn) as session:
                found = search_datasets(session, None, facet_fields=["organization", "share_type"])
                visible = sa.and_(Dataset.state == "active", Dataset.private.is_(False))
                orgs = dict(session.execute(sa.select(Department.name, sa.func.count())
                                            .join(Dataset, Dataset.owner_org == Department.id)
                                            .where(visible).group_by(Department.name)).all())
                shares = dict(session.execute(sa.select(Dataset.share_type, sa.func.count()).where(visible)
                                              .group_by(Dataset.share_type)).all())
                got = ({v: n for v, _d, n in found.facets["organization"]},
                       {v: n for v, _d, n in found.facets["share_type"]})
                if got != (orgs, shares) or found.count != sum(orgs.values()):
                    errors.append(f"{label}: searched {found.count} {got}, counted {(orgs, shares)}")
                finals.append(found.count)

        errors: list[str] = []
        finals: list[int] = []
        done = threading.Event()

        def writer(number: int) -> None:
            department = departments[number]
            try:
                for step in range(12):
                    with database.session() as session:
                        actor = session.get(User, admin_id)
                        active = sa.select(Dataset).where(Dataset.owner_org == department,
                                                          Dataset.state == "active")
                        if step % 4 == 3:  # delete the oldest of its datasets
                            delete_dataset(session, actor, session.scalar(
                                active.order_by(Dataset.metadata_created).limit(1)))
                        elif step % 4 == 2:  # share the newest without condition (and hide it, once)
                            dataset = session.scalar(active.order_by(Dataset.metadata_created.desc()).limit(1))
                            values = {**metadata_of(dataset), "share_type": "unconditional",
                                      "share_condition": None, "private": step == 6}
                            tags = values.pop("tags")
                            update_dataset(session, actor, dataset, values=values, tags=tags)
                        else:
                            create_dataset(session, actor, values=dataset_values(department, 100 * number + step),
                                           tags=[f"标签{number}"])
                        session.commit()
                    check(f"writer {number} after step {step}")
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                errors.append(f"writer {number}: {error!r}")

        def reader() -> None:
            while not done.is_set():
                with database.session() as session:  # READ COMMITTED: fills the cache while writers commit
                    search_datasets(session, None, facet_fields=["organization", "share_type"])
                check("reader")

        threads = [threading.Thread(target=writer, args=(n,)) for n in range(2)]
        watcher = threading.Thread(target=reader)
        watcher.start()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        done.set()
        watcher.join()
        check("after both")
        database.engine.dispose()
        assert errors == []
        # each writer: 6 created, 3 deleted, 1 hidden -> 2 visible
        assert finals[-1] == 4
