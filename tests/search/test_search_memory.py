"""Plain-word searches answered from the process's replica of the catalogue (catalog.search.memory, PostgreSQL)
answer exactly what the database answers: the count, every facet's counts, and each page in order, for every
kind of reader, after each kind of write an officer makes, under concurrent writers, and in the cases where the
replica must step aside (a reader's own write, an older snapshot, a membership, loading in the background).

The database's answer is a fresh computation with no cache, no kept hits and no replica (``recounted``)."""
from __future__ import annotations

import stat
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from catalog import create_app
from catalog.auth.models import User
from catalog.datasets.models import Dataset, Resource
from catalog.datasets.service import create_dataset, delete_dataset, metadata_of, update_dataset
from catalog.db import get_db
from catalog.departments.models import Department
from catalog.departments.service import set_member
from catalog.groups.models import DatasetGroup
from catalog.search import memory
from catalog.search.service import search_datasets
from tests.conftest import dataset_values
from tests.search.test_search_delta import FACETS, committed_app, edit, race, recounted, seed
from tests.search.test_search_delta import compare as compare_kept

ALL_FACETS = [*FACETS, "update_cycle", "open_type", "category", "license_id"]

#: Readers of plain words the replica answers: visibilities, include flags, pages and the numeric orders.
READERS = [("anonymous", None, {}), ("officer", "officer", {"include_private": True, "include_drafts": True}),
           ("outsider", "outsider", {"include_private": True}), ("sysadmin", "admin", {"include_private": True}),
           ("second page", None, {"rows": 2, "start": 2}), ("past the end", None, {"rows": 3, "start": 9}),
           ("newest first", "admin", {"sort": "metadata_modified desc", "include_drafts": True}),
           ("oldest first", None, {"sort": "metadata_created asc"}),
           ("fewest tags", "officer", {"sort": "num_tags asc, metadata_created desc", "include_private": True}),
           ("most resources", None, {"sort": "num_resources desc", "rows": 3}),
           ("one word", None, {"q": "户籍"}), ("no match", None, {"q": "户籍 不存在的词"})]


@pytest.fixture
def database(tmp_path):
    with committed_app("postgresql", tmp_path, replica=True) as db:
        yield db
        memory.forget(db.engine)


def answer(session: Session, actor: User | None, **params) -> tuple:
    found = search_datasets(session, actor, **{"q": "户籍 人口", "facet_fields": ALL_FACETS, **params})
    return found.count, found.facets, [d.name for d in found.datasets]


def compare(database, ids: dict[str, str], step: str, readers=READERS) -> list[str]:
    """Every reader's answer from the replica next to the database's fresh computation of the same snapshot."""
    return compare_kept(database, ids, step, readers, answer)


def test_the_replica_answers_what_the_database_answers_after_each_kind_of_write(database):
    ids = seed(database)
    answered = memory.stats["answered"] + memory.stats["followed"]
    declined = memory.stats["declined"]
    problems = compare(database, ids, "start")
    edit(database, ids, "household-register-5", title="城乡低保户籍人口名单")  # a title gains the words
    problems += compare(database, ids, "title gains the words")
    edit(database, ids, "household-register-0", title="宁陕县人口信息")  # loses one
    problems += compare(database, ids, "title loses a word")
    edit(database, ids, "household-register-1", tag_names=["户籍", "低保"])
    problems += compare(database, ids, "tag added")
    edit(database, ids, "household-register-3", tag_names=[])
    problems += compare(database, ids, "tags removed")
    edit(database, ids, "household-register-2", share_type="unconditional", share_condition=None,
         update_cycle="monthly")
    problems += compare(database, ids, "share type and update cycle")
    edit(database, ids, "household-register-1", private=True)
    problems += compare(database, ids, "made private")
    with database.session() as session:
        dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "household-register-2"))
        session.add_all([Resource(package_id=dataset.id, name="名单", url="http://example.gov.cn/a.csv", format="csv"),
                         Resource(package_id=dataset.id, name="名单", url="http://example.gov.cn/a.xlsx",
                                  format="xlsx")])
        session.add(DatasetGroup(dataset_id=dataset.id, group_name="shehui"))
        session.commit()
    problems += compare(database, ids, "resources and a theme")
    with database.session() as session:
        delete_dataset(session, session.get(User, ids["admin"]),
                       session.scalar(sa.select(Dataset).where(Dataset.name == "household-register-3")))
        session.commit()
    problems += compare(database, ids, "deleted")
    with database.session() as session:
        create_dataset(session, session.get(User, ids["admin"]), values=dataset_values(ids["mzj"], 7), tags=["人口"])
        create_dataset(session, session.get(User, ids["admin"]), values={**dataset_values(ids["gaj"], 8),
                                                                          "state": "draft"})
        session.commit()
    problems += compare(database, ids, "created, one a draft")
    with database.session() as session:  # a tag renamed in SQL: every dataset that has it is logged
        session.execute(sa.text("UPDATE tag SET name = '户口' WHERE name = '户籍'"))
        session.commit()
    problems += compare(database, ids, "tag renamed")
    assert problems == []
    # the replica answered every reader after every write (none left to the database)
    assert memory.stats["answered"] + memory.stats["followed"] - answered == 11 * len(READERS)
    assert memory.stats["declined"] == declined


