"""The columnar transform (issue 18) ends exactly as the per-row one: the same file run both ways gives
the same records, the same canonical JSON and content hashes, the same rows quarantined with the same
reasons, the same counts. Rows it cannot vouch for (every bad row, and good rows with oddities it does
not express) go the per-row way; the plain ones it makes itself.

polars must not run in a process that later forks the transform workers (its thread pool does not
survive a fork): the plan runs here only in forked processes, as in a sync.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing

import pytest

from catalog.datastore.hashing import encode_record
from connectors.columnar import ColumnarPlan
from connectors.engine import transform_rows
from connectors.mapping import Mapping
from connectors.sources import get
from schemas import record_validator
from tests.connectors.exports import HEADER, HOUSEHOLD_MAPPING, csv_text, household_export
from tests.connectors.helpers import MemoryTarget, sync
from tests.connectors.odd_rows import odd_rows


class CanonicalTarget(MemoryTarget):
    """The DataStore's contract in memory, with its prepare (canonical JSON, content hash): what each
    write was handed, per key."""

    prepare = staticmethod(encode_record)
    prepare_is_canonical = True

    def __init__(self, primary_key):
        super().__init__(primary_key)
        self.prepared: dict[str, tuple[str, str]] = {}

    def write(self, records, rejected, state, *, method="upsert", deletions=(), prepared=None):
        counts = super().write(records, rejected, state, method=method, deletions=deletions)
        for (_row, record), made in zip(records, prepared):
            self.prepared[self.key_of(record)] = made
        return counts


def export_rows() -> tuple[list[list[str]], list[tuple[str, bool]]]:
    """Plain rows, the odd rows spread among them, and a household re-exported with a newer village."""
    rows, _records = household_export(120, seed=31)
    odd = odd_rows()
    mixed: list[list[str]] = []
    for index, row in enumerate(rows):
        mixed.append(row)
        if index % 3 == 0 and odd:
            mixed.append(odd.pop(0)[1])
    mixed += [row for _what, row, _valid in odd]
    again = list(rows[50])
    again[HEADER.index("村")] = "新村"
    return mixed + [again], [(what, valid) for what, _row, valid in odd_rows()]


def _in_fork(function, *args):
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork")) as pool:
        return pool.submit(function, *args).result(timeout=300)


def _both_ways(datas):
    mapping = Mapping.from_config(HOUSEHOLD_MAPPING)
    validator = record_validator("household", 1)
    plan = ColumnarPlan.compile(mapping, validator.schema)
    assert plan is not None
    per_row = transform_rows(mapping, validator, datas, prepare=encode_record, prefix=b"p")
    columnar = transform_rows(mapping, validator, datas, prepare=encode_record, prefix=b"p", columnar=plan)
    return per_row, columnar, [made is not None for made in plan.run(datas)]


def test_each_row_maps_validates_and_encodes_as_the_per_row_path_does():
    rows, _odd = export_rows()
    datas = [dict(zip(HEADER, row)) for row in rows]
    per_row, columnar, vouched = _in_fork(_both_ways, datas)
    assert columnar == per_row  # records, errors in order, canonical JSON, content hash, source digest
    # the plan made most rows itself, and none of the invalid ones
    invalid = [index for index, result in enumerate(per_row) if result[1]]
    assert len(invalid) == sum(1 for _what, _row, valid in odd_rows() if not valid)
    assert not any(vouched[index] for index in invalid)
    assert sum(vouched) >= len(rows) - 40


def test_odd_rows_are_judged_as_a_county_officer_expects():
    # what household@1 says of each odd row, whichever path made it
    odd = odd_rows()
    datas = [dict(zip(HEADER, row)) for _what, row, _valid in odd]
    per_row, columnar, _vouched = _in_fork(_both_ways, datas)
    assert columnar == per_row
    verdicts = {what: not result[1] for (what, _row, _valid), result in zip(odd, columnar)}
    assert verdicts == {what: valid for what, _row, valid in odd}


@pytest.mark.parametrize("workers", [1, 2])
def test_a_run_with_columnar_workers_writes_what_the_per_row_run_writes(tmp_path, monkeypatch, workers):
    rows, _odd = export_rows()
    path = tmp_path / "households.csv"
    path.write_bytes(csv_text(HEADER, rows).encode("gb18030"))

    def run(columnar: str, count: int):
        monkeypatch.setenv("CATALOG_SYNC_COLUMNAR", columnar)
        target = CanonicalTarget(["household_number"])
        report = sync(get("csv"), {"path": str(path)}, target, mapping=HOUSEHOLD_MAPPING,
                      validator=record_validator("household", 1), batch_size=16, workers=count)
        return report, target

    alone, by_itself = run("0", 0)
    helped, by_workers = run("1", workers)
    assert alone.status == helped.status == "succeeded_with_errors"
    assert any("column by column" in line for line in helped.log)  # the workers had the plan
    assert not any("column by column" in line for line in alone.log)
    assert helped.counts() == alone.counts()
    assert alone.counts()["quarantined"] == sum(1 for _what, _row, valid in odd_rows() if not valid)
    assert alone.counts()["superseded"] == 1
    assert by_workers.log == by_itself.log  # the same writes in the same order
    assert by_workers.records == by_itself.records
    assert by_workers.prepared == by_itself.prepared  # canonical JSON and content hash, key by key
    assert [(r.row_number, r.raw, r.errors) for r in by_workers.rejected] == \
        [(r.row_number, r.raw, r.errors) for r in by_itself.rejected]
    assert helped.invalid_rows == alone.invalid_rows and helped.top_reasons == alone.top_reasons


def test_mappings_and_schemas_the_plan_cannot_express_keep_the_per_row_path():
    validator = record_validator("household", 1)
    assert ColumnarPlan.compile(Mapping.from_config(HOUSEHOLD_MAPPING), validator.schema) is not None
    for change in ({"constants": {"village": "东河村"}}, {"computed": {"village": "{{ 村 }}"}},
                   {"rename": {**HOUSEHOLD_MAPPING["rename"], "村": "place.village"}},
                   {"defaults": {"grid_worker": "无"}}, {"unmapped": "keep"}):
        assert ColumnarPlan.compile(Mapping.from_config({**HOUSEHOLD_MAPPING, **change}), validator.schema) is None
    assert ColumnarPlan.compile(Mapping.from_config(HOUSEHOLD_MAPPING), {"type": "object"}) is None
    assert ColumnarPlan.compile(None, validator.schema) is None
