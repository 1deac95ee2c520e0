"""The change-feed cursor, built and read by hand: ``base64url("v2:<generation>:<seq>")`` without padding,
where the generation is the table's creation time in microseconds since 1970, in hexadecimal."""
from __future__ import annotations

import base64
import datetime as dt
from types import SimpleNamespace

import pytest

from catalog.datastore.query import decode_cursor, encode_cursor, generation
from catalog.errors import ValidationError
from tests.schemas.records_samples import households

CREATED = dt.datetime(2026, 1, 3, 1, 30, 0, tzinfo=dt.timezone.utc)   # whole seconds: exact in a float
TABLE = SimpleNamespace(created=CREATED)
RECREATED = SimpleNamespace(created=CREATED + dt.timedelta(microseconds=1))
GENERATION = format(1767403800 * 1_000_000, "x")                      # 2026-01-03T01:30:00Z


def by_hand(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def test_the_generation_is_the_creation_time_in_microseconds():
    assert (CREATED - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)).total_seconds() == 1767403800
    assert generation(TABLE) == GENERATION
    assert generation(RECREATED) == format(1767403800 * 1_000_000 + 1, "x")


@pytest.mark.parametrize("seq", [0, 1, 7, 12345])
def test_cursors_are_written_and_read_as_documented(seq):
    cursor = encode_cursor(seq, TABLE)
    assert cursor == by_hand(f"v2:{GENERATION}:{seq}") and "=" not in cursor
    assert decode_cursor(cursor, TABLE) == seq
    assert encode_cursor(seq) == by_hand(f"v1:{seq}")
    assert decode_cursor(by_hand(f"v1:{seq}"), TABLE) == seq       # v1 cursors carry no generation


@pytest.mark.parametrize("cursor", [None, ""])
def test_no_cursor_is_the_start(cursor):
    assert decode_cursor(cursor, TABLE) == 0


@pytest.mark.parametrize("text", ["v2:%s:" % GENERATION, "v2:%s:x1" % GENERATION, "v2:%s" % GENERATION,
                                  "v3:%s:1" % GENERATION, "v1:1:2", "v1:", "v1:-1", "1", "v2:%s:1:2" % GENERATION])
def test_anything_else_is_refused_naming_the_cursor(text):
    with pytest.raises(ValidationError) as refused:
        decode_cursor(by_hand(text), TABLE)
    assert refused.value.errors == {"cursor": ["not a cursor returned by datastore_changes"]}


@pytest.mark.parametrize("cursor", ["@@@@", "//8", by_hand("v2:") + "!", "\u4e2d"])
def test_text_that_is_not_base64_or_not_utf8_is_refused(cursor):
    with pytest.raises(ValidationError) as refused:
        decode_cursor(cursor, TABLE)
    assert list(refused.value.errors) == ["cursor"]


def test_a_cursor_of_an_earlier_table_of_the_resource_is_refused():
    old = encode_cursor(5, TABLE)
    with pytest.raises(ValidationError) as refused:
        decode_cursor(old, RECREATED)
    assert "earlier DataStore table" in refused.value.errors["cursor"][0]
    assert decode_cursor(old) == 5        # without a table, the position is taken as it is


# --- through the API: a cursor belongs to one incarnation of a resource's table -------------------------

def _decoded(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def test_the_feed_of_a_recreated_table_refuses_the_old_cursor(api, make, sysadmin):
    department = make.department("ningshan-gaj")
    dataset = make.dataset(department["id"], name="households", record_schema="household@1")
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=sysadmin.token).result
    resource_id = created["resource_id"]
    empty = api.call("datastore_changes", {"resource_id": resource_id}, token=sysadmin.token).result
    assert empty["changes"] == [] and empty["has_more"] is False
    api.call("datastore_upsert", {"resource_id": resource_id, "records": list(households(2, seed=1))},
             token=sysadmin.token)
    page = api.call("datastore_changes", {"resource_id": resource_id}, token=sysadmin.token).result
    assert len(page["changes"]) == 2 and page["has_more"] is False
    assert _decoded(page["next_cursor"]).startswith("v2:") and _decoded(page["next_cursor"]).endswith(":2")
    # the table is dropped and created again: its changes number from 1 again
    assert api.call("datastore_delete", {"resource_id": resource_id}, token=sysadmin.token).status == 200
    again = api.call("datastore_create", {"resource_id": resource_id}, token=sysadmin.token)
    assert again.status == 200, again.body
    refused = api.call("datastore_changes", {"resource_id": resource_id, "cursor": page["next_cursor"]},
                       token=sysadmin.token)
    assert refused.status == 409 and "earlier DataStore table" in refused.error["cursor"][0]
