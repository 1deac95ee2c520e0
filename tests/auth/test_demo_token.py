"""The API token that ``catalog demo load`` (``make run``) prints for the sysadmin.

A newcomer tries the write actions with it (README: "prints the admin login, an API token …"), and it
ends like any new token: a year after it was made (README, ``CATALOG_TOKEN_DEFAULT_DAYS``: 365;
docs/SECURITY.md, "Lifetime"). The demo loader makes it without naming a scope or a lifetime.
"""
from __future__ import annotations

import datetime as dt

import pytest

from catalog.db import get_db
from catalog.demo import ADMIN, _credentials


def load_demo_credentials(app, tmp_path, monkeypatch) -> str:
    """Run the demo loader's credentials step; the token secret it prints (and writes to
    ``<instance>/demo-credentials.txt``)."""
    monkeypatch.setattr(app, "instance_path", str(tmp_path))
    with app.app_context():
        session = get_db(app).session()
        lines, created = _credentials(app, session)
        session.commit()
        session.close()
    assert created
    printed = next(line for line in lines if line.startswith(f"API token ({ADMIN}): "))
    secret = printed.split(": ", 1)[1]
    assert secret in (tmp_path / "demo-credentials.txt").read_text(encoding="utf-8")
    return secret


@pytest.fixture
def demo_token(app, tmp_path, monkeypatch) -> str:
    return load_demo_credentials(app, tmp_path, monkeypatch)


def test_the_demo_token_calls_write_actions(api, demo_token):
    reply = api.call("organization_create", {"name": "demo-try-out", "title": "试用部门"}, token=demo_token)
    assert reply.status == 200, reply.body
    assert "demo-try-out" in api.call("organization_list").result


def test_the_demo_token_is_listed_as_a_write_token_that_ends_a_year_after_it_was_made(api, demo_token):
    listed = api.call("api_token_list", {}, token=demo_token).result
    assert [token["name"] for token in listed] == ["demo"]
    token = listed[0]
    assert token["scope"] == "write"
    made = dt.datetime.fromisoformat(token["created_at"])
    ends = dt.datetime.fromisoformat(token["expires_at"])
    assert abs(ends - made - dt.timedelta(days=365)) < dt.timedelta(minutes=1)


def test_the_demo_token_follows_the_configured_lifetime(app, api, tmp_path, monkeypatch):
    """A county that sets ``CATALOG_TOKEN_DEFAULT_DAYS`` to 30 gets a demo token that ends after 30 days,
    as every other new token (docs/SECURITY.md, "Lifetime"), not the demo's own year."""
    monkeypatch.setitem(app.config, "TOKEN_DEFAULT_DAYS", 30)
    secret = load_demo_credentials(app, tmp_path, monkeypatch)
    token = api.call("api_token_list", {}, token=secret).result[0]
    made = dt.datetime.fromisoformat(token["created_at"])
    ends = dt.datetime.fromisoformat(token["expires_at"])
    assert abs(ends - made - dt.timedelta(days=30)) < dt.timedelta(minutes=1)
