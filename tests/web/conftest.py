"""Fixtures of the web interface tests: a browser-like client that logs in and posts forms with
their CSRF token, and a catalog with two departments (provider and consumer) and their officers."""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from catalog.db import get_db

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives headless Chromium through Playwright (SQLite only)")


class Browser:
    """The Flask test client used like a browser: cookies, forms with CSRF tokens, text of pages."""

    def __init__(self, client):
        self.client = client

    def get(self, url: str, **kwargs):
        response = self.client.get(url, **kwargs)
        assert response.status_code != 500, response.get_data(as_text=True)
        return response

    def text(self, url: str, status: int = 200, **kwargs) -> str:
        response = self.get(url, **kwargs)
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
        return response.get_data(as_text=True)

    def csrf(self, url: str = "/user/login") -> str:
        """A CSRF token of this browser session, read from a form as a browser would."""
        match = CSRF.search(self.get(url).get_data(as_text=True))
        assert match, "no CSRF token on the page"
        return match.group(1)

    def post(self, url: str, data: dict | list | None = None, *, csrf: bool = True, **kwargs):
        items = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            items.append(("csrf_token", self.csrf()))
        from werkzeug.datastructures import MultiDict

        response = self.client.post(url, data=MultiDict(items), **kwargs)
        assert response.status_code != 500, response.get_data(as_text=True)
        return response

    def login(self, name: str, password: str = "correct-horse"):
        response = self.post("/user/login", {"name": name, "password": password})
        assert response.status_code == 302, response.get_data(as_text=True)[:1000]
        return response


@pytest.fixture
def browser(client):
    return Browser(client)


@dataclass
class Catalog:
    """Two departments: civil affairs (民政局, provides data) and human resources (人社局, asks for it)."""

    provider: dict
    consumer: dict
    admin: object  # the provider's admin
    editor: object  # the provider's editor
    asker: object  # the consumer's editor
    consumer_admin: object
    outsider: object  # no department


@pytest.fixture
def catalog(make) -> Catalog:
    admin, editor, asker, consumer_admin, outsider = (make.user(n) for n in (
        "mz_admin", "mz_editor", "rs_editor", "rs_admin", "outsider"))
    provider = make.department("minzheng", title="宁陕县民政局", members={"admin": admin, "editor": editor})
    consumer = make.department("renshe", title="宁陕县人力资源和社会保障局",
                               members={"editor": asker, "admin": consumer_admin})
    return Catalog(provider, consumer, admin, editor, asker, consumer_admin, outsider)


@pytest.fixture
def db_session(app):
    """A session that commits into the test's transaction (for arranging data through services)."""
    session = get_db(app).session()
    yield session
    session.close()
