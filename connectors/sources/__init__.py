"""The registry of sources: ``get("csv")`` returns a ready :class:`~connectors.base.Source`.

Sources are imported on first use, so ``openpyxl`` or ``requests`` load only when needed.
Other packages add theirs with :func:`register`; ``ckan`` (another CKAN-compatible catalog) and ``dcat``
(another catalog's DCAT-AP export) are registered lazily below.
"""
from __future__ import annotations

import importlib

from ..base import Source

__all__ = ["get", "names", "register"]

_REGISTRY: dict[str, str | type[Source]] = {
    "csv": "connectors.sources.csv_file:CsvSource",
    "xlsx": "connectors.sources.xlsx_file:XlsxSource",
    "sql": "connectors.sources.sql:SqlSource",
    "http_json": "connectors.sources.http_json:HttpJsonSource",
}


def register(name: str, source: str | type[Source]) -> None:
    """Register a source class (or its ``"module:Class"`` path) under ``name``."""
    _REGISTRY[name] = source


def names() -> list[str]:
    """The registered source names, sorted."""
    return sorted(_REGISTRY)


def get(name: str) -> Source:
    """A new instance of the source registered as ``name``; ``LookupError`` names the known ones."""
    try:
        entry = _REGISTRY[name]
    except KeyError:
        raise LookupError(f"unknown source {name!r}; known sources: {', '.join(names())}") from None
    if isinstance(entry, str):
        module, _, attribute = entry.partition(":")
        entry = getattr(importlib.import_module(module), attribute)
    return entry()


register("ckan", "connectors.sources.ckan:CkanSource")
register("dcat", "connectors.sources.dcat:DcatSource")  # dataset metadata from a DCAT-AP export (harvesting)
