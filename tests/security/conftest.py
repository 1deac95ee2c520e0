"""Fixtures for the hardening tests: a dedicated app with its own limits, callers from given addresses."""
from __future__ import annotations

import itertools

import pytest

from catalog import create_app
from catalog.db import get_db

_addresses = itertools.count(1)


@pytest.fixture
def address():
    """A client address no other test uses, so anonymous budgets start empty."""
    n = next(_addresses)
    return f"198.51.{n // 250}.{n % 250 + 1}"


@pytest.fixture
def standalone_app(tmp_path):
    """Build apps of their own on a scratch SQLite file (migrated only by the tests that need tables)."""
    built = []

    def build(**config):
        settings = {"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'catalog.db'}",
                    "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "test",
                    "SITE_URL": "http://localhost"}
        settings.update(config)
        built.append(create_app(settings))
        return built[-1]

    yield build
    for app in built:
        get_db(app).engine.dispose()
