"""``q`` through the text index kept behind the writes (issue 17).

What a reading system notices: ``q`` finds the records holding a Chinese word (or a substring of any value)
whether or not the index has caught up with the last writes, never finds a record for a value it no longer
holds, pages through a common word by cursor without losing a record, and a masked reader cannot use it to
reach a sensitive value. The index answers through its own index (the plan says so).
"""
from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from catalog.datastore import query, service, text_index
from tests.datastore.test_reads import _next, search, world  # noqa: F401  (the fixture)


def _keys(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [r["household_number"] for r in reply.result["records"]]


def _values(value) -> list[str]:
    """Every string and number in ``value``, at any depth (what ``q`` searches)."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _values(item)]
    if isinstance(value, list):
        return [text for item in value for text in _values(item)]
    return [] if value is None or isinstance(value, bool) else [str(value)]


def _holding(records, word: str) -> list[str]:
    """The keys of the records with a value containing ``word``, in key order."""
    return sorted(r["household_number"] for r in records if any(word.lower() in v.lower() for v in _values(r)))


def _catch_up(db, resource_id: str) -> int:
    table = service.get_table(db, resource_id)
    db.expire(table)
    moved = 0
    while True:
        step = text_index.catch_up(db, table)
        moved += step
        if not step:
            return moved


def _rewrite(api, world, records, token):
    written = api.call("datastore_upsert", {"resource_id": world["resource_id"], "records": records}, token=token)
    assert written.status == 200, written.body


def test_q_finds_a_chinese_word_through_the_index_and_the_records_written_after_it(api, db, monkeypatch,
                                                                                     sysadmin, world):
    monkeypatch.setattr(text_index, "READ_CATCH_UP", 0)  # the reads leave the index behind the writes
    owner = world["owner"].token
    town = _holding(world["records"], "城关镇")
    assert _keys(search(api, world, owner, q="城关镇")) == town  # nothing indexed yet: all by substring
    assert _catch_up(db, world["resource_id"]) > 0
    assert text_index.position(db, world["resource_id"]) == service.get_table(db, world["resource_id"]).last_seq
    assert _keys(search(api, world, owner, q="城关镇")) == town
    assert _keys(search(api, world, owner, q="城关")) == _holding(world["records"], "城关")  # a part of it
    # After the position: one record moves to the other town, one arrives, one is deleted.
    moved = next(dict(r, town="江口回族镇") for r in world["records"]
                 if r["town"] == "城关镇" and not _holding([dict(r, town="江口回族镇")], "城关镇"))
    gone = next(r for r in world["records"]
                if r["household_number"] in town and r["household_number"] != moved["household_number"])
    arrived = dict(world["records"][0], household_number=world["records"][0]["household_number"][:-4] + "9999",
                   town="城关镇")
    _rewrite(api, world, [moved, arrived], sysadmin.token)
    deleted = api.call("datastore_delete", {"resource_id": world["resource_id"],
                                            "filters": {"household_number": gone["household_number"]}},
                       token=sysadmin.token)
    assert deleted.status == 200, deleted.body
    now = [r for r in world["records"] if r["household_number"] not in (moved["household_number"],
                                                                        gone["household_number"])]
    expected = _holding([*now, moved, arrived], "城关镇")
    assert moved["household_number"] not in expected and arrived["household_number"] in expected
    assert _keys(search(api, world, owner, q="城关镇")) == expected
    assert _catch_up(db, world["resource_id"]) > 0  # and once the index has them, the same answer
    assert _keys(search(api, world, owner, q="城关镇")) == expected
    assert moved["household_number"] in _keys(search(api, world, owner, q="江口回族"))


def test_a_read_catches_up_a_small_lag_itself(api, db, world):
    assert text_index.position(db, world["resource_id"]) == 0
    found = search(api, world, world["owner"].token, q="江口回族镇")
    assert found.result["total"] == len(_holding(world["records"], "江口回族镇"))
    assert text_index.position(db, world["resource_id"]) == service.get_table(db, world["resource_id"]).last_seq


def test_q_matches_values_not_field_names_and_ignores_case(api, db, world):
    _catch_up(db, world["resource_id"])
    owner = world["owner"].token
    assert search(api, world, owner, q="household_number").result["records"] == []
    wanted = world["records"][2]
    assert _keys(search(api, world, owner, q=wanted["household_number"])) == [wanted["household_number"]]
    member_name = wanted["members"][-1]["name"]  # a value nested in the members array
    assert wanted["household_number"] in _keys(search(api, world, owner, q=member_name))
    assert search(api, world, owner, q="100%_\\").result["records"] == []


@pytest.mark.parametrize("chunk,ranges", [(2, 3), (1, 1)])  # key ranges of 2, 4, 8; or one record, then the index
def test_a_common_word_pages_by_cursor_through_every_match_once(api, app, db, monkeypatch, world, chunk, ranges):
    _catch_up(db, world["resource_id"])
    monkeypatch.setitem(app.config, "DATASTORE_TOTAL_ESTIMATION_THRESHOLD", 2)  # 6 or more: "common"
    monkeypatch.setattr(query, "WALK_CHUNK", chunk)
    monkeypatch.setattr(query, "WALK_RANGES", ranges)
    owner, seen, params = world["owner"].token, [], {"q": "城关镇", "limit": 4}
    for _ in range(4):
        page = search(api, world, owner, **params)
        seen.extend(_keys(page))
        if "total" in page.result:
            assert page.result["total_was_estimated"] is True and page.result["total"] >= 3
        params = {k: v for k, v in _next(page).items() if k != "resource_id"}
    assert seen == _holding(world["records"], "城关镇")
    narrowed = search(api, world, owner, q="城关镇", filters={"household_number": seen[0]})
    assert _keys(narrowed) == seen[:1] and narrowed.result["total"] == 1


def test_a_masked_reader_reaches_no_sensitive_value_through_q(api, db, world):
    _catch_up(db, world["resource_id"])
    town, wanted = world["town"].token, world["records"][4]
    for secret in (wanted["head_id_number"], wanted["head_name"], wanted["head_id_number"][-6:]):
        refused = search(api, world, town, q=secret)
        assert refused.status == 403 and "q" in refused.error["message"]
        assert secret not in json.dumps(refused.body, ensure_ascii=False)


def test_a_table_created_again_has_its_own_index(api, db, sysadmin, world):
    _catch_up(db, world["resource_id"])
    dropped = api.call("datastore_delete", {"resource_id": world["resource_id"]}, token=sysadmin.token)
    assert dropped.status == 200, dropped.body
    assert db.execute(sa.text("SELECT count(*) FROM datastore_text WHERE resource_id = :r"),
                      {"r": world["resource_id"]}).scalar() == 0
    again = api.call("datastore_create", {"resource_id": world["resource_id"],
                                          "records": world["records"][:2]}, token=sysadmin.token)
    assert again.status == 200, again.body
    found = search(api, world, world["owner"].token, q=world["records"][0]["head_name"])
    assert _keys(found) == [world["records"][0]["household_number"]]


def _index_plan(db, resource_id: str, q: str) -> str:
    pattern, escape = text_index.like_pattern(q)
    statement = text_index._index_matches(db, resource_id, pattern, escape)
    compiled = statement.compile(dialect=db.get_bind().dialect)
    if db.get_bind().dialect.name == "postgresql":
        db.execute(sa.text("SET LOCAL enable_seqscan = off"))
        return "\n".join(db.connection().exec_driver_sql("EXPLAIN " + str(compiled), compiled.params).scalars())
    return "\n".join(str(row[-1]) for row in db.connection().exec_driver_sql(
        "EXPLAIN QUERY PLAN " + str(compiled), tuple(compiled.params[name] for name in compiled.positiontup)))


@pytest.mark.parametrize("q", ["城关镇", "江口回族"])
def test_the_index_answers_q_through_its_trigram_index(db, world, q):
    _catch_up(db, world["resource_id"])
    # Enough indexed text of the resource that reading all of it is plainly dearer than the trigram index,
    # and statistics saying so (as test_reads' plan test does for the field indexes).
    db.execute(sa.text("INSERT INTO datastore_text (resource_id, key, body) VALUES (:r, :k, :b)"),
               [{"r": world["resource_id"], "k": f"filler{i:05d}", "b": f'["filler {i}", "宁陕县"]'}
                for i in range(5000)])
    db.execute(sa.text("ANALYZE datastore_text"))
    plan = _index_plan(db, world["resource_id"], q)
    assert "ix_datastore_text_body" in plan or "VIRTUAL TABLE INDEX" in plan, plan


def test_a_total_follows_every_write_though_pages_of_one_search_count_once(api, sysadmin, world):
    owner, town = world["owner"].token, _holding(world["records"], "城关镇")
    first = search(api, world, owner, q="城关镇", limit=1)
    assert first.result["total"] == len(town)
    again = search(api, world, owner, q="城关镇", limit=1, cursor=_next(first)["cursor"])
    assert again.result["total"] == len(town)
    arrived = dict(world["records"][0], household_number=world["records"][0]["household_number"][:-4] + "9998",
                   town="城关镇")
    _rewrite(api, world, [arrived], sysadmin.token)
    assert search(api, world, owner, q="城关镇", limit=1).result["total"] == len(town) + 1
    gone = api.call("datastore_delete", {"resource_id": world["resource_id"],
                                         "filters": {"household_number": town[0]}}, token=sysadmin.token)
    assert gone.status == 200, gone.body
    assert search(api, world, owner, q="城关镇", limit=1).result["total"] == len(town)
