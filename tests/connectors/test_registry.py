"""The source registry, the specs the catalog's forms will use, and the one-way dependency rule."""
from __future__ import annotations

import ast
import pathlib
import subprocess
import sys

import jsonschema
import pytest

import connectors
from connectors import Source
from connectors.sources import get, names, register

ROOT = pathlib.Path(connectors.__file__).resolve().parent


def test_every_registered_source_has_a_valid_config_schema():
    assert names() == ["ckan", "csv", "dcat", "http_json", "sql", "xlsx"]
    for name in names():
        source = get(name)
        assert isinstance(source, Source) and source.name == name
        jsonschema.Draft202012Validator.check_schema(source.spec())


def test_an_unknown_source_names_the_known_ones_and_others_can_register():
    with pytest.raises(LookupError, match="unknown source .ftp.; known sources: ckan, csv, dcat, http_json, sql, xlsx"):
        get("ftp")

    class Fake(Source):
        name = "fake"

        def spec(self):
            return {"type": "object"}

        def discover(self, config):
            return []

        def read(self, config, stream, state):
            return iter(())

    register("fake", Fake)
    try:
        assert isinstance(get("fake"), Fake)
    finally:
        from connectors.sources import _REGISTRY
        _REGISTRY.pop("fake")


def test_connectors_never_imports_catalog():
    for path in ROOT.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                       else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            assert not any(m == "catalog" or m.startswith("catalog.") for m in modules), path
    code = ("import sys, connectors, connectors.sources as s\n"
            "[s.get(n) for n in s.names()]\n"
            "assert not [m for m in sys.modules if m == 'catalog' or m.startswith('catalog.')]")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT.parent)
