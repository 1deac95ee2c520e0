"""Connections: a folder, a database or an HTTP service that sync jobs may read from."""
from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, JSONDocument, UTCDateTime, new_id, utcnow

KINDS = ("folder", "database", "http")


class Connection(Base):
    """A named source place registered by a sysadmin; jobs name it and a table or file inside it.

    ``config`` holds the place (``path``, ``url``) and its credentials, sealed at rest like job
    secrets; ``organizations`` are the ids of the departments whose jobs may use it.
    """

    __tablename__ = "source_connection"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    title: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    kind: Mapped[str] = mapped_column(sa.String(20))
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument, default=dict)
    organizations: Mapped[list[str]] = mapped_column(JSONDocument, default=list)
    creator_user_id: Mapped[str | None] = mapped_column(sa.ForeignKey("user.id", ondelete="SET NULL"))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
