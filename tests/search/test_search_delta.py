"""A word search kept up to date from the catalogue's change log (catalog.search.delta) answers what a fresh
computation answers: after each kind of write an officer makes (title, tags, share type, hiding, deleting,
creating, a resource, a theme, a membership), for every kind of reader, for the count, the facets and each
page; under two concurrent writers on PostgreSQL; and after the log was pruned past the kept answer.

Each test uses a database of its own where every write commits (the shared fixtures roll back, and a reader's
own uncommitted writes are never kept for others)."""
from __future__ import annotations

import contextlib
import threading
from unittest import mock

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import run_migrations
from catalog.datasets.models import Dataset, Resource
from catalog.datasets.service import create_dataset, delete_dataset, metadata_of, update_dataset
from catalog.db import get_db
from catalog.departments.models import Department
from catalog.departments.service import create_department, remove_member, set_member
from catalog.groups.models import DatasetGroup
from catalog.search import cache, delta, memory
from catalog.search.models import change_horizon, change_log
from catalog.search.service import search_datasets
from tests.conftest import dataset_values, fresh_postgres_database

FACETS = ["organization", "tags", "res_format", "groups", "share_type"]
QUERY = "户籍 人口"


@contextlib.contextmanager
def committed_app(kind: str, tmp_path, *, replica: bool = False):
    """An app on a database of its own (SQLite file or PostgreSQL), migrated, every write committed.

    Plain-word searches are answered by the database (catalog.search.delta) unless ``replica``: then by the
    process's replica where it can (catalog.search.memory, PostgreSQL)."""
    if kind == "sqlite":
        urls = contextlib.nullcontext(f"sqlite:///{tmp_path / 'delta.db'}")
    else:
        urls = fresh_postgres_database("catalog_test_delta")
    with urls as url:
        app = create_app({"TESTING": True, "DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path),
                          "SECRET_KEY": "test", "SITE_URL": "http://localhost", "CATALOG_REVIEW": False,
                          "SEARCH_MEMORY_INDEX": replica})
        run_migrations(app)
        cache.clear()
        try:
            yield get_db(app)
        finally:
            cache.clear()
            get_db(app).engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    with committed_app(request.param, tmp_path) as db:
        yield db


def seed(database) -> dict[str, str]:
    """Two departments, an officer of one, an outsider, a sysadmin; six datasets, five matching the words."""
    with database.session() as session:
        admin = User(name="root", sysadmin=True)
        officer, outsider = User(name="officer"), User(name="outsider")
        session.add_all([admin, officer, outsider])
        session.flush()
        mzj = create_department(session, admin, name="ningshan-mzj", title="宁陕县民政局")
        gaj = create_department(session, admin, name="ningshan-gaj", title="宁陕县公安局")
        set_member(session, admin, mzj, officer, "editor")
        for n in range(6):
            values = dataset_values(mzj.id if n % 2 else gaj.id, n)
            if n == 5:
                values["title"] = "城乡低保对象名单"  # neither word in the title (the notes have them)
                values["notes"] = "低保对象"
            if n == 4:
                values["private"] = True
            create_dataset(session, admin, values=values, tags=["户籍"] if n % 3 else ["人口", "户籍"])
        session.commit()
        return {"admin": admin.id, "officer": officer.id, "outsider": outsider.id, "mzj": mzj.id, "gaj": gaj.id}


def answer(session: Session, actor: User | None, **params) -> tuple:
    found = search_datasets(session, actor, **{"q": QUERY, "facet_fields": FACETS, **params})
    return found.count, found.facets, [d.name for d in found.datasets]


@contextlib.contextmanager
def recounted():
    """A fresh computation by the database alone: no cached answer, no kept hits, and nothing followed
    (every search counted, faceted and ordered by its SQL statement, as before the change log; no replica)."""
    with cache.set_aside(), mock.patch.object(delta, "eligible", return_value=False), \
            mock.patch.object(memory, "eligible", return_value=False):
        yield


