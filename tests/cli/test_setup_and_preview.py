"""Scripting a set-up from the command line: departments, datasets from files, a sync preview, pipes."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from catalog.cli import main
from tests.conftest import dataset_values


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    run("db", "upgrade")
    assert run("user", "create", "root", "--password", "s3cret-pass", "--sysadmin").exit_code == 0
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_departments_and_datasets_are_created_from_the_command_line_with_the_apis_checks(env):
    made = run("department", "create", "ningshan-mzj", "--title", "宁陕县民政局", "--code", "11610923MB1234567X")
    assert made.exit_code == 0, made.output
    assert made.output.startswith("Created department ningshan-mzj (宁陕县民政局)")
    (env / "dept.json").write_text(json.dumps({"name": "ningshan-xfj", "title": "宁陕县信访局"}), encoding="utf-8")
    assert run("department", "create", "--file", str(env / "dept.json")).exit_code == 0
    values = {**dataset_values("ningshan-mzj"), "name": "households", "record_schema": "household@1"}
    (env / "households.yml").write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    created = run("dataset", "create", str(env / "households.yml"))
    assert created.exit_code == 0, created.output
    assert "Created dataset households" in created.output and "record schema household@1" in created.output
    # the API's own checks: a bad field is one line naming it, exit 1
    (env / "bad.yml").write_text(yaml.safe_dump({**values, "name": "bad", "share_type": "everyone"}),
                                 encoding="utf-8")
    refused = run("dataset", "create", str(env / "bad.yml"))
    assert refused.exit_code == 1 and "share_type" in refused.output and "Traceback" not in refused.output
    again = run("department", "create", "ningshan-mzj")
    assert again.exit_code == 1 and "Error: invalid input: name" in again.output


def test_output_read_by_a_closed_pipe_ends_quietly(env):
    for i in range(300):
        assert run("department", "create", f"dept-{i:03d}", "--title", f"部门{i}").exit_code == 0
    process = subprocess.Popen([sys.executable, "-m", "catalog.cli", "department", "list"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=dict(os.environ))
    process.stdout.close()  # like `| head` that has read all it wanted before the listing is written
    _out, err = process.communicate(timeout=60)
    assert b"Broken pipe" not in err and b"Traceback" not in err and b"BrokenPipeError" not in err, err
    whole = subprocess.run([sys.executable, "-m", "catalog.cli", "department", "list"], capture_output=True,
                           env=dict(os.environ))
    assert whole.returncode == 0 and whole.stdout.decode().count("\n") == 300
