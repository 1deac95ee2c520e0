"""The engine end to end: a department's GB18030 export, invalid rows, mirror, crashes, retries, state."""
from __future__ import annotations

import json

import pytest

from connectors import (Checkpoint, Deletion, Mapping, Row, Source, SourceError, Stream, TransientSourceError, WriteCounts,
                        run_sync)
from connectors.sources import get
from schemas import record_validator
from tests.connectors.exports import HEADER, HOUSEHOLD_MAPPING, bad_rows, csv_text, household_export
from tests.connectors.helpers import MemoryTarget, SimulatedCrash, sync

N = 40
REPEATS = 5


@pytest.fixture(params=["gb18030"])
def export(request, tmp_path):
    """A GB18030 CSV with a title line, Chinese headers, CRLF, quoted newlines, 3 bad rows in the
    middle and the first rows repeated at the end (a re-export appended to the old one)."""
    rows, records = household_export(N)
    bad = bad_rows()
    body = rows[:20] + [b[0] for b in bad] + rows[20:] + rows[:REPEATS]
    path = tmp_path / "住户信息_2026.csv"
    path.write_bytes(csv_text(HEADER, body, title="宁陕县住户信息表（2026年1月）").encode(request.param))
    return {"path": str(path), "header_row": 2}, records, bad


def household_sync(config, target, **options):
    options.setdefault("mapping", Mapping.from_config(HOUSEHOLD_MAPPING))
    options.setdefault("validator", record_validator("household", 1))
    return sync(get("csv"), config, target, **options)


@pytest.mark.parametrize("export", ["gb18030", "utf-8-sig"], indirect=True)
def test_an_export_lands_valid_rows_and_quarantines_the_bad_ones(export, request):
    config, records, bad = export
    target = MemoryTarget(["household_number"])
    report = household_sync(config, target, batch_size=16)
    assert report.status == "succeeded_with_errors", report.error_message
    # the re-exported rows at the end win; their first occurrences are superseded, never written
    assert report.counts() == {"read": N + 3 + REPEATS, "inserted": N, "updated": 0, "unchanged": 0,
                               "quarantined": 3, "skipped": 0, "superseded": REPEATS, "deleted": 0}
    assert sorted(target.inserted_keys()) == sorted(target.records) and len(target.log) == N
    assert target.records == {r["household_number"]: r for r in records}
    assert [(e["field"], e["keyword"]) for r in target.rejected for e in r.errors] == [(f, k) for _r, f, k in bad]
    first = target.rejected[0]
    assert first.raw["户编号"] == bad[0][0][0]  # the source row, with its Chinese headers
    assert first.record["household_number"] == bad[0][0][0]  # and the mapped record
    assert first.describe().endswith("last_visit_date: '2026-13-01' is not a date")
    # each household spans several physical lines (one per member): row numbers are first lines
    numbers = [r.row_number for r in target.rejected]
    assert numbers == sorted(numbers) and numbers[0] > 20 + 3
    assert [r["row_number"] for r in report.invalid_rows] == numbers
    assert report.batches == 3 and target.methods == ["upsert"] * 3
    encoding = request.node.callspec.params["export"]  # detected, never configured
    assert any(f"reading as {encoding}" in line for line in report.log)
    assert report.error_message.startswith("3 of 43 rows (7.0%) were invalid") and report.error_detail is None
    assert report.top_reasons[0]["rows"] >= 1 and report.finished_at >= report.started_at
    assert set(report.timings) == {"read", "transform", "write", "mirror"}
    json.dumps(report.to_dict(), ensure_ascii=False)


def test_on_invalid_skip_counts_bad_rows_without_keeping_them(export):
    config, _records, _bad = export
    target = MemoryTarget(["household_number"])
    report = household_sync(config, target, on_invalid="skip")
    assert report.succeeded and (report.skipped, report.quarantined, report.inserted) == (3, 0, N)
    assert target.rejected == [] and len(report.invalid_rows) == 3


def test_on_invalid_fail_stops_at_the_first_bad_row_and_keeps_earlier_batches(export):
    config, _records, _bad = export
    target = MemoryTarget(["household_number"])
    report = household_sync(config, target, on_invalid="fail", batch_size=8)
    assert report.status == "failed"
    assert report.error_message.startswith("stopped at the first invalid row (on_invalid=fail): row ")
    assert report.error_message.endswith(": last_visit_date: '2026-13-01' is not a date")
    assert "last_visit_date [date]" in report.error_detail
    # rows 1-16 were committed in two batches (the 5 re-exported at the end superseded, not written);
    # the batch holding the bad row (17-24) was not written
    assert report.counts()["read"] == 16 == report.inserted + report.superseded
    assert report.inserted == 16 - REPEATS == len(target.records)
    assert target.rejected == []