READERS = [("anonymous", None, {}), ("officer", "officer", {"include_private": True, "include_drafts": True}),
           ("outsider", "outsider", {"include_private": True}), ("sysadmin", "admin", {"include_private": True}),
           ("second page", None, {"rows": 2, "start": 2}), ("newest first", None, {"sort": "metadata_modified desc"}),
           # words sorted on text (code-point order in both databases' collations here)
           ("title order", None, {"sort": "title asc"}),
           ("name descending", "officer", {"sort": "name desc, num_tags asc", "include_private": True}),
           # no words: fq, field conditions, text sorts
           ("fq department", None, {"q": "", "fq": ["organization:ningshan-mzj"], "facet_fields": ["tags"]}),
           ("fq share type, officer", "officer", {"q": "", "fq": ["share_type:conditional"], "include_private": True,
                                                  "include_drafts": True}),
           ("field query, second page", None, {"q": "tags:户籍 OR res_format:CSV", "rows": 2, "start": 1,
                                               "facet_fields": ["res_format", "share_type"]}),
           ("fq by title descending", "admin", {"q": "", "fq": ["-organization:nowhere"], "include_private": True,
                                                "sort": "title desc, metadata_created asc"}),
           ("fq by name", None, {"q": "", "fq": ["share_type:conditional OR share_type:unconditional"],
                                 "sort": "name asc", "facet_fields": ["tags", "share_type"]})]


def compare(database, ids: dict[str, str], step: str, readers=None, ask=None) -> list[str]:
    """Every reader's answer (``readers``, default READERS; ``ask``, default :func:`answer`) next to a fresh
    computation of the same snapshot by the database."""
    ask = ask or answer
    problems = []
    with database.session() as session:
        for label, who, params in readers or READERS:
            actor = session.get(User, ids[who]) if who else None
            followed = ask(session, actor, **params)
            with recounted():
                fresh = ask(session, actor, **params)
            if followed != fresh:
                problems.append(f"{step}, {label}: followed {followed}, fresh {fresh}")
        session.rollback()
    return problems


def edit(database, ids, name: str, **changes) -> None:
    with database.session() as session:
        admin = session.get(User, ids["admin"])
        dataset = session.scalar(sa.select(Dataset).where(Dataset.name == name))
        tags = changes.pop("tag_names", None)
        values = {**metadata_of(dataset), **changes}
        tags = values.pop("tags") if tags is None else tags
        update_dataset(session, admin, dataset, values=values, tags=tags)
        session.commit()


