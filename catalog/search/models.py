"""The catalog version (8 rows whose tokens the writes to what search reads replace) and the facet counts."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base


#: How many version rows a writer chooses from (migration 0023).
SHARDS = 8
#: The version rows (their ids): a condition that reads them through the primary key. Without it a statement
#: scans the table, whose 8 rows are rewritten by every write and can spread over hundreds of pages between
#: two vacuums (3.4 MB, 10 ms to scan, in the benchmark's database after loading 300,000 datasets).
def version_rows():
    return CatalogVersion.id.between(1, SHARDS)


class CatalogVersion(Base):
    """The rows (``id`` 1–8) whose tokens together name the catalog's current state for the search cache.

    Triggers (migrations 0018, 0023) give one row's ``token`` a new random value on every statement
    that writes ``dataset``, ``resource``, ``tag``, ``dataset_tag``, ``dataset_group``, ``department``
    or ``membership``, in the writer's own transaction (PostgreSQL: the row of the transaction id
    modulo 8, so concurrent writers rarely wait for one row; SQLite: row 1); the search index module
    replaces it itself (``dataset_search`` is an FTS5 table on SQLite, which takes no triggers). A
    token is never reused, not even after a rollback, so a cached answer filed under the tokens is
    exact for that state.
    """

    __tablename__ = "catalog_version"

    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True, autoincrement=False)
    token: Mapped[str] = mapped_column(sa.String(32), nullable=False)


#: Facet counts per value and visibility class (migration 0023), kept by triggers in the writer's transaction:
#: a search without words and filters sums the rows of the classes its reader may see.
facet_count = sa.Table(
    "search_facet_count", Base.metadata,
    sa.Column("facet", sa.String(20), primary_key=True),
    sa.Column("value", sa.String(200), primary_key=True),
    sa.Column("owner_org", sa.String(36), primary_key=True),
    sa.Column("state", sa.String(20), primary_key=True),
    sa.Column("private", sa.Boolean, primary_key=True),
    sa.Column("slot", sa.SmallInteger, primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
)

#: What each dataset that is not deleted counts under (one row per facet value), kept with the counts.
facet_member = sa.Table(
    "search_facet_member", Base.metadata,
    sa.Column("dataset_id", sa.String(36), nullable=False),
    sa.Column("facet", sa.String(20), nullable=False),
    sa.Column("value", sa.String(200), nullable=False),
    sa.Column("owner_org", sa.String(36), nullable=False),
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("private", sa.Boolean, nullable=False),
    # a hit's tags, formats and themes read by an index-only scan (migration 0027)
    sa.Index("ix_search_facet_member_dataset_facet_value", "dataset_id", "facet", "value"),
)

#: The catalogue's change log (migration 0024): one row per dataset a write changed (``dataset_id`` NULL: a write
#: that can change any search), written in the writer's transaction; ``xid`` the writer's transaction (PostgreSQL).
change_log = sa.Table(
    "search_change", Base.metadata,
    sa.Column("seq", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("dataset_id", sa.String(36), nullable=True),
    sa.Column("xid", sa.BigInteger, nullable=True, index=True),
    sqlite_autoincrement=True,
)

#: How far the log has been pruned (one row): the highest entry deleted, the oldest transaction running then.
change_horizon = sa.Table(
    "search_change_horizon", Base.metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("xid", sa.BigInteger, nullable=False),
    sa.Column("keep", sa.Integer, nullable=False),
)