def test_a_missing_file_is_a_failed_report_not_a_traceback(tmp_path):
    target = MemoryTarget(["household_number"])
    report = household_sync({"path": str(tmp_path / "不存在.csv")}, target)
    assert report.status == "failed"
    assert report.error_message == f"file not found: {tmp_path / '不存在.csv'}"
    assert "Traceback" in report.error_detail and report.read == 0 and target.writes == 0


def test_full_refresh_upsert_after_a_crash_loses_nothing_and_duplicates_nothing(export):
    config, records, _bad = export
    target = MemoryTarget(["household_number"], crash_after=2)
    crashed = household_sync(config, target, batch_size=10)
    assert crashed.status == "failed" and crashed.read == 20 == len(target.records) + REPEATS
    assert "SimulatedCrash" in crashed.error_message and "writing batch 3" in crashed.error_message
    assert "simulated crash before committing batch 3" in crashed.error_detail
    target.crash_after = None
    rerun = household_sync(config, target, batch_size=10)
    assert rerun.succeeded
    assert (rerun.inserted, rerun.unchanged, rerun.updated, rerun.superseded) == (N - 20 + REPEATS, 20 - REPEATS,
                                                                                  0, REPEATS)
    assert target.records == {r["household_number"]: r for r in records}
    assert sorted(target.inserted_keys()) == sorted(r["household_number"] for r in records)


# --- mirror ---------------------------------------------------------------------------------


def stale_target(records, extra=3):
    target = MemoryTarget(["household_number"])
    stale = [dict(r, household_number=f"61092310020199{i:04d}") for i, r in enumerate(records[:extra])]
    target.records = {r["household_number"]: r for r in stale}
    return target, {r["household_number"] for r in stale}


def test_mirror_deletes_keys_missing_from_a_complete_read(export):
    config, records, bad = export
    target, stale = stale_target(records)
    # a record whose row is in the export but invalid this time keeps its last good version
    kept = bad[1][0][0]
    target.records[kept] = {"household_number": kept, "previous": True}
    report = household_sync(config, target, write="mirror")
    assert report.succeeded and report.deleted == 3
    assert not stale & set(target.records)
    assert target.records[kept] == {"household_number": kept, "previous": True}
    assert len(target.records) == N + 1


def test_mirror_deletes_nothing_after_a_failed_read(export):
    config, records, _bad = export
    target, stale = stale_target(records)
    report = household_sync(config, target, write="mirror", on_invalid="fail")
    assert report.status == "failed" and report.deleted == 0 and stale <= set(target.records)
    target.crash_after = target.writes + 1
    report = household_sync(config, target, write="mirror", batch_size=10)
    assert report.status == "failed" and report.deleted == 0 and stale <= set(target.records)