def test_followed_answers_equal_fresh_ones_after_each_kind_of_write(database):
    ids = seed(database)
    assert compare(database, ids, "start") == []  # computes and keeps every reader's hits
    before = delta.stats["followed"]
    problems = []

    edit(database, ids, "household-register-5", title="城乡低保户籍人口名单")  # a title gains the words
    problems += compare(database, ids, "title gains the words")
    edit(database, ids, "household-register-0", title="宁陕县人口信息")  # loses one of them
    problems += compare(database, ids, "title loses a word")
    edit(database, ids, "household-register-1", tag_names=["户籍", "低保"])  # a tag added
    problems += compare(database, ids, "tag added")
    edit(database, ids, "household-register-3", tag_names=[])  # tags removed (one held a word)
    problems += compare(database, ids, "tags removed")
    edit(database, ids, "household-register-2", share_type="unconditional", share_condition=None)
    problems += compare(database, ids, "share type")
    edit(database, ids, "household-register-1", private=True)
    problems += compare(database, ids, "made private")
    with database.session() as session:
        dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "household-register-2"))
        session.add(Resource(package_id=dataset.id, name="名单", url="http://example.gov.cn/a.csv", format="csv"))
        session.add(DatasetGroup(dataset_id=dataset.id, group_name="shehui"))
        session.commit()
    problems += compare(database, ids, "resource and theme")
    with database.session() as session:
        delete_dataset(session, session.get(User, ids["admin"]),
                       session.scalar(sa.select(Dataset).where(Dataset.name == "household-register-3")))
        session.commit()
    problems += compare(database, ids, "deleted")
    with database.session() as session:
        create_dataset(session, session.get(User, ids["admin"]), values=dataset_values(ids["mzj"], 7),
                       tags=["人口"])
        create_dataset(session, session.get(User, ids["admin"]), values={**dataset_values(ids["gaj"], 8),
                                                                          "state": "draft"})
        session.commit()
    problems += compare(database, ids, "created")
    with database.session() as session:  # titles of several scripts and cases, two alike, one NULL
        for name, title in [("household-register-0", "Zeta 户籍人口"), ("household-register-2", "alpha 户籍人口"),
                            ("household-register-5", "Ärger 户籍人口"), ("household-register-7", "户籍人口 B"),
                            ("household-register-1", "alpha 户籍人口"), ("household-register-4", None)]:
            session.execute(sa.text("UPDATE dataset SET title = :title WHERE name = :name"),
                            {"title": title, "name": name})
        session.commit()
    problems += compare(database, ids, "titles")
    with database.session() as session:  # a tag renamed in SQL: every dataset that has it is logged
        session.execute(sa.text("UPDATE tag SET name = '户口' WHERE name = '户籍'"))
        session.commit()
    problems += compare(database, ids, "tag renamed")
    assert problems == []
    # every reader's answer after each write came from its kept hits, not a recount
    # (the first and second page share one kept state: each page follows it, so none is recomputed; a
    # statement key that changed between two requests, as num_tags' did on its first compilation, fails here)
    assert delta.stats["followed"] - before >= 11 * len(READERS)

    with database.session() as session:  # the outsider joins 民政局: its private datasets become theirs to see
        set_member(session, session.get(User, ids["admin"]), session.get(Department, ids["mzj"]),
                   session.get(User, ids["outsider"]), "member")
        session.commit()
    full = delta.stats["full"]
    assert compare(database, ids, "joined") == []
    # a membership recomputes every kept answer (the first and second page share one)
    assert delta.stats["full"] - full == len(READERS) - 1
    with database.session() as session:
        outsider = session.get(User, ids["outsider"])
        # the public 0, 2, 5, 7 and 民政局's private 1 (4 is 公安局's)
        assert answer(session, outsider, include_private=True)[0] == 5
        remove_member(session, session.get(User, ids["admin"]), session.get(Department, ids["mzj"]), outsider)
        session.commit()
    assert compare(database, ids, "left") == []


def test_a_write_inside_the_readers_transaction_is_not_kept_for_others(database):
    ids = seed(database)
    with database.session() as session:
        assert answer(session, None)[0] == 4
    with database.session() as session:  # an edit and a search in one transaction, rolled back
        dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "household-register-5"))
        values = {**metadata_of(dataset), "title": "城乡户籍人口低保名单"}
        tags = values.pop("tags")
        update_dataset(session, session.get(User, ids["admin"]), dataset, values=values, tags=tags)
        session.flush()
        assert answer(session, None)[0] == 5  # its own edit, seen inside
        session.rollback()
    # committed writes after it (SQLite numbers their entries where the rolled-back ones were)
    edit(database, ids, "household-register-1", title="城乡低保对象名单")
    edit(database, ids, "household-register-3", title="城乡低保对象名单")
    assert compare(database, ids, "after the rollback and later writes") == []
    with database.session() as session:
        assert answer(session, None)[0] == 4


def test_a_kept_answer_older_than_the_pruned_log_is_recomputed(database):
    ids = seed(database)
    with database.session() as session:
        session.execute(sa.update(change_horizon).values(keep=2))
        session.commit()
    assert compare(database, ids, "start") == []
    with database.session() as session:
        kept_at = session.scalar(sa.select(sa.func.max(change_log.c.seq)))
    full = delta.stats["full"]
    for n, title in enumerate(["户籍人口 一", "户籍人口 二", "户籍 三", "人口 四", "户籍人口 五"]):
        edit(database, ids, f"household-register-{n}", title=title)
    with database.session() as session:  # the log was pruned past the kept answers' position
        assert session.scalar(sa.select(change_horizon.c.seq)) > kept_at
    assert compare(database, ids, "after pruning") == []
    # each kept answer was recomputed (one state serves two readers: the first and second page)
    assert delta.stats["full"] - full == len(READERS) - 1