def test_an_answer_is_kept_until_the_replica_changes(database):
    ids = seed(database)
    with database.session() as session:
        first = answer(session, None)
        repeated = memory.stats["repeated"]
        assert answer(session, None) == first
        assert memory.stats["repeated"] == repeated + 1  # no array work for the same question of the same state
    edit(database, ids, "household-register-5", title="城乡户籍人口低保名单")  # a fifth public hit
    with database.session() as session:
        after = answer(session, None)
        assert after[0] == first[0] + 1 and after[2][0] == "household-register-5"
        assert memory.stats["repeated"] == repeated + 1
    assert compare(database, ids, "after the edit") == []


def test_a_worker_warms_its_replica_at_boot(database):
    ids = seed(database)
    memory.forget(database.engine)
    loaded, opened = memory.stats["loaded"], memory.stats["opened"]
    memory.warm(database.engine)
    deadline = time.monotonic() + 30
    with database.session() as session:  # None while the thread loads (a search would not load it again)
        while memory.replica_of(session) is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert memory.replica_of(session) is not None
    answered = memory.stats["answered"]
    assert compare(database, ids, "warmed") == []
    assert memory.stats["answered"] - answered == len(READERS)
    assert (memory.stats["loaded"], memory.stats["opened"]) == (loaded, opened + 1)  # loaded by another process


def test_ties_are_broken_by_the_newest_then_the_id_as_the_database_does(database):
    """Datasets copied in SQL share their modification time to the microsecond: each page of them comes in the
    database's order (id ascending among equals), and none is on two pages or missing."""
    ids = seed(database)
    with database.session() as session:
        admin = session.get(User, ids["admin"])
        for n in range(9, 33):
            create_dataset(session, admin, values={**dataset_values(ids["mzj" if n % 3 else "gaj"], n),
                                                   "title": "户籍人口登记" if n % 4 else "人口户籍统计"}, tags=["户籍"])
        session.commit()
        session.execute(sa.text("UPDATE dataset SET metadata_modified = TIMESTAMP '2026-01-05 08:00:00.123456', "
                                "metadata_created = TIMESTAMP '2026-01-04 08:00:00' WHERE name LIKE '%-1_' "
                                "OR name LIKE '%-2_'"))
        session.commit()
    pages = [("page", None, {"rows": 7, "start": start}) for start in range(0, 35, 7)]
    pages += [("by tags", None, {"rows": 5, "start": start, "sort": "num_tags desc"}) for start in range(0, 30, 5)]
    assert compare(database, ids, "ties", pages) == []
    with database.session() as session:
        names = [name for start in range(0, 35, 7) for name in answer(session, None, rows=7, start=start)[2]]
        assert len(names) == len(set(names)) == answer(session, None)[0]


def test_a_membership_loads_the_replica_again_and_the_departments_private_datasets_become_visible(database):
    ids = seed(database)
    assert compare(database, ids, "start") == []
    loaded = memory.stats["loaded"]
    with database.session() as session:
        outsider = session.get(User, ids["outsider"])
        assert answer(session, outsider, include_private=True)[0] == 4  # the public ones
        set_member(session, session.get(User, ids["admin"]), session.get(Department, ids["gaj"]), outsider, "member")
        session.commit()
    assert compare(database, ids, "joined") == []
    assert memory.stats["loaded"] == loaded + 1  # the change log's "recompute everything" entry
    with database.session() as session:
        outsider = session.get(User, ids["outsider"])
        assert answer(session, outsider, include_private=True)[0] == 5  # 公安局's private one too


def test_the_readers_own_write_is_seen_by_it_and_by_no_one_else(database):
    ids = seed(database)
    with database.session() as session:
        assert answer(session, None)[0] == 4
    with database.session() as session:
        dataset = session.scalar(sa.select(Dataset).where(Dataset.name == "household-register-5"))
        values = {**metadata_of(dataset), "title": "城乡户籍人口低保名单"}
        tags = values.pop("tags")
        update_dataset(session, session.get(User, ids["admin"]), dataset, values=values, tags=tags)
        session.flush()
        declined = memory.stats["declined"]
        assert answer(session, None)[0] == 5  # its own edit
        assert memory.stats["declined"] == declined + 1  # answered by the database
        with database.session() as other:
            assert answer(other, None)[0] == 4  # not committed: nobody else sees it
        session.rollback()
    assert compare(database, ids, "after the rollback") == []
    with database.session() as session:
        assert answer(session, None)[0] == 4


def test_a_reader_older_than_the_replica_gets_its_own_snapshot(database):
    ids = seed(database)
    with database.engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, \
            Session(bind=connection) as old:
        before = answer(old, None)  # the snapshot is taken here
        edit(database, ids, "household-register-5", title="城乡户籍人口低保名单")
        with database.session() as session:
            assert answer(session, None)[0] == 5  # the replica moved on
        declined = memory.stats["declined"]
        assert answer(old, None) == before  # still 4: its snapshot, from the database
        assert memory.stats["declined"] == declined + 1
    assert compare(database, ids, "after") == []


