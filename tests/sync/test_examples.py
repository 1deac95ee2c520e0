"""The example job files of docs/examples: each parses as `catalog sync add` reads it, passes the job
validation, maps onto fields its record schema has, and the file- and database-based ones run
end to end against the demo's department systems."""
from __future__ import annotations

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
from tests.sync.helpers import connection, folder_connection

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
#: example file → the record schema its dataset is bound to (None: a table of the peer's fields)
SCHEMAS = {"household-police-register.yml": "household", "service-cases-api.yml": "service",
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
        set(mapping.get("value_maps", {})) | set(mapping.get("split", {}))
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


def test_the_petition_office_example_runs_against_the_demo_export(api, app, make, sysadmin, tmp_path):
    office = make.department("ningshan-xfj")
    make.dataset(office["id"], name="petition-cases", record_schema="petition@1")
    job_file = tmp_path / "petition-office-csv.yml"
    shutil.copy(EXAMPLES / job_file.name, job_file)
    export = tmp_path / "exports" / "petitions-gb18030.csv"
    export.parent.mkdir()
    petition_csv(export, n=40)  # GB18030, two bad rows (index 5: no such month, 11: short ID number)
    folder_connection(api, sysadmin.token, "xfj-exports", export.parent, [office["id"]])
    name = create_from_example(app, job_file)
    run = sync_service.run_job(get_db(app), name)
    assert run.status == "succeeded", run.error_message
    assert (run.counts["read"], run.counts["inserted"], run.counts["quarantined"]) == (40, 38, 2)


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