def test_more_changed_datasets_than_the_bound_recompute(database, monkeypatch):
    ids = seed(database)
    assert compare(database, ids, "start") == []
    monkeypatch.setattr(delta, "BOUND", 1)
    with database.session() as session:  # one statement changing two datasets
        session.execute(sa.text("UPDATE dataset SET private = true WHERE name IN "
                                "('household-register-0', 'household-register-2')"))
        session.commit()
    full = delta.stats["full"]
    assert compare(database, ids, "two changed") == []
    # each kept answer was recomputed (one state serves the first and second page)
    assert delta.stats["full"] - full == len(READERS) - 1
    with database.session() as session:
        assert answer(session, None)[0] == 2


def checked_in_snapshot(database, searches: list[dict], ask, errors: list[str], label: str) -> None:
    """Each search's answer (``ask``) next to a fresh computation by the database, in one REPEATABLE READ
    snapshot; differences go to ``errors``."""
    with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
            Session(bind=conn) as session:
        for params in searches:
            kept = ask(session, None, **params)
            with recounted():
                fresh = ask(session, None, **params)
            if kept != fresh:
                errors.append(f"{label} {params}: kept {kept}, fresh {fresh}")


def write_concurrently(database, ids: dict[str, str], number: int, errors: list[str]) -> None:
    """One of two writers: ten committed writes to its department's datasets (create, edit the share type and
    title, hide, delete); errors go to ``errors``."""
    department = ids["mzj" if number else "gaj"]
    try:
        for step in range(10):
            with database.session() as session:
                admin = session.get(User, ids["admin"])
                mine = sa.select(Dataset).where(Dataset.owner_org == department, Dataset.state == "active")
                if step % 5 == 4:
                    delete_dataset(session, admin, session.scalar(mine.order_by(Dataset.metadata_created).limit(1)))
                elif step % 5 in (1, 3):
                    dataset = session.scalar(mine.order_by(Dataset.metadata_created.desc()).limit(1))
                    values = {**metadata_of(dataset), "share_type": "unconditional", "share_condition": None,
                              "title": "户籍人口" if step == 1 else "人口名单", "private": step == 3}
                    tags = values.pop("tags")
                    update_dataset(session, admin, dataset, values=values, tags=tags)
                else:
                    create_dataset(session, admin, values=dataset_values(department, 100 * (number + 1) + step),
                                   tags=[f"标签{number}", "户籍"])
                session.commit()
    except Exception as error:  # noqa: BLE001 - reported by the caller's assertion
        errors.append(f"writer {number}: {error!r}")


