"""The sync scheduler's tick brings ``q``'s text index up to the last write (issue 17): after a load bigger
than a ``q`` read catches up itself, the next tick indexes it, and ``q`` finds the same records as before."""
from __future__ import annotations

import pytest

from catalog.cli import _scheduler_tick
from catalog.datastore import service, text_index
from tests.datastore.test_reads import search, world  # noqa: F401  (the fixture)


def _keys(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [r["household_number"] for r in reply.result["records"]]


@pytest.fixture
def tick(db):
    """The tick's catch-up on the test's session (which sees the test's uncommitted records), in chunks of 7
    changes so that the table takes several."""
    return lambda: text_index.catch_up_lagging(db, chunk=7, chunks=1000)


def test_the_scheduler_tick_indexes_what_the_reads_left_behind(api, db, world, monkeypatch, tick):
    monkeypatch.setattr(text_index, "READ_CATCH_UP", 0)  # reads leave the index behind the writes
    owner = world["owner"].token
    before = _keys(search(api, world, owner, q="城关镇"))  # answered by substring: nothing indexed yet
    assert before
    table = service.get_table(db, world["resource_id"])
    assert text_index.position(db, world["resource_id"]) < table.last_seq
    assert tick() == service.get_table(db, world["resource_id"]).last_seq
    assert text_index.position(db, world["resource_id"]) == service.get_table(db, world["resource_id"]).last_seq
    assert _keys(search(api, world, owner, q="城关镇")) == before  # now through the index: the same records
    assert tick() == 0  # nothing left: a second tick indexes nothing


def test_the_sync_scheduler_tick_runs_on_this_database(app):
    """The whole tick of `catalog sync scheduler`, catch-up included, in its own sessions (the test's records
    are not committed, so it has nothing to index): its statements are valid on this database."""
    with app.app_context():
        _scheduler_tick(app)
