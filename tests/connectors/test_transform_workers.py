"""Batches mapped and validated in worker processes (issue 18) end exactly as when the run's own process
maps them: the same records written in the same order, the same rows quarantined with the same errors,
the same counts, and each batch committed with the state of its own last row, one batch at a time."""
from __future__ import annotations

import pytest

from connectors import Checkpoint, Row, Source, Stream
from connectors.sources import get
from schemas import record_validator
from tests.connectors.exports import HEADER, HOUSEHOLD_MAPPING, bad_rows, csv_text, household_export
from tests.connectors.helpers import MemoryTarget, SimulatedCrash, sync


def export(tmp_path) -> tuple[dict, str]:
    """A household export of 60 rows with three broken rows among them and two households re-exported
    (newer rows appended at the end): invalid rows and keys repeated across batches of 7."""
    rows, records = household_export(60, seed=5)
    broken = [row for row, _field, _keyword in bad_rows()]
    rows = rows[:10] + broken[:1] + rows[10:30] + broken[1:] + rows[30:]
    again = [list(rows[3]), list(rows[40])]
    again[0][HEADER.index("村")] = "新村"
    path = tmp_path / "households.csv"
    path.write_bytes(csv_text(HEADER, rows + again).encode("gb18030"))
    return {"path": str(path)}, again[0][HEADER.index("户编号")]


def run(config: dict, workers: int, **options):
    target = MemoryTarget(["household_number"], **options.pop("target", {}))
    report = sync(get("csv"), config, target, mapping=HOUSEHOLD_MAPPING,
                  validator=record_validator("household", 1), batch_size=7, workers=workers, **options)
    return report, target


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_write_what_the_run_itself_writes(tmp_path, workers):
    config, moved = export(tmp_path)
    alone, by_itself = run(config, 0)
    helped, by_workers = run(config, workers)
    assert alone.status == helped.status == "succeeded_with_errors"
    assert helped.counts() == alone.counts() == {"read": 65, "inserted": 60, "updated": 0, "unchanged": 0,
                                                 "quarantined": 3, "skipped": 0, "superseded": 2, "deleted": 0}
    assert by_workers.log == by_itself.log  # the same writes in the same order
    assert by_workers.records == by_itself.records
    assert by_workers.records[moved]["village"] == "新村"  # the re-exported row, the last occurrence
    assert [(r.row_number, r.errors) for r in by_workers.rejected] == \
        [(r.row_number, r.errors) for r in by_itself.rejected]
    assert helped.invalid_rows == alone.invalid_rows and helped.top_reasons == alone.top_reasons


def test_on_invalid_fail_stops_at_the_same_batch_with_workers(tmp_path):
    config, _moved = export(tmp_path)
    alone, by_itself = run(config, 0, on_invalid="fail")
    helped, by_workers = run(config, 2, on_invalid="fail")
    assert alone.status == helped.status == "failed"
    assert helped.error_message == alone.error_message and "'2026-13-01' is not a date" in helped.error_message
    # the batch holding the bad row and every later one were not written, even if already mapped
    assert by_workers.log == by_itself.log and by_workers.writes == by_itself.writes == 1


class Register(Source):
    """A source read once (a register queried by update time) that says its position after every row."""

    name = "register"

    def __init__(self, rows: list[list]):
        self.rows = rows

    def spec(self):
        return {"type": "object"}

    def discover(self, config):
        return [Stream("households")]

    def read(self, config, stream, state):
        start = (state or {}).get("after", 0)
        for index, row in enumerate(self.rows[start:], start + 1):
            yield Row(dict(zip(HEADER, row)), index)
            yield Checkpoint({"after": index})


def test_each_batch_commits_with_its_own_state_and_a_crash_keeps_only_whole_batches(tmp_path):
    rows, _records = household_export(40, seed=8)
    target = MemoryTarget(["household_number"], crash_after=3)
    options = dict(mapping=HOUSEHOLD_MAPPING, validator=record_validator("household", 1), batch_size=5,
                   mode="incremental", workers=2)
    crashed = sync(Register(rows), {}, target, **options)
    assert crashed.status == "failed" and "(SimulatedCrash) while writing batch 4" in crashed.error_message
    # three whole batches, each with the state after its last row; nothing of the fourth
    assert target.committed_state == {"after": 15} and len(target.records) == 15
    assert crashed.read == 15 and crashed.state == {"after": 15}

    target.crash_after = None
    resumed = sync(Register(rows), {}, target, **options)
    assert resumed.status == "succeeded" and resumed.read == 25
    assert target.inserted_keys() == [row[HEADER.index("户编号")] for row in rows]  # none lost, none twice
    assert target.committed_state == {"after": 40}
