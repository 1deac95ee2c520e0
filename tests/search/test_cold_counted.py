"""A word search's first computation when it has too many hits to keep (issue 17, fifth pass).

Such a query (a word found in nearly every dataset) is counted, faceted and paged by the database in the
statement that counts its hits, instead of reading every hit's row only to drop it. Its answers must be the
database's own recount, for every reader, order and page; a query with few enough hits is still kept.
"""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.datasets.models import Dataset, Resource
from catalog.groups.models import DatasetGroup
from catalog.search import cache, delta
from tests.search.test_search_delta import READERS, answer, committed_app, recounted, seed


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    with committed_app(request.param, tmp_path) as db:
        yield db


def add_formats_and_themes(database) -> None:
    """Resources in two formats and a theme on some datasets, so every listed facet has values."""
    with database.session() as session:
        for n, name in enumerate(["household-register-0", "household-register-1", "household-register-2"]):
            dataset = session.scalar(sa.select(Dataset).where(Dataset.name == name))
            session.add(Resource(package_id=dataset.id, name="名单", url=f"http://example.gov.cn/{n}.csv",
                                 format="csv" if n % 2 else "xlsx"))
            if n:
                session.add(DatasetGroup(dataset_id=dataset.id, group_name="shehui"))
        session.commit()


def test_a_query_with_too_many_hits_to_keep_is_counted_by_the_database(database, monkeypatch):
    ids = seed(database)
    add_formats_and_themes(database)
    monkeypatch.setattr(delta, "MAX_STATE_HITS", 2)
    counted = delta.stats["counted"]
    problems, answered = [], 0
    with database.session() as session:
        for label, who, params in READERS:
            actor = session.get(User, ids[who]) if who else None
            first = answer(session, actor, **params)  # the first computation in the process
            with recounted():
                fresh = answer(session, actor, **params)
            if first != fresh:
                problems.append(f"{label}: first {first}, recounted {fresh}")
            answered += first[0] > 2
            again = answer(session, actor, **params)  # remembered as too big: recounted by the database
            if again != fresh:
                problems.append(f"{label}, asked again: {again}, recounted {fresh}")
    assert problems == []
    # every reader above with more than 2 hits was counted in the statement, and none of them kept (but the
    # second page: its query is the first page's, already remembered as too big and so recounted)
    assert answered >= 8
    assert delta.stats["counted"] - counted == answered - 1
    assert delta.kept_hits() <= 2 * (len(READERS) - answered)


def test_a_query_with_few_enough_hits_is_still_kept(database, monkeypatch):
    ids = seed(database)
    add_formats_and_themes(database)
    monkeypatch.setattr(delta, "MAX_STATE_HITS", 4)
    with database.session() as session:
        full, counted = delta.stats["full"], delta.stats["counted"]
        found = answer(session, None)  # 4 public hits (the fifth matching dataset is private)
        assert found[0] == 4
        assert (delta.stats["full"] - full, delta.stats["counted"] - counted) == (1, 0)
        assert delta.kept_hits() == 4
        admin = session.get(User, ids["admin"])  # sees the private one too: 5 hits, counted
        with recounted():
            fresh = answer(session, admin, include_private=True)
        assert answer(session, admin, include_private=True) == fresh
        assert fresh[0] == 5
        assert delta.stats["counted"] - counted == 1
        assert delta.kept_hits() == 4


def test_a_search_leaves_the_transactions_jit_setting_as_it_was(database):
    if database.engine.dialect.name != "postgresql":
        pytest.skip("JIT is PostgreSQL's")
    seed(database)
    with database.session() as session:
        server = session.scalar(sa.text("SHOW jit"))
        other = "off" if server == "on" else "on"
        session.execute(sa.text(f"SET LOCAL jit = {other}"))
        assert answer(session, None)[0] == 4  # a first computation: its statement runs without JIT
        assert session.scalar(sa.text("SHOW jit")) == other
        session.rollback()
        cache.clear()  # no cached answer, no kept hits: the statement runs again
        assert answer(session, None)[0] == 4
        assert session.scalar(sa.text("SHOW jit")) == server  # put back, in the transaction
