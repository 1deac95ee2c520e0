"""Targets outside the catalog. The catalog's own DataStore target is ``catalog.sync.target``.

* :class:`~connectors.targets.ckan.RemoteCkanTarget` — another CKAN-compatible catalog's DataStore
  resource, written with ``datastore_upsert``.

Targets are imported on first use (``requests`` loads only when needed).
"""
from __future__ import annotations

from typing import Any

__all__ = ["RemoteCkanTarget"]


def __getattr__(name: str) -> Any:
    if name == "RemoteCkanTarget":
        from .ckan import RemoteCkanTarget

        return RemoteCkanTarget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
