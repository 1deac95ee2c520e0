"""A sync whose transform workers map column by column (issue 18) stores what a sync mapping row by row
stores: the same records with the same content hashes, the same rows quarantined with the same reasons,
the same counts. And switching between the two changes nothing for the next run: an export saved again
with every address padded (so every row must be mapped again) is counted unchanged row for row, with
nothing in the change feed. On SQLite and PostgreSQL.
"""
from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from tests.connectors.exports import HEADER, HOUSEHOLD_MAPPING, csv_text, household_export
from tests.connectors.odd_rows import odd_rows
from tests.sync.helpers import KINDS, catalog_fixture, expected_counts_balance

BAD = sum(1 for _what, _row, valid in odd_rows() if not valid)


@pytest.fixture(scope="module", params=KINDS)
def catalog(request, tmp_path_factory):
    yield from catalog_fixture(request, tmp_path_factory)


def write_export(path) -> int:
    """360 plain households with the odd rows among them; how many rows."""
    rows, _records = household_export(360, seed=77)
    odd = [row for _what, row, _valid in odd_rows(seed=909)]
    mixed = []
    for index, row in enumerate(rows):
        mixed.append(row)
        if index % 9 == 0 and odd:
            mixed.append(odd.pop(0))
    mixed += odd
    path.write_bytes(csv_text(HEADER, mixed).encode("gb18030"))
    return len(mixed)


def pad_addresses(path) -> None:
    """The same export saved again with a space after every address: each row's digest changes, its record not."""
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"), newline="")))
    column = rows[0].index("家庭住址")
    for row in rows[1:]:
        row[column] += " "
    path.write_bytes(csv_text(rows[0], rows[1:]).encode("gb18030"))


def stored(catalog, resource_id: str) -> dict[str, tuple]:
    with catalog.engine.connect() as conn:
        return {key: (data if isinstance(data, dict) else json.loads(data), content_hash)
                for key, data, content_hash in conn.execute(sa.text(
                    "SELECT key, data, content_hash FROM datastore_record WHERE resource_id = :r AND NOT deleted"),
                    {"r": resource_id})}


def quarantine(catalog, resource_id: str) -> list[tuple]:
    with catalog.engine.connect() as conn:
        return sorted((row_number, str(raw), str(errors)) for row_number, raw, errors in conn.execute(sa.text(
            "SELECT row_number, raw, errors FROM quarantine WHERE resource_id = :r"), {"r": resource_id}))


def sync(catalog, monkeypatch, name: str, columnar: str):
    monkeypatch.setenv("CATALOG_SYNC_COLUMNAR", columnar)
    monkeypatch.setenv("CATALOG_SYNC_TRANSFORM_WORKERS", "1")
    run = catalog.run(name)
    assert run.status == "succeeded_with_errors", run.error_message
    assert expected_counts_balance(run.counts), run.counts
    return run


def job(catalog, name: str, source) -> dict:
    return catalog.create_job({
        "name": name, "dataset": catalog.dataset(f"{name}-households"),
        "source": {"type": "csv", "config": {"connection": catalog.folder_connection(source.parent),
                                             "path": source.name}},
        "mapping": HOUSEHOLD_MAPPING, "mode": "full_refresh", "write": "upsert", "batch_size": 40})


@pytest.mark.parametrize("first, then", [("1", "0"), ("0", "1")])
def test_both_transforms_store_the_same_and_a_switch_finds_every_row_unchanged(catalog, monkeypatch, first, then):
    one, other = f"columnar-{first}-a", f"columnar-{first}-b"
    source_one, source_other = catalog.sources / f"{one}.csv", catalog.sources / f"{other}.csv"
    rows = write_export(source_one)
    write_export(source_other)
    job_one, job_other = job(catalog, one, source_one), job(catalog, other, source_other)

    run_one = sync(catalog, monkeypatch, one, first)
    run_other = sync(catalog, monkeypatch, other, then)
    assert run_one.counts == run_other.counts
    assert (run_one.counts["read"], run_one.counts["inserted"], run_one.counts["quarantined"]) == \
        (rows, rows - BAD, BAD)
    assert stored(catalog, job_one["resource_id"]) == stored(catalog, job_other["resource_id"])
    assert quarantine(catalog, job_one["resource_id"]) == quarantine(catalog, job_other["resource_id"])

    # the other transform over the same records, every row mapped again: nothing changed
    pad_addresses(source_one)
    seq = catalog.last_seq(job_one["resource_id"])
    again = sync(catalog, monkeypatch, one, then)
    counts = again.counts
    assert (counts["read"], counts["inserted"], counts["updated"], counts["unchanged"]) == (rows, 0, 0, rows - BAD)
    assert catalog.last_seq(job_one["resource_id"]) == seq  # no change-feed entry
    assert stored(catalog, job_one["resource_id"]) == stored(catalog, job_other["resource_id"])
