"""The example job files of docs/examples: each parses as `catalog sync add` reads it, passes the job
validation, maps onto fields its record schema has, and the file- and database-based ones run
end to end against the demo's department systems."""
from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from catalog.auth.models import User
from catalog.cli import definition_values, load_job_file
from catalog.db import get_db
from catalog.demo_systems import petition_csv, police_register
from catalog.sync import service as sync_service
from schemas.registry import load_schema
from tests.sync.county_exports import household_export, petition_export
from tests.sync.helpers import connection, folder_connection

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
#: example file → the record schema its dataset is bound to (None: a table of the peer's fields)
SCHEMAS = {"household-police-register.yml": "household", "service-cases-api.yml": "service",
           "household-county-export.yml": "household",
           "petition-office-csv.yml": "petition", "petition-cases-from-peer.yml": None}
MAPPING_PATH_KEYS = ("dates", "datetimes", "integers", "numbers", "booleans", "strings", "t2s")


def test_every_example_is_listed():
    assert sorted(p.name for p in EXAMPLES.glob("*.yml")) == sorted(SCHEMAS)


def place(example: str, folder: Path) -> Path:
    """The example copied into ``folder``."""
    copy = folder / example
    shutil.copy(EXAMPLES / example, copy)
    return copy


def job_values(path: Path) -> tuple[str, str | None, dict]:
    """What `catalog sync add` hands to create_job, with create_job's defaults applied."""
    dataset, resource, values = definition_values(load_job_file(str(path)))
    defaults = {"mode": "full_refresh", "write": "upsert", "on_invalid": "quarantine", "batch_size": 1000,
                "enabled": True, "mapping": {}, "source_config": {}}
    return dataset, resource, {**defaults, **{k: v for k, v in values.items() if v is not None}}


def schema_paths(schema: dict, prefix: str = "") -> set[str]:
    """Every dotted field path of a record schema (``*`` for list items)."""
    paths: set[str] = set()
    for name, prop in (schema.get("properties") or {}).items():
        path = f"{prefix}{name}"
        paths.add(path)
        if prop.get("type") == "object":
            paths |= schema_paths(prop, path + ".")
        if prop.get("type") == "array" and isinstance(prop.get("items"), dict):
            paths |= schema_paths(prop["items"], path + ".*.")
    return paths


@pytest.mark.parametrize("example", sorted(SCHEMAS))
def test_the_example_parses_and_passes_the_job_validation(example, tmp_path):
    dataset, _resource, values = job_values(place(example, tmp_path))
    assert dataset and values["name"] and values["source"]
    sync_service._validate(values)  # source, mapping, mode/write, schedule
    assert values["source_config"]["connection"]  # every example reads through a connection
    schema_name = SCHEMAS[example]
    if schema_name is None:
        return
    fields = schema_paths(load_schema("records", schema_name, 1))
    mapping = values["mapping"]
    named = set(mapping.get("rename", {}).values()) | set(mapping.get("constants", {})) | \
        set(mapping.get("value_maps", {})) | set(mapping.get("split", {})) | set(mapping.get("computed", {})) | \
        set(mapping.get("defaults", {}))
    named = {re.sub(r"\[\d+\]", ".*", path) for path in named}  # members[0].name is an item of members
    for key in MAPPING_PATH_KEYS:
        named |= set(mapping.get(key, []))
    for path, rule in mapping.get("split", {}).items():
        named |= {f"{path}.*.{name}" for name in rule["fields"]}
    assert named and not named - fields, f"not fields of {schema_name}@1: {sorted(named - fields)}"


def test_the_examples_cover_every_job_key_and_every_mapping_key():
    from connectors.mapping import MAPPING_SCHEMA

    keys, mapping_keys = set(), set()
    for path in EXAMPLES.glob("*.yml"):
        definition = load_job_file(str(path))
        keys |= set(definition) | {f"source.{k}" for k in definition["source"]}
        mapping_keys |= set(definition.get("mapping") or {})
    assert {"name", "title", "dataset", "source", "mapping", "mode", "write", "on_invalid", "schedule",
            "batch_size", "enabled", "source.type", "source.config", "source.stream"} <= keys
    # "numbers" has no field to show it on: household, service and petition hold no decimal numbers
    assert set(MAPPING_SCHEMA["properties"]) - {"numbers"} <= mapping_keys


def create_from_example(app, path: Path) -> str:
    """`catalog sync add` on the test app (as a sysadmin); returns the job's name."""
    dataset, resource, values = definition_values(load_job_file(str(path)))
    with get_db(app).session() as session:
        actor = session.scalar(sa.select(User).where(User.sysadmin.is_(True)).limit(1))
        job = sync_service.create_job(session, actor, package_id=dataset, resource_id=resource, values=values)
        session.commit()
        return job.name


def test_the_police_register_example_runs_against_the_demo_register(api, app, make, sysadmin, tmp_path):
    police = make.department("ningshan-gaj")
    make.dataset(police["id"], name="household-register", record_schema="household@1")
    register = tmp_path / "police-register.db"
    police_register(register, n=30)
    connection(api, sysadmin.token, "police-register", "database", {"url": f"sqlite:///{register}"}, [police["id"]])
    name = create_from_example(app, EXAMPLES / "household-police-register.yml")
    run = sync_service.run_job(get_db(app), name)
    assert run.status == "succeeded", run.error_message
    assert (run.counts["read"], run.counts["inserted"], run.counts["quarantined"]) == (30, 30, 0)
    again = sync_service.run_job(get_db(app), name)
    assert again.status == "succeeded" and again.counts["read"] == 0  # incremental: nothing changed


