"""The `catalog` command line, run as a user runs it (fresh SQLite database per test)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from catalog.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_upgrade_creates_the_sqlite_database_under_the_instance_folder(env):
    result = run("db", "upgrade")
    assert result.exit_code == 0, result.output
    assert (env / "instance" / "catalog.db").exists()
    assert "revision head" in result.output


def test_user_and_token_create_print_a_working_token(env):
    run("db", "upgrade")
    created = run("user", "create", "wang", "--password", "s3cret-pass", "--email", "w@example.gov.cn",
                  "--sysadmin")
    assert created.exit_code == 0, created.output
    assert "sysadmin wang" in created.output
    token = run("token", "create", "wang", "--name", "sync")
    assert token.exit_code == 0
    secret = token.output.strip()
    assert secret.startswith("cat_") and "\n" not in secret

    from catalog import create_app
    client = create_app().test_client()
    body = client.post("/api/3/action/organization_create", json={"name": "ningshan-gaj"},
                       headers={"Authorization": secret}).get_json()
    assert body["success"] is True


def test_errors_are_one_line_and_a_non_zero_exit(env):
    run("db", "upgrade")
    result = CliRunner().invoke(main, ["token", "create", "nobody"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: User not found: nobody"
    short = CliRunner().invoke(main, ["user", "create", "li", "--password", "short"])
    assert short.exit_code == 1
    assert "password: must be at least 8 characters" in short.output


def test_unreachable_database_gives_a_clear_line_not_a_traceback(env):
    environ = dict(os.environ, CATALOG_DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = subprocess.run([sys.executable, "-m", "catalog.cli", "db", "upgrade"], env=environ,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: database error:")
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_search_rebuild_reindexes_the_demo(env):
    run("db", "upgrade")
    run("demo", "load")
    result = run("search", "rebuild")
    assert result.exit_code == 0, result.output
    # the 8 datasets of catalog.json, plus the catalog review's waiting and returned drafts (catalog/review/demo.py)
    assert "Indexed 10 datasets" in result.output

    from catalog import create_app
    client = create_app().test_client()
    body = client.get("/api/3/action/package_search", query_string={"q": "xinfang"}).get_json()
    assert [d["name"] for d in body["result"]["results"]] == ["petition-cases"]


@pytest.mark.real_hashing
def test_passwords_are_stored_as_scrypt_hashes_never_plain(env):
    import sqlalchemy as sa

    from catalog import create_app
    from catalog.db import get_db

    run("db", "upgrade")
    run("user", "create", "zhao", "--password", "plain-text-pw")
    with get_db(create_app()).engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM \"user\" WHERE name = 'zhao'")).scalar()
    assert stored.startswith("scrypt:")
    assert "plain-text-pw" not in stored


def test_audit_verify_reports_an_intact_and_a_tampered_log(env):
    import sqlalchemy as sa

    from catalog import create_app
    from catalog.db import get_db

    import re

    run("db", "upgrade")
    run("demo", "load")
    # the demo's second catalog read the petitions through the API: those reads are logged already
    demo = run("audit", "verify")
    assert demo.exit_code == 0, demo.output
    logged = int(re.search(r"(\d+) entries, chain intact", demo.output).group(1))
    assert logged >= 1
    app = create_app()
    with app.app_context():
        from catalog.auth.models import User
        from catalog.db import get_session
        from catalog.datasets.service import get_dataset
        from catalog.sharing.access_log import append_entry

        session = get_session()
        admin = session.scalar(sa.select(User).where(User.name == "admin"))
        for count in (3, 5):
            append_entry(session, admin, action="datastore_search", dataset=get_dataset(session, "household-register"),
                         resource_id=None, departments=[], params={}, record_count=count)
        session.commit()
    intact = run("audit", "verify")
    assert intact.exit_code == 0 and f"{logged + 2} entries, chain intact" in intact.output
    with get_db(app).engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE record_count = 3"))
    tampered = CliRunner().invoke(main, ["audit", "verify"])
    assert tampered.exit_code == 1
    assert "access log tampered" in tampered.output
    assert re.search(r"entry #\d+ is missing before entry \d+ \(#\d+\) \(deleted\)", tampered.output)


def test_connection_commands_register_list_refuse_and_remove(env):
    run("db", "upgrade")
    run("user", "create", "admin", "--password", "s3cret-pass", "--sysadmin")
    from catalog import create_app
    from catalog.auth.models import User
    from catalog.db import get_db
    from catalog.departments.service import create_department

    app = create_app()
    with get_db(app).session() as session:
        admin = session.query(User).filter_by(name="admin").one()
        create_department(session, admin, name="ningshan-xfj", title="宁陕县信访局")
        session.commit()
    get_db(app).engine.dispose()
    exports = env / "exports"
    exports.mkdir()
    added = run("connection", "add", "xfj-exports", "--kind", "folder", "--path", str(exports),
                "--organization", "ningshan-xfj")
    assert added.exit_code == 0, added.output
    assert "Registered connection xfj-exports (folder)" in added.output
    assert "xfj-exports" in run("connection", "list").output and "ningshan-xfj" in run("connection", "list").output
    # the instance folder (secret key, database) can never be a source
    refused = CliRunner().invoke(main, ["connection", "add", "instance", "--kind", "folder", "--path",
                                        str(env / "instance")])
    assert refused.exit_code == 1
    assert "config.path: this folder cannot be a source" in refused.output
    token = run("connection", "add", "peer", "--kind", "http", "--url", "https://data.example.gov.cn",
                "--token", "cat_secret", "--organization", "ningshan-xfj")
    assert token.exit_code == 0, token.output
    stored = b"".join(p.read_bytes() for p in (env / "instance").glob("catalog.db*"))
    assert b"cat_secret" not in stored  # sealed
    removed = run("connection", "remove", "xfj-exports")
    assert removed.exit_code == 0 and "xfj-exports" not in run("connection", "list").output


def test_reset_password_prints_a_new_one_that_logs_in(env):
    run("db", "upgrade")
    run("user", "create", "li", "--password", "forgotten-pw")
    reset = run("user", "reset-password", "li")
    assert reset.exit_code == 0, reset.output
    password = reset.output.strip().rsplit(": ", 1)[1]
    from catalog import create_app
    from catalog.auth.service import authenticate_password
    from catalog.db import get_session

    with create_app().app_context():
        assert authenticate_password(get_session(), "li", "forgotten-pw") is None  # the old one no longer works
        assert authenticate_password(get_session(), "li", password) is not None
