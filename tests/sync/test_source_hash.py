"""A rerun skips the rows it already wrote (issue 18): each record a sync writes keeps the digest of the
source row it was made from (with the mapping's and the schema's fingerprints), and the next run counts
a row with the same digest unchanged without mapping or validating it.

What a user sees: an unchanged rerun still accounts for every row (all ``unchanged``) and writes
nothing, and its log says the rows were not mapped again; a changed row, a changed mapping or a changed
schema maps the rows again; a record someone rewrote through the API since the last sync is rewritten
from the source by the next one (the API's write invalidates the digest). On SQLite and PostgreSQL.
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from tests.connectors.exports import HOUSEHOLD_MAPPING, household_row
from tests.sync.helpers import KINDS, catalog_fixture, expected_counts_balance, household_csv, household_records

ROWS = 1200  # more than one batch (batch_size 500 below)


@pytest.fixture(scope="module", params=KINDS)
def catalog(request, tmp_path_factory):
    yield from catalog_fixture(request, tmp_path_factory)


def csv_job(catalog, name: str, source, **overrides) -> dict:
    return {"name": name, "dataset": catalog.dataset(f"{name}-households"),
            "source": {"type": "csv", "config": {"connection": catalog.folder_connection(source.parent),
                                                 "path": source.name}},
            "mapping": HOUSEHOLD_MAPPING, "mode": "full_refresh", "write": "upsert", "batch_size": 500,
            **overrides}


def not_mapped(run) -> int:
    """How many rows the run's log says it counted unchanged without mapping them (0 when it says nothing)."""
    for line in run.log or []:
        found = re.search(r"(\d+) rows were the same source rows as their stored records'", line)
        if found:
            return int(found.group(1))
    return 0


def outcome(run) -> tuple[int, int, int, int]:
    counts = run.counts
    assert expected_counts_balance(counts), counts
    return counts["read"], counts["inserted"], counts["updated"], counts["unchanged"]


def first_sync(catalog, name: str, **overrides):
    source = catalog.sources / f"{name}.csv"
    expected = household_csv(source, ROWS, seed=61)
    job = catalog.create_job(csv_job(catalog, name, source, **overrides))
    run = catalog.run(name)
    assert run.status == "succeeded", run.error_message
    assert outcome(run) == (ROWS, ROWS, 0, 0) and not_mapped(run) == 0
    return source, expected, job


def api_upsert(catalog, resource_id: str, records: list[dict]) -> dict:
    """Records written through the DataStore's upsert as the catalog's administrator (what the API does)."""
    from catalog.auth.models import User
    from catalog.datastore import service

    with catalog.database.session() as session:
        admin = session.scalar(sa.select(User).where(User.name == "admin"))
        result = service.upsert_records(session, admin, service.get_table(session, resource_id), records)
        session.commit()
    return result


def test_an_unchanged_rerun_maps_no_row_writes_nothing_and_accounts_for_every_row(catalog):
    _source, expected, job = first_sync(catalog, "same-again")
    resource = job["resource_id"]
    _feed, cursor = catalog.feed(resource)
    seq = catalog.last_seq(resource)

    again = catalog.run("same-again")
    assert again.status == "succeeded", again.error_message
    assert outcome(again) == (ROWS, 0, 0, ROWS)
    assert not_mapped(again) == ROWS
    assert catalog.feed(resource, cursor)[0] == [] and catalog.last_seq(resource) == seq
    assert catalog.records(resource) == expected


def test_every_record_a_sync_wrote_is_unchanged_to_the_api_writing_it_again(catalog):
    # from the second batch on, a transform worker makes each record's canonical JSON and content hash:
    # they must be the ones the API makes, or writing back the same records would change them
    _source, expected, job = first_sync(catalog, "api-same")
    resource = job["resource_id"]
    _feed, cursor = catalog.feed(resource)
    seq = catalog.last_seq(resource)

    result = api_upsert(catalog, resource, list(expected.values()))
    assert (result["inserted"], result["updated"], result["unchanged"]) == (0, 0, ROWS)
    assert catalog.feed(resource, cursor)[0] == [] and catalog.last_seq(resource) == seq


def test_a_changed_row_is_mapped_and_written_the_others_are_skipped(catalog):
    source, expected, job = first_sync(catalog, "one-changed")
    resource = job["resource_id"]
    _feed, cursor = catalog.feed(resource)

    # a member's phone number deep in the members cell of one household changes in the export
    text = source.read_bytes().decode("gb18030")
    changed = expected[sorted(expected)[700]]
    old_phone = changed["members"][-1]["phone"]
    assert text.count(old_phone) == 1
    source.write_bytes(text.replace(old_phone, "13999999999").encode("gb18030"))

    again = catalog.run("one-changed")
    assert outcome(again) == (ROWS, 0, 1, ROWS - 1)
    assert not_mapped(again) == ROWS - 1
    feed, _cursor = catalog.feed(resource, cursor)
    assert [change["household_number"] for change in feed] == [changed["household_number"]]
    assert catalog.records(resource)[changed["household_number"]]["members"][-1]["phone"] == "13999999999"