def run_twice(app, name: str):
    first = sync_service.run_job(get_db(app), name)
    second = sync_service.run_job(get_db(app), name)
    return first, second


def stored(api, token: str, dataset: str) -> tuple[list[dict], str]:
    resource_id = api.call("package_show", {"id": dataset}, token=token).result["resources"][0]["id"]
    records = api.call("datastore_search", {"resource_id": resource_id, "limit": 10000}, token=token).result["records"]
    return records, resource_id


def accounted(run, facts) -> None:
    counts = run.counts
    assert counts["read"] == facts.rows == sum(counts[k] for k in (
        "inserted", "updated", "unchanged", "quarantined", "skipped", "superseded"))
    assert counts["superseded"] == len(facts.reexported) and counts["quarantined"] == len(facts.bad)


def test_the_county_household_example_runs_on_a_county_export(api, app, make, sysadmin, tmp_path):
    county = make.department("ningshan-county")
    make.dataset(county["id"], name="household-register", record_schema="household@1")
    folder = tmp_path / "exports"
    folder.mkdir()
    facts = household_export(folder / "households-gb18030.csv", n=1000)
    folder_connection(api, sysadmin.token, "county-exports", folder, [county["id"]])
    name = create_from_example(app, EXAMPLES / "household-county-export.yml")
    first, second = run_twice(app, name)
    assert first.status == "succeeded_with_errors", first.error_message  # 2 % bad rows, under max_invalid 10 %
    accounted(first, facts)
    assert first.counts["inserted"] == len(facts.keys) - len(facts.bad) and first.counts["updated"] == 0
    records, resource_id = stored(api, sysadmin.token, "household-register")
    records = {r["household_number"]: r for r in records}
    assert set(records) == facts.keys - facts.bad
    for number, record in records.items():
        assert len(number) == 18 and number.startswith("610923") and record["division_code"] == number[:12]
        head = record["members"][0]
        assert (head["name"], head["id_number"], head["relation"]) == (
            record["head_name"], record["head_id_number"], "02")
        assert head["sex"] == ("1" if int(record["head_id_number"][16]) % 2 else "2")
        assert record["updated_at"].startswith("2026-") and "未知" not in str(record)
    for number, values in facts.reexported.items():
        assert records[number]["address"] == values["address"]  # the last row won
    # the rerun of the unchanged file writes nothing and adds nothing to the change feed
    assert second.status == "succeeded_with_errors"
    accounted(second, facts)
    assert (second.counts["inserted"], second.counts["updated"]) == (0, 0)
    feed = api.call("datastore_changes", {"resource_id": resource_id, "limit": 10000}, token=sysadmin.token).result
    assert len(feed["changes"]) == len(records)


def test_the_petition_office_example_computes_deadline_and_status(api, app, make, sysadmin, tmp_path):
    office = make.department("ningshan-xfj")
    make.dataset(office["id"], name="petition-cases", record_schema="petition@1")
    folder = tmp_path / "exports"
    folder.mkdir()
    facts = petition_export(folder / "petitions-gb18030.csv", n=600)
    folder_connection(api, sysadmin.token, "xfj-exports", folder, [office["id"]])
    name = create_from_example(app, EXAMPLES / "petition-office-csv.yml")
    first, second = run_twice(app, name)
    assert first.status == "succeeded_with_errors", first.error_message
    accounted(first, facts)
    records, resource_id = stored(api, sysadmin.token, "petition-cases")
    records = {r["petition_number"]: r for r in records}
    assert set(records) == facts.keys - facts.bad
    for record in records.values():
        accepted, deadline = (dt.date.fromisoformat(record[k]) for k in ("accepted_on", "deadline"))
        assert deadline > accepted and deadline.weekday() < 5  # working days from the acceptance
        assert record["status"] == ("completed" if record.get("completed_on") else
                                    "replied" if record.get("reply") else "processing")
    for number, values in facts.reexported.items():
        assert {k: records[number][k] for k in values} == values
    entries = api.call("quarantine_list", {"resource_id": resource_id}, token=sysadmin.token).result
    messages = " ".join(e["errors"][0]["message"] for e in entries)
    assert "'十五' is not an integer" in messages and "2026年13月45日" in messages
    accounted(second, facts)
    assert (second.counts["inserted"], second.counts["updated"]) == (0, 0)
    assert len(api.call("quarantine_list", {"resource_id": resource_id}, token=sysadmin.token).result) == len(facts.bad)


def test_the_connectors_guide_shows_every_example_in_full():
    guide = (EXAMPLES.parent / "CONNECTORS.md").read_text(encoding="utf-8")
    for path in EXAMPLES.glob("*.yml"):
        assert f"`docs/examples/{path.name}`" in guide
        assert path.read_text(encoding="utf-8").strip() in guide, f"{path.name} differs from its copy in CONNECTORS.md"


def test_a_title_or_stream_too_long_for_its_column_is_a_validation_error(tmp_path):
    from catalog.errors import ValidationError

    _dataset, _resource, values = job_values(place("service-cases-api.yml", tmp_path))
    with pytest.raises(ValidationError) as refused:
        sync_service._validate({**values, "title": "长" * 201, "stream": "s" * 201})
    assert set(refused.value.errors) == {"title", "stream"}
