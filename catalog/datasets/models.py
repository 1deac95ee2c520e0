"""Datasets (data resources, 数据资源), their tags and their resources (files or links)."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow
from ..departments.models import Department

dataset_tag = sa.Table(
    "dataset_tag",
    Base.metadata,
    sa.Column("dataset_id", sa.ForeignKey("dataset.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("tag_id", sa.ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Tag(Base):
    """A free keyword shared by datasets."""

    __tablename__ = "tag"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)


class Dataset(Base):
    """A data resource with CKAN's fields and the GB/T 21063.3 core metadata."""

    __tablename__ = "dataset"
    # package_search's common filter (a department's datasets of one share type), visible ones only.
    __table_args__ = (sa.Index("ix_dataset_owner_share", "owner_org", "share_type", "state", "private"),)

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    notes: Mapped[str | None] = mapped_column(sa.Text)
    owner_org: Mapped[str] = mapped_column(sa.ForeignKey("department.id"), index=True)
    private: Mapped[bool] = mapped_column(sa.Boolean, default=False)
    state: Mapped[str] = mapped_column(sa.String(20), default="active", index=True)
    type: Mapped[str] = mapped_column(sa.String(50), default="dataset")
    # CKAN's descriptive fields.
    url: Mapped[str | None] = mapped_column(sa.String(2000))
    version: Mapped[str | None] = mapped_column(sa.String(100))
    author: Mapped[str | None] = mapped_column(sa.String(200))
    author_email: Mapped[str | None] = mapped_column(sa.String(200))
    maintainer: Mapped[str | None] = mapped_column(sa.String(200))
    maintainer_email: Mapped[str | None] = mapped_column(sa.String(200))
    license_id: Mapped[str | None] = mapped_column(sa.String(100))
    extras: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    # Core metadata (GB/T 21063.3); the rules live in schemas/metadata/dataset/.
    resource_code: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    category: Mapped[str | None] = mapped_column(sa.String(32), index=True)
    share_type: Mapped[str | None] = mapped_column(sa.String(20))
    share_condition: Mapped[str | None] = mapped_column(sa.Text)
    share_method: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    open_type: Mapped[str | None] = mapped_column(sa.String(20))
    open_condition: Mapped[str | None] = mapped_column(sa.Text)
    update_cycle: Mapped[str | None] = mapped_column(sa.String(20))
    publish_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    related_codes: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument, default=list)
    metadata_schema: Mapped[str] = mapped_column(sa.String(100), default="dataset@1")
    record_schema: Mapped[str | None] = mapped_column(sa.String(120))
    creator_user_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    metadata_created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    metadata_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    revision: Mapped[int] = mapped_column(sa.Integer, default=1)

    organization: Mapped[Department] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=dataset_tag, order_by=Tag.name)
    resources: Mapped[list["Resource"]] = relationship(
        back_populates="dataset", order_by="Resource.position", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": revision}


class Resource(Base):
    """A file or link that carries a dataset's data."""

    __tablename__ = "resource"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    package_id: Mapped[str] = mapped_column(sa.ForeignKey("dataset.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    url: Mapped[str] = mapped_column(sa.String(2000), default="")
    url_type: Mapped[str | None] = mapped_column(sa.String(20))
    format: Mapped[str | None] = mapped_column(sa.String(50))
    mimetype: Mapped[str | None] = mapped_column(sa.String(100))
    size: Mapped[int | None] = mapped_column(sa.BigInteger)
    hash: Mapped[str | None] = mapped_column(sa.String(100))
    position: Mapped[int] = mapped_column(sa.Integer, default=0)
    extras: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_modified: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    metadata_modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="resources")
