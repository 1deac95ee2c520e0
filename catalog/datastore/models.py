"""DataStore tables, records, quarantined records and department-registered record schemas."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..datasets.models import Resource
from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow


class RecordSchema(Base):
    """A record schema registered through the API (shipped ones live in ``schemas/records``).

    Versions are immutable: a changed document is stored as the next version.
    """

    __tablename__ = "record_schema"
    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_record_schema_name_version"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100))
    version: Mapped[int] = mapped_column(sa.Integer)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    owner_org: Mapped[str | None] = mapped_column(sa.ForeignKey("department.id", ondelete="SET NULL"))
    creator_user_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class DatastoreTable(Base):
    """The DataStore of one resource: its fields, primary key, bound schema and change counter."""

    __tablename__ = "datastore_table"

    resource_id: Mapped[str] = mapped_column(sa.ForeignKey("resource.id", ondelete="CASCADE"),
                                             primary_key=True)
    fields: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    primary_key: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    record_schema: Mapped[str | None] = mapped_column(sa.String(120))
    schema_document: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # The change sequence of the last write; writers take this row's lock to advance it, so
    # sequence numbers are committed in order and a change-feed reader never skips one.
    last_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    # The change sequence of the last write that added or removed live keys (a new key, a tombstone, a
    # tombstone written again): the set of live keys, and so the kept total of a search without filters or
    # ``q``, is the same since (``query._keys_version``; deep offsets read the key blocks, ``key_blocks.py``).
    # NULL: not known (a table older than migration 0025 that no write touched since).
    keys_seq: Mapped[int | None] = mapped_column(sa.BigInteger, nullable=True, default=0)
    # The change number up to which the table's records were looked over for common values to keep
    # (``value_survey``: the sync scheduler's tick, after a load); 0: never.
    values_seq: Mapped[int] = mapped_column(sa.BigInteger, default=0, server_default="0")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    resource: Mapped[Resource] = relationship()


class KeyBlock(Base):
    """A range of one DataStore table's keys and how many live records it holds: together the blocks of a
    table count its live records in key order (an order-statistic index), kept by every write in its own
    transaction, so a deep ``offset`` finds its block by a running sum over the blocks and skips within
    one block by the primary key (``query._offset_page``; docs/ARCHITECTURE.md, "Deep offsets").

    A block holds the live keys from ``low_key`` up to the next block's ``low_key``; the first block of a
    table starts at ``''`` (below every key), so every key has a block."""

    __tablename__ = "datastore_key_block"

    resource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"), primary_key=True)
    # compared with datastore_record.key in SQL only (the database's collation orders both)
    low_key: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    live: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class ValueCount(Base):
    """How many live records of one DataStore table hold one common value of one of its indexed fields
    (``x-index``): kept for the values found with more than ``value_counts.KEEP_ABOVE`` matches, and from
    then on moved by every write in its own transaction under the table's write lock, so the total of a
    filter on such a value is one row, exact, at any size (``catalog.datastore.value_counts``)."""

    __tablename__ = "datastore_value_count"

    resource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"), primary_key=True)
    field: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    # the field's text as the filter compares it (PostgreSQL ``data ->> field``; SQLite the JSON string)
    value: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    live: Mapped[int] = mapped_column(sa.BigInteger, default=0)


class Record(Base):
    """One record, keyed by its primary key values; deletions stay as tombstones for the feed."""

    __tablename__ = "datastore_record"
    __table_args__ = (sa.Index("ix_datastore_record_resource_seq", "resource_id", "seq", unique=True),)

    resource_id: Mapped[str] = mapped_column(
        sa.ForeignKey("datastore_table.resource_id", ondelete="CASCADE"), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(500), primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger)
    deleted: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    # blake2b (16 bytes, hex) of the record's canonical JSON (catalog.datastore.hashing): a write
    # compares it to skip unchanged records without comparing documents; NULL reads as "changed".
    content_hash: Mapped[str | None] = mapped_column(sa.String(32))
    # Written by a sync (catalog.datastore.hashing.source_hash): the hash of the source row this record
    # was made from (with the mapping's and the schema's fingerprints) bound to content_hash, so it holds
    # only while the record is what that row made; NULL for records written otherwise (issue 18).
    source_hash: Mapped[str | None] = mapped_column(sa.String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class QuarantinedRecord(Base):
    """A record refused by validation, kept with its errors until fixed and retried, or discarded."""

    __tablename__ = "quarantine"
    __table_args__ = (sa.Index("ix_quarantine_resource_status", "resource_id", "status"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    resource_id: Mapped[str] = mapped_column(sa.ForeignKey("resource.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(sa.String(100), default="api")
    row_number: Mapped[int | None] = mapped_column(sa.Integer)
    raw: Mapped[Any] = mapped_column(JSONDocument)
    errors: Mapped[list[dict[str, str]]] = mapped_column(JSONDocument, default=list)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    reason: Mapped[str | None] = mapped_column(sa.Text)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
