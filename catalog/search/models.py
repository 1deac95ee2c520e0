"""The catalog version: one row whose token every write to what search reads replaces."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


class CatalogVersion(Base):
    """The single row (``id`` 1) naming the catalog's current state for the search cache.

    Triggers (migration 0018) give ``token`` a new random value on every statement that writes
    ``dataset``, ``resource``, ``tag``, ``dataset_tag``, ``dataset_group``, ``department`` or
    ``membership``, in the writer's own transaction; the search index module replaces it itself
    (``dataset_search`` is an FTS5 table on SQLite, which takes no triggers). A token is never
    reused, not even after a rollback, so a cached answer filed under it is exact for that state.
    """

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(sa.String(32), nullable=False)
