"""Totals of searches across writes (issue 17): a total found above the threshold is not counted again after
every write, yet a total at or under the threshold is always exact, however the writes brought it there.

What a reading system notices: ``total`` and ``total_was_estimated`` after each write. Each change writes one
record, so a search that matched at least ``lower`` records still matches more than the threshold after fewer
than ``lower - threshold`` changes; past that it is counted again. The searches here filter on a village, a field
without an index: a filter on an indexed field (the town) is counted exactly at any size (``value_counts``,
tests/datastore/test_value_counts.py).
"""
from __future__ import annotations

import pytest

from catalog.datastore import query
from tests.datastore.test_reads import search, world  # noqa: F401  (the fixture)
from tests.datastore.test_reads_text import _catch_up, _holding, _keys
from tests.schemas.records_samples import households

THRESHOLD = 5
#: each town's one village here (a field without an index: its totals are counted, and estimated above)
VILLAGES = {"城关镇": "城关社区", "江口回族镇": "江口社区"}


def _in(record: dict, town: str) -> dict:
    return dict(record, town=town, village=VILLAGES[town])


@pytest.fixture
def towns(api, app, make, monkeypatch, sysadmin):
    """A household table: 14 households in 城关镇, 6 in 江口回族镇; the estimation threshold at 5."""
    department = make.department("ningshan-mzj")
    made = make.dataset(department["id"], name="households-across-writes", record_schema="household@1",
                        share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": made["id"]}}, token=sysadmin.token)
    records = [_in(record, "城关镇" if number < 14 else "江口回族镇")
               for number, record in enumerate(households(20, seed=31))]
    written = api.call("datastore_upsert", {"resource_id": created.result["resource_id"], "records": records},
                       token=sysadmin.token)
    assert written.status == 200, written.body
    monkeypatch.setitem(app.config, "DATASTORE_TOTAL_ESTIMATION_THRESHOLD", THRESHOLD)
    return {"resource_id": created.result["resource_id"], "records": records, "token": sysadmin.token}


def _town_total(api, towns, town="城关镇") -> tuple[int, bool]:
    """The total of the town's village (as a village total is given)."""
    reply = api.call("datastore_search", {"resource_id": towns["resource_id"],
                                          "filters": {"village": VILLAGES[town]}, "limit": 1}, token=towns["token"])
    assert reply.status == 200, reply.body
    return reply.result["total"], reply.result["total_was_estimated"]


def _check(total: tuple[int, bool], live: int) -> None:
    if live > THRESHOLD:
        assert total[1] is True and total[0] > THRESHOLD, (total, live)
    else:
        assert total == (live, False), (total, live)


def test_a_town_total_is_exact_again_once_writes_one_by_one_bring_it_to_the_threshold(api, towns):
    in_town = [r for r in towns["records"] if r["town"] == "城关镇"]
    _check(_town_total(api, towns), 14)
    for number, record in enumerate(in_town):
        if number % 2:  # deleted, or moved to the other town
            gone = api.call("datastore_delete", {"resource_id": towns["resource_id"], "filters": {
                "household_number": record["household_number"]}}, token=towns["token"])
            assert gone.status == 200, gone.body
        else:
            moved = api.call("datastore_upsert", {"resource_id": towns["resource_id"],
                                                  "records": [_in(record, "江口回族镇")]}, token=towns["token"])
            assert moved.status == 200, moved.body
        _check(_town_total(api, towns), 14 - number - 1)
    # the other town grew from 6 to 13 by the moves: above the threshold, estimated
    _check(_town_total(api, towns, "江口回族镇"), 13)


def test_one_write_of_many_records_brings_an_estimated_town_total_to_an_exact_one(api, towns):
    _check(_town_total(api, towns), 14)
    moved = [_in(r, "江口回族镇") for r in towns["records"] if r["town"] == "城关镇"][:9]
    written = api.call("datastore_upsert", {"resource_id": towns["resource_id"], "records": moved},
                       token=towns["token"])
    assert written.status == 200, written.body
    _check(_town_total(api, towns), 5)


def test_an_unrelated_write_keeps_an_estimated_town_total_without_counting_it_again(api, db, monkeypatch, towns):
    _check(_town_total(api, towns), 14)
    other = next(r for r in towns["records"] if r["town"] == "江口回族镇")
    written = api.call("datastore_upsert", {"resource_id": towns["resource_id"],
                                            "records": [dict(other, grid_worker="新网格员")]}, token=towns["token"])
    assert written.status == 200, written.body
    counted = []
    monkeypatch.setattr(query, "_count", lambda *args, **kw: counted.append(args) or (0, False, 0))
    _check(_town_total(api, towns), 14)
    assert counted == [], "a total more than the threshold above it was counted again after one write"


def test_a_common_word_s_total_is_exact_again_once_deletions_bring_it_to_the_threshold(api, app, db, monkeypatch,
                                                                                       world):
    _catch_up(db, world["resource_id"])
    monkeypatch.setitem(app.config, "DATASTORE_TOTAL_ESTIMATION_THRESHOLD", 2)
    owner = world["owner"].token
    holding = _holding(world["records"], "城关镇")
    assert len(holding) > 4
    first = search(api, world, owner, q="城关镇", limit=1)
    assert first.result["total_was_estimated"] is True and first.result["total"] > 2
    for number, key in enumerate(holding):
        gone = api.call("datastore_delete", {"resource_id": world["resource_id"], "filters": {
            "household_number": key}}, token=owner)
        assert gone.status == 200, gone.body
        live = holding[number + 1:]
        page = search(api, world, owner, q="城关镇", limit=1)
        assert _keys(page) == live[:1]
        if len(live) > 2:
            assert page.result["total_was_estimated"] is True and page.result["total"] > 2, (page.result, live)
        else:
            assert (page.result["total"], page.result["total_was_estimated"]) == (len(live), False), live


def test_a_common_word_s_estimated_total_is_not_below_the_matches_the_text_index_gave(api, app, db, monkeypatch,
                                                                                      world):
    # the planner's guess (no statistics here) may be anything; the word's matches read from the text index
    # (up to twice the threshold) are records that hold it, so the estimate is at least that many
    _catch_up(db, world["resource_id"])
    monkeypatch.setitem(app.config, "DATASTORE_TOTAL_ESTIMATION_THRESHOLD", 2)
    holding = _holding(world["records"], "城关镇")
    page = search(api, world, world["owner"].token, q="城关镇", limit=1)
    assert page.result["total_was_estimated"] is True
    assert page.result["total"] >= min(len(holding), 2 * 2 + 1), (page.result["total"], len(holding))