def race(database, ids: dict[str, str], searches: list[dict], ask, errors: list[str]) -> None:
    """Two writers (:func:`write_concurrently`) while a reader asks ``searches`` in READ COMMITTED sessions (so
    that it keeps and follows answers as the writers commit) and checks them in a snapshot after each round;
    checked once more after both committed."""
    done = threading.Event()

    def reader() -> None:
        while not done.is_set():
            with database.session() as session:
                for params in searches:
                    ask(session, None, **params)
            checked_in_snapshot(database, searches, ask, errors, "reader")

    threads = [threading.Thread(target=write_concurrently, args=(database, ids, n, errors)) for n in range(2)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    watcher.join()
    checked_in_snapshot(database, searches, ask, errors, "after both")


@pytest.mark.slow
def test_two_concurrent_writers_never_give_a_stale_answer_postgresql(tmp_path):
    """Two writers edit, hide, create and delete datasets in their own transactions while a reader searches
    (keeping and following the answers); each search equals a fresh computation of its own snapshot, and the
    last one, after both committed, equals a fresh computation."""
    with committed_app("postgresql", tmp_path) as database:
        ids = seed(database)
        errors: list[str] = []

        # the words, a filter with facets (the writers change its share type), both sorted on title too
        searches = [{}, {"sort": "title desc"}, {"q": "", "fq": ["share_type:conditional"]},
                    {"q": "", "fq": ["share_type:conditional"], "sort": "title asc"}]

        followed = delta.stats["followed"]
        race(database, ids, searches, answer, errors)
        assert errors == []
        assert delta.stats["followed"] > followed  # the reader did follow the writes


def test_a_write_that_commits_after_a_later_one_is_not_missed_postgresql(tmp_path):
    """PostgreSQL numbers log entries before commit: a reader that saw a later write's entry while an earlier
    one was still open must still apply the earlier one when it commits."""
    with committed_app("postgresql", tmp_path) as database:
        ids = seed(database)
        with database.session() as session:
            assert answer(session, None)[0] == 4  # kept
            first, second = session.scalars(sa.select(Dataset.id).where(
                Dataset.name.in_(["household-register-0", "household-register-2"])).order_by(Dataset.name)).all()
        hide = sa.text("UPDATE dataset SET private = true WHERE id = :id")
        with database.engine.connect() as early, database.engine.connect() as late:
            early.begin()
            early.execute(hide, {"id": first})  # its log entry is numbered now, committed last
            late.begin()
            late.execute(sa.text("UPDATE dataset SET share_type = 'unconditional' WHERE id = :id"), {"id": second})
            late.commit()
            with database.session() as session:  # sees the later write, not the earlier one
                count, facets, _page = answer(session, None)
                assert count == 4 and dict((v, n) for v, _d, n in facets["share_type"]) == \
                    {"conditional": 3, "unconditional": 1}
            early.commit()
        with database.session() as session:
            count, _facets, page = answer(session, None)
            assert count == 3 and "household-register-0" not in page
        assert compare(database, ids, "after the earlier write committed") == []


def test_a_reader_older_than_the_kept_answer_gets_its_own_snapshot_postgresql(tmp_path):
    """A REPEATABLE READ transaction that began before a write searches after another reader moved the kept
    answer past that write: it answers for its own snapshot, not the newer one."""
    with committed_app("postgresql", tmp_path) as database:
        ids = seed(database)
        with database.session() as session:
            assert answer(session, None)[0] == 4
        with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
                Session(bind=conn) as old:
            old.execute(sa.text("SELECT 1"))  # its snapshot: before the write below
            with database.session() as session:
                session.execute(sa.text("UPDATE dataset SET private = true WHERE name = 'household-register-0'"))
                session.commit()
            with database.session() as session:
                assert answer(session, None)[0] == 3  # the kept answer follows the write
            # a page nobody asked for in its snapshot (no answer filed under its version): from the kept hits
            followed = answer(old, None, rows=3)
            with cache.set_aside():
                fresh = answer(old, None, rows=3)
            assert followed[0] == 4 and followed == fresh
        assert compare(database, ids, "after") == []


def test_a_newer_transaction_numbered_before_an_older_ones_commit_is_not_missed_postgresql(tmp_path):
    """A snapshot's xmax is one past the newest finished transaction: a newer transaction that wrote (and
    numbered its entry) before an older one's later-numbered entry committed is neither in the snapshot's
    list of running transactions nor visible, and must still be applied when it commits."""
    with committed_app("postgresql", tmp_path) as database:
        ids = seed(database)
        with database.session() as session:
            assert answer(session, None)[0] == 4  # kept
            first, second = session.scalars(sa.select(Dataset.id).where(
                Dataset.name.in_(["household-register-0", "household-register-2"])).order_by(Dataset.name)).all()
        with database.engine.connect() as older, database.engine.connect() as newer:
            older.begin()
            older.execute(sa.text("SELECT txid_current()"))  # takes its transaction id first
            newer.begin()
            newer.execute(sa.text("UPDATE dataset SET private = true WHERE id = :id"), {"id": first})
            older.execute(sa.text("UPDATE dataset SET share_type = 'unconditional' WHERE id = :id"), {"id": second})
            older.commit()
            with database.session() as session:  # sees the older one's write, not the newer one's
                count, facets, _page = answer(session, None)
                assert count == 4 and dict((v, n) for v, _d, n in facets["share_type"]) == \
                    {"conditional": 3, "unconditional": 1}
            newer.commit()
        with database.session() as session:
            count, _facets, page = answer(session, None)
            assert count == 3 and "household-register-0" not in page
        assert compare(database, ids, "after the newer write committed") == []