def test_a_big_catalogue_is_loaded_by_another_process_and_the_database_answers_meanwhile(database, monkeypatch):
    ids = seed(database)
    monkeypatch.setattr(memory, "LOAD_IN_REQUEST", 1)  # every catalogue is "big"
    declined, loaded, opened = memory.stats["declined"], memory.stats["loaded"], memory.stats["opened"]
    with database.session() as session:
        with recounted():
            fresh = answer(session, None)
        assert answer(session, None) == fresh  # the database, while a process loads the replica
        assert memory.stats["declined"] == declined + 1
        deadline = time.monotonic() + 60
        while memory.replica_of(session) is None and time.monotonic() < deadline:
            time.sleep(0.05)
    answered = memory.stats["answered"]
    assert compare(database, ids, "loaded") == []
    assert memory.stats["answered"] - answered == len(READERS)
    # loaded by the other process (its memory is given back when it ends), then opened here
    assert (memory.stats["loaded"], memory.stats["opened"]) == (loaded, opened + 1)


def test_a_failed_load_leaves_the_searches_to_the_database(database, monkeypatch):
    ids = seed(database)

    def broken(engine):
        raise sa.exc.OperationalError("SELECT", {}, Exception("the server went away"))

    monkeypatch.setattr(memory, "load_here", broken)
    declined = memory.stats["declined"]
    assert compare(database, ids, "no replica") == []
    assert memory.stats["declined"] - declined == len(READERS)


def test_a_worn_replica_serves_until_its_successor_is_loaded(database, monkeypatch):
    ids = seed(database)
    assert compare(database, ids, "start") == []
    monkeypatch.setattr(memory, "MIN_DEAD", 0)
    monkeypatch.setattr(memory, "MAX_DEAD_SHARE", 0.0)
    loaded = memory.stats["loaded"]
    edit(database, ids, "household-register-2", title="户籍人口统计")
    assert compare(database, ids, "after one change") == []
    assert memory.stats["loaded"] > loaded
    with database.session() as session:
        replica = memory.replica_of(session)
        assert replica.dead == 0 and replica.count == 6


def test_the_processes_of_a_host_share_one_replica_file(database, tmp_path):
    """A second app on the same database and instance folder (another gunicorn worker) opens the replica the
    first loaded and wrote, instead of reading the catalogue again; each then follows the writes itself."""
    ids = seed(database)
    loaded, opened = memory.stats["loaded"], memory.stats["opened"]
    assert compare(database, ids, "first process") == []
    assert (memory.stats["loaded"], memory.stats["opened"]) == (loaded + 1, opened + 1)
    folder = tmp_path / "search-replica"
    saved = [path for path in folder.iterdir() if path.is_dir()]
    assert len(saved) == 1 and stat.S_IMODE(folder.stat().st_mode) == 0o700  # every dataset's words: the server's
    second = create_app({"TESTING": True, "DATABASE_URL": database.engine.url.render_as_string(hide_password=False),
                         "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test", "SITE_URL": "http://localhost",
                         "CATALOG_REVIEW": False})
    other = get_db(second)
    try:
        assert compare(other, ids, "second process") == []
        assert (memory.stats["loaded"], memory.stats["opened"]) == (loaded + 1, opened + 2)
        edit(database, ids, "household-register-5", title="城乡户籍人口低保名单")
        assert compare(other, ids, "second process after a write") == []
        assert compare(database, ids, "first process after a write") == []
        assert memory.stats["loaded"] == loaded + 1
    finally:
        memory.forget(other.engine)
        other.engine.dispose()


def test_a_replica_of_another_log_is_loaded_again(database):
    """The log entry at the replica's position must be the one it was read at (a file of a database restored
    since is not): else it is loaded from the database again."""
    ids = seed(database)
    assert compare(database, ids, "start") == []
    with database.session() as session:
        replica = memory.replica_of(session)
        replica.pos_xid += 1
    loaded = memory.stats["loaded"]
    assert compare(database, ids, "another log") == []
    assert memory.stats["loaded"] == loaded + 1


def test_sqlite_searches_are_answered_by_the_database(tmp_path):
    with committed_app("sqlite", tmp_path, replica=True) as database:
        seed(database)
        before = sum(memory.stats.values())
        with database.session() as session:
            assert answer(session, None)[0] == 4
            assert memory.replica_of(session) is None
        assert sum(memory.stats.values()) == before


@pytest.mark.slow
def test_concurrent_writers_never_give_a_stale_answer(tmp_path):
    """Two writers edit, hide, create and delete datasets while a reader searches; every answer equals the
    database's in the same REPEATABLE READ snapshot, and the last one, after both committed, too."""
    with committed_app("postgresql", tmp_path, replica=True) as database:
        ids = seed(database)
        errors: list[str] = []
        searches = [{}, {"sort": "metadata_created asc"}, {"rows": 2, "start": 1}]
        followed = memory.stats["followed"]
        race(database, ids, searches, answer, errors)
        memory.forget(database.engine)
        assert errors == []
        assert memory.stats["followed"] > followed  # the replica followed the writes, not only reloaded
