"""Duplicate keys within one read (last occurrence wins) and the status a run ends with."""
from __future__ import annotations

import pytest

from connectors import Row, Source, Stream, repeated_keys
from connectors.sources import get
from tests.connectors.exports import csv_text
from tests.connectors.helpers import MemoryTarget, sync

MAPPING = {"rename": {"编号": "k", "值": "v"}, "integers": ["v"]}


def export(tmp_path, rows, name="dup.csv"):
    path = tmp_path / name
    path.write_bytes(csv_text(["编号", "值"], rows).encode("gb18030"))
    return {"path": str(path)}


def rows_with_reexport(n=30, repeated=(2, 5, 29), version="new"):
    """n rows keyed 1..n, then a re-export of some of them (newer values) appended at the end."""
    body = [[str(i), str(i)] for i in range(1, n + 1)]
    return body + [[str(i), str(i * 100)] for i in repeated]


@pytest.mark.parametrize("batch_size", [7, 1000], ids=["across-batches", "one-batch"])
def test_the_last_occurrence_of_a_key_wins_and_the_earlier_ones_are_never_written(tmp_path, batch_size):
    config = export(tmp_path, rows_with_reexport())
    target = MemoryTarget(["k"])
    report = sync(get("csv"), config, target, mapping=MAPPING, batch_size=batch_size)
    assert report.status == "succeeded"
    assert report.counts() == {"read": 33, "inserted": 30, "updated": 0, "unchanged": 0, "quarantined": 0,
                               "skipped": 0, "superseded": 3, "deleted": 0}
    assert target.records["2"] == {"k": "2", "v": 200} and target.records["29"] == {"k": "29", "v": 2900}
    # the older version was never stored, not even for a moment
    assert target.log == [("insert", str(k)) for k in [*(i for i in range(1, 31) if i not in (2, 5, 29)), 2, 5, 29]]
    assert any("superseded" in line and "row 3 (key 2)" in line for line in report.log)
    # a rerun of the unchanged file writes nothing
    rerun = sync(get("csv"), config, target, mapping=MAPPING, batch_size=batch_size)
    assert (rerun.inserted, rerun.updated, rerun.unchanged, rerun.superseded) == (0, 0, 30, 3)
    assert len(target.log) == 30


@pytest.mark.parametrize("chunk", [repeated_keys.CHUNK, 48], ids=["held", "spilled-two-keys-a-chunk"])
def test_keys_re_exported_twice_far_apart_keep_their_last_version(tmp_path, monkeypatch, chunk):
    # the read ahead keeps only the keys that repeat; its spilled digests are read back in the order of
    # the read whether they were written in one chunk or in many
    monkeypatch.setattr(repeated_keys, "CHUNK", chunk)
    body = [[str(i), str(i)] for i in range(1, 2001)]          # 2,000 households
    body += [[str(i), str(i * 10)] for i in range(1, 301)]     # the first 300 re-exported
    body += [[str(i), str(i * 100)] for i in range(1, 51)]     # and the first 50 a third time
    config = export(tmp_path, body)
    target = MemoryTarget(["k"])
    report = sync(get("csv"), config, target, mapping=MAPPING, batch_size=97)
    assert report.counts() == {"read": 2350, "inserted": 2000, "updated": 0, "unchanged": 0, "quarantined": 0,
                               "skipped": 0, "superseded": 350, "deleted": 0}
    latest = {str(i): i * 100 if i <= 50 else i * 10 if i <= 300 else i for i in range(1, 2001)}
    assert {key: record["v"] for key, record in target.records.items()} == latest
    assert sorted(target.log) == sorted(("insert", key) for key in latest)  # each key written once
    assert any("read ahead: 2350 rows, 2000 distinct keys (350 rows repeat a key" in line for line in report.log)
    rerun = sync(get("csv"), config, target, mapping=MAPPING, batch_size=97)
    assert (rerun.inserted, rerun.updated, rerun.unchanged, rerun.superseded) == (0, 0, 2000, 350)
    assert len(target.log) == 2000


def test_a_key_repeated_inside_a_batch_of_a_source_that_is_read_once():
    class Feed(Source):  # an API: not rereadable, so only batches are deduplicated
        name = "feed"

        def spec(self):
            return {"type": "object"}

        def discover(self, config):
            return [Stream("s")]

        def read(self, config, stream, state):
            for i, (k, v) in enumerate([("a", 1), ("b", 1), ("a", 2), ("a", 3), ("c", 1)], 1):
                yield Row({"k": k, "v": v}, i)

    target = MemoryTarget(["k"])
    report = sync(Feed(), {}, target, batch_size=100)
    assert (report.inserted, report.superseded) == (3, 2) and target.records["a"] == {"k": "a", "v": 3}
    assert target.log == [("insert", "b"), ("insert", "a"), ("insert", "c")]


def test_append_keeps_every_row(tmp_path):
    config = export(tmp_path, [["1", "1"], ["1", "2"]])
    report = sync(get("csv"), config, MemoryTarget(["k"]), mapping=MAPPING, write="append")
    assert report.status == "failed" and report.superseded == 0  # the target refuses the repeated key


def test_a_later_invalid_occurrence_still_supersedes_the_earlier_valid_one(tmp_path):
    config = export(tmp_path, [["1", "1"], ["2", "2"], ["1", "not a number"]])
    target = MemoryTarget(["k"])
    report = sync(get("csv"), config, target, mapping=MAPPING, batch_size=1)
    assert (report.inserted, report.quarantined, report.superseded) == (1, 1, 1)
    assert "1" not in target.records  # the file's latest word on key 1 is invalid: it is quarantined


# --- status ------------------------------------------------------------------------------------


def with_bad(tmp_path, good, bad):
    rows = [[str(i), str(i)] for i in range(1, good + 1)]
    rows += [[str(1000 + i), "一百"] for i in range(bad)]
    return export(tmp_path, rows, name=f"s{good}-{bad}.csv")


def test_a_run_that_quarantines_every_row_fails_with_its_reasons(tmp_path):
    report = sync(get("csv"), with_bad(tmp_path, 0, 12), MemoryTarget(["k"]), mapping=MAPPING)
    assert report.status == "failed" and not report.succeeded and report.quarantined == 12
    assert report.error_message.startswith("12 of 12 rows (100.0%) were invalid, more than the job allows")
    assert "v [integer] on 12 rows, e.g. '一百' is not an integer" in report.error_message
    assert report.top_reasons == [{"field": "v", "keyword": "integer", "rows": 12,
                                   "message": "'一百' is not an integer"}]


@pytest.mark.parametrize("good,bad,max_invalid,status", [
    (10, 0, 0.5, "succeeded"),
    (9, 1, 0.5, "succeeded_with_errors"),
    (5, 5, 0.5, "succeeded_with_errors"),   # exactly the threshold: not more than it
    (4, 6, 0.5, "failed"),
    (9, 1, 0.05, "failed"),
    (0, 3, 1.0, "succeeded_with_errors"),
])
def test_the_status_follows_the_share_of_invalid_rows(tmp_path, good, bad, max_invalid, status):
    target = MemoryTarget(["k"])
    report = sync(get("csv"), with_bad(tmp_path, good, bad), target, mapping=MAPPING, max_invalid=max_invalid)
    assert report.status == status, report.error_message
    assert len(target.records) == good  # the valid rows are written whatever the status
    assert len(target.rejected) == bad


def test_max_invalid_must_be_a_share():
    with pytest.raises(ValueError, match="max_invalid"):
        sync(get("csv"), {"path": "x"}, MemoryTarget(["k"]), max_invalid=50)