def test_mirror_deletes_nothing_when_no_valid_row_was_read(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(csv_text(HEADER, []).encode("gb18030"))
    target = MemoryTarget(["household_number"])
    target.records = {"610923100201010001": {"household_number": "610923100201010001"}}
    report = household_sync({"path": str(path)}, target, write="mirror")
    assert report.succeeded and report.deleted == 0 and len(target.records) == 1
    assert any("nothing is deleted" in line for line in report.log)


def test_mirror_needs_a_full_refresh():
    with pytest.raises(ValueError, match="mirror needs a complete read"):
        run_sync(get("csv"), {"path": "x"}, None, MemoryTarget(["k"]), mode="incremental", write="mirror")


# --- a scripted source: checkpoints, state, retries ---------------------------------------------


class Scripted(Source):
    """Rows {"k": i, "v": ...} for i in 1..n, a checkpoint every ``every`` rows, and transient
    failures injected before given rows (position -> how many times)."""

    name = "scripted"

    def __init__(self, n, every=1, failures=None, start_failures=0):
        self.n, self.every = n, every
        self.failures = dict(failures or {})
        self.start_failures = start_failures
        self.reads: list[dict | None] = []

    def spec(self):
        return {"type": "object"}

    def discover(self, config):
        return [Stream("items", ["k", "v"], ["k"])]

    def read(self, config, stream, state):
        self.reads.append(state)
        if self.start_failures:
            self.start_failures -= 1
            raise TransientSourceError("the server is busy (HTTP 503)")
        position = (state or {}).get("position", 0)
        for i in range(position + 1, self.n + 1):
            if self.failures.get(i):
                self.failures[i] -= 1
                raise TransientSourceError(f"connection reset before row {i}")
            yield Row({"k": str(i), "v": config.get("version", 1)}, i)
            if i % self.every == 0 or i == self.n:
                yield Checkpoint({"position": i})


class StateSpy(MemoryTarget):
    """Checks at every write that the state never claims a row that is not yet committed."""

    def write(self, records, rejected, state, *, method="upsert"):
        counts = super().write(records, rejected, state, method=method)
        if state is not None:
            assert all(str(i) in self.records for i in range(1, state["position"] + 1))
        return counts


def test_each_batch_commits_the_last_checkpoint_its_rows_cover():
    target = StateSpy(["k"])
    report = sync(Scripted(23, every=1), {}, target, batch_size=5)
    assert report.succeeded and report.state == {"position": 23} == target.state()
    assert report.batches == 5 and report.inserted == 23
    # checkpoints every 4 rows, batches of 5: the state lags behind, never ahead
    lagging = StateSpy(["k"])
    states = []
    report = sync(Scripted(23, every=4), {}, lagging, batch_size=5,
                  progress=lambda r: states.append(r.state["position"]))
    assert states == [4, 8, 12, 20, 23]


def test_incremental_resumes_from_the_committed_state_and_full_refresh_ignores_it():
    target = MemoryTarget(["k"], crash_after=2)
    first = sync(Scripted(23), {}, target, mode="incremental", batch_size=5)
    assert first.status == "failed" and target.state() == {"position": 10} and first.read == 10
    target.crash_after = None
    source = Scripted(23)
    second = sync(source, {}, target, mode="incremental", batch_size=5)
    assert source.reads == [{"position": 10}] and second.start_state == {"position": 10}
    assert (second.read, second.inserted, second.unchanged) == (13, 13, 0)
    assert sorted(target.inserted_keys(), key=int) == [str(i) for i in range(1, 24)]
    source = Scripted(23)
    again = sync(source, {}, target, mode="full_refresh", batch_size=5)
    assert source.reads == [None] and again.unchanged == 23


def test_transient_errors_are_retried_with_exponential_backoff_without_duplicates():
    source = Scripted(12, every=3, failures={5: 2, 11: 1}, start_failures=1)
    target = MemoryTarget(["k"])
    sleeps = []
    report = sync(source, {}, target, batch_size=4, sleep=sleeps.append, backoff=0.5)
    assert report.succeeded and report.retries == 4
    assert sleeps == [0.5, 0.5, 1.0, 0.5]  # the count restarts once rows flow again
    assert source.reads == [None, None, {"position": 3}, {"position": 3}, {"position": 9}]
    assert (report.read, report.inserted) == (12, 12)
    assert target.inserted_keys() == [str(i) for i in range(1, 13)]
    assert sum("retry" in line for line in report.log) == 4


def test_a_source_failing_past_the_retries_gives_a_failed_report():
    source = Scripted(5, failures={3: 10})
    target = MemoryTarget(["k"])
    sleeps = []
    report = sync(source, {}, target, retries=3, sleep=sleeps.append, backoff=1, max_backoff=3, batch_size=1)
    assert report.status == "failed"
    assert report.error_message == "connection reset before row 3 (still failing after 3 retries)"
    assert sleeps == [1, 2, 3]
    assert report.read == 2 == len(target.records) and target.state() == {"position": 2}


def test_append_with_a_duplicate_key_is_the_targets_user_facing_error():
    target = MemoryTarget(["k"])
    target.records = {"3": {"k": "3"}}
    report = sync(Scripted(5), {}, target, write="append", batch_size=2)
    assert report.status == "failed" and report.error_message == "row 3: a record with key 3 already exists"
    assert target.methods == ["append"] and report.read == 2


class Broken(Scripted):
    def read(self, config, stream, state):
        yield Row({"k": "1"}, 1)
        raise KeyError("internal detail")


class Miscounting(MemoryTarget):
    def write(self, records, rejected, state, *, method="upsert"):
        super().write(records, rejected, state, method=method)
        return WriteCounts(inserted=0)


def test_unexpected_errors_are_reported_without_internals_and_with_the_traceback():
    report = sync(Broken(1), {}, MemoryTarget(["k"]))
    assert report.status == "failed"
    assert report.error_message == ("the sync stopped on an unexpected error (KeyError) while reading the "
                                    "source; the error detail has the traceback")
    assert "internal detail" in report.error_detail and report.read == 0
    report = sync(Scripted(3), {}, Miscounting(["k"]))
    assert report.status == "failed" and "the target reported" in report.error_detail


def test_progress_is_called_after_every_committed_batch_and_the_stream_is_discovered():
    seen = []
    report = sync(Scripted(7), {}, MemoryTarget(["k"]), batch_size=3,
                  progress=lambda r: seen.append((r.batches, r.read)))
    assert seen == [(1, 3), (2, 6), (3, 7)] and report.stream == "items"


def test_invalid_options_are_programming_errors():
    for options in ({"mode": "sometimes"}, {"write": "merge"}, {"on_invalid": "ignore"}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            run_sync(Scripted(1), {}, None, MemoryTarget(["k"]), **options)


def test_a_source_config_error_is_a_failed_report():
    class Strict(Scripted):
        def spec(self):
            return {"type": "object", "required": ["path"]}

    report = sync(Strict(1), {}, MemoryTarget(["k"]))
    assert report.error_message == "invalid scripted source configuration: 'path' is a required property"


def test_the_source_is_closed_when_the_run_stops(export):
    closed = []

    class Tracked(Scripted):
        def read(self, config, stream, state):
            try:
                yield from super().read(config, stream, state)
            finally:
                closed.append(True)

    target = MemoryTarget(["k"], crash_after=0)
    report = sync(Tracked(10), {}, target, batch_size=2)
    assert report.status == "failed" and closed == [True]
    assert isinstance(SimulatedCrash("x"), RuntimeError) and isinstance(SourceError("x"), Exception)


def test_a_mapping_given_as_configuration_is_compiled_and_a_bad_one_fails_the_run():
    target = MemoryTarget(["k"])
    report = sync(Scripted(2), {}, target, mapping={"integers": ["v"], "constants": {"source": "scripted"}})
    assert report.succeeded and target.records["1"] == {"k": "1", "v": 1, "source": "scripted"}
    report = sync(Scripted(2), {}, target, mapping={"dates": "v"})
    assert report.status == "failed" and report.error_message == "invalid mapping: dates: 'v' is not of type 'array'"


class Feed(Source):
    """A change feed: ("put", id, value) and ("del", id) events with source field names, a
    checkpoint after each."""

    name = "feed"

    def __init__(self, events):
        self.events = events

    def spec(self):
        return {"type": "object"}

    def discover(self, config):
        return [Stream("feed", ["编号", "值"], ["编号"])]

    def read(self, config, stream, state):
        start = (state or {}).get("position", 0)
        for position, event in enumerate(self.events[start:], start=start + 1):
            if event[0] == "put":
                yield Row({"编号": event[1], "值": event[2]}, position)
            else:
                yield Deletion({"编号": event[1]}, position)
            yield Checkpoint({"position": position})


def test_deletions_are_mapped_applied_in_the_feeds_order_and_counted_apart_from_reads():
    events = [("put", "a", 1), ("put", "b", 1), ("put", "c", 1), ("del", "b"), ("del", "a"),
              ("put", "a", 2), ("del", "zz"), ("put", "d", 1), ("del", "d")]
    target = MemoryTarget(["k"])
    report = sync(Feed(events), {}, target, mapping={"rename": {"编号": "k", "值": "v"}}, batch_size=100,
                  mode="incremental")
    assert report.succeeded, report.error_message
    assert target.records == {"a": {"k": "a", "v": 2}, "c": {"k": "c", "v": 1}}
    # 5 rows read; "a" written twice; 3 stored records deleted ("zz" was never stored)
    assert (report.read, report.inserted, report.deleted) == (5, 5, 3)
    # a row after a deletion starts a new batch, so a deleted-then-rewritten key survives
    assert report.batches == 3 and report.state == {"position": 9}
    again = sync(Feed(events), {}, target, mapping={"rename": {"编号": "k", "值": "v"}}, mode="incremental")
    assert (again.read, again.deleted, again.batches) == (0, 0, 0)