def test_a_changed_mapping_maps_every_row_again_and_the_next_run_skips_them(catalog):
    _source, expected, job = first_sync(catalog, "new-mapping")
    resource = job["resource_id"]
    _feed, cursor = catalog.feed(resource)

    # the same records, made by a mapping written differently (trim stated, as it is by default)
    catalog.update_job("new-mapping", {"mapping": {**HOUSEHOLD_MAPPING, "trim": True}})
    remapped = catalog.run("new-mapping")
    assert outcome(remapped) == (ROWS, 0, 0, ROWS)
    assert not_mapped(remapped) == 0
    assert catalog.feed(resource, cursor)[0] == []

    # a mapping that changes what the rows become: every record updated
    catalog.update_job("new-mapping", {"mapping": {**HOUSEHOLD_MAPPING, "t2s": []}})
    changed = catalog.run("new-mapping")
    traditional = sum(record["town"] != catalog.records(resource)[key]["town"] for key, record in expected.items())
    assert traditional > 0
    assert outcome(changed) == (ROWS, 0, traditional, ROWS - traditional) and not_mapped(changed) == 0

    # and the run after a mapping change skips every row again
    after = catalog.run("new-mapping")
    assert outcome(after) == (ROWS, 0, 0, ROWS) and not_mapped(after) == ROWS


def test_a_changed_schema_maps_every_row_again(catalog):
    from catalog.datastore.models import DatastoreTable

    _source, _expected, job = first_sync(catalog, "new-schema")
    resource = job["resource_id"]
    with catalog.database.session() as session:  # the table redefined with another document
        table = session.get(DatastoreTable, resource)
        table.schema_document = {**table.schema_document, "description": "住户信息（修订）"}
        session.commit()

    again = catalog.run("new-schema")
    assert outcome(again) == (ROWS, 0, 0, ROWS) and not_mapped(again) == 0
    assert not_mapped(catalog.run("new-schema")) == ROWS


def test_a_record_rewritten_through_the_api_is_rewritten_by_the_next_sync(catalog):
    _source, expected, job = first_sync(catalog, "api-edit")
    resource = job["resource_id"]
    edited_key, deleted_key = sorted(expected)[10], sorted(expected)[900]

    edited = {**expected[edited_key], "village": "改过的村"}
    assert api_upsert(catalog, resource, [edited])["updated"] == 1
    from catalog.datastore import service
    from catalog.datastore.models import Record

    with catalog.database.session() as session:
        table = service.get_table(session, resource)
        assert service.delete_records(session, None, table, [Record.key == deleted_key], check_auth=False) == 1
        session.commit()
    _feed, cursor = catalog.feed(resource)

    again = catalog.run("api-edit")
    assert outcome(again) == (ROWS, 1, 1, ROWS - 2)
    assert not_mapped(again) == ROWS - 2
    assert catalog.records(resource) == expected  # the source's version of both, again
    feed, _cursor = catalog.feed(resource, cursor)
    assert sorted(change["household_number"] for change in feed) == sorted([edited_key, deleted_key])

    # an API write that leaves the record as the sync made it changes nothing: still skipped
    assert api_upsert(catalog, resource, [expected[edited_key]])["unchanged"] == 1
    assert not_mapped(catalog.run("api-edit")) == ROWS


def test_a_row_repeated_later_in_the_export_is_still_superseded_not_skipped(catalog):
    source, expected, job = first_sync(catalog, "repeated")
    resource = job["resource_id"]
    # the export appends a re-exported copy of its second row (the last occurrence wins, as before)
    second = household_records(ROWS, 61)[1]
    household_csv(source, ROWS, seed=61, bad=[household_row(second, 1)])

    again = catalog.run("repeated")
    counts = again.counts
    assert (counts["read"], counts["superseded"], counts["inserted"], counts["updated"]) == (ROWS + 1, 1, 0, 0)
    assert counts["unchanged"] == ROWS
    assert catalog.records(resource) == expected


@pytest.mark.parametrize("workers", ["0", "1"])
def test_a_rerun_finds_the_same_changes_whether_a_worker_or_the_run_keys_its_rows(catalog, monkeypatch, workers):
    # with a transform worker, a rerun's row keys and digests are made there and looked up in a thread
    # while the next batches are read (from the second batch on); without one, in the run's process, a
    # batch at a time: the outcome must be the same (12 batches of 100, so batches wait in line)
    monkeypatch.setenv("CATALOG_SYNC_TRANSFORM_WORKERS", workers)
    name = f"keyed-by-{workers}"
    source, expected, job = first_sync(catalog, name, batch_size=100)
    resource = job["resource_id"]
    keys = [record["household_number"] for record in household_records(ROWS, 61)]  # in the export's order

    def with_phone(start: int) -> str:
        return next(key for key in keys[start:] if expected[key]["members"][-1].get("phone"))

    first_batch, third_batch, rewritten = with_phone(100), with_phone(1100), keys[600]

    # two households' phones change in the export (second and last batch); one record is rewritten
    # through the API (seventh batch)
    text = source.read_bytes().decode("gb18030")
    for key in (first_batch, third_batch):
        phone = expected[key]["members"][-1]["phone"]
        assert text.count(phone) == 1
        text = text.replace(phone, "13900000000")
        expected[key]["members"][-1]["phone"] = "13900000000"
    source.write_bytes(text.encode("gb18030"))
    assert api_upsert(catalog, resource, [{**expected[rewritten], "village": "改过的村"}])["updated"] == 1
    _feed, cursor = catalog.feed(resource)

    again = catalog.run(name)
    assert again.status == "succeeded", again.error_message
    assert outcome(again) == (ROWS, 0, 3, ROWS - 3) and not_mapped(again) == ROWS - 3
    feed, _cursor = catalog.feed(resource, cursor)
    assert sorted(change["household_number"] for change in feed) == sorted([first_batch, third_batch, rewritten])
    assert catalog.records(resource) == expected  # the export's version of all three

    after = catalog.run(name)  # and nothing left to write
    assert outcome(after) == (ROWS, 0, 0, ROWS) and not_mapped(after) == ROWS
