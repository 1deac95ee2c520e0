"""Departments (CKAN organizations) and their members."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..auth.models import User
from ..db import Base, UTCDateTime, new_id, utcnow

ROLES = ("admin", "editor", "member")


class Department(Base):
    """A providing or consuming department (部门), e.g. the county civil affairs bureau."""

    __tablename__ = "department"

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(sa.String(100), unique=True)
    title: Mapped[str] = mapped_column(sa.String(200))
    code: Mapped[str | None] = mapped_column(sa.String(18), unique=True)
    description: Mapped[str | None] = mapped_column(sa.Text)
    image_url: Mapped[str | None] = mapped_column(sa.String(2000))
    state: Mapped[str] = mapped_column(sa.String(20), default="active")
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    modified: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    memberships: Mapped[list["Membership"]] = relationship(
        back_populates="department", cascade="all, delete-orphan")


class Membership(Base):
    """A user's role in a department: ``admin``, ``editor`` or ``member``."""

    __tablename__ = "membership"
    __table_args__ = (
        sa.UniqueConstraint("user_id", "department_id", name="uq_membership_user_department"),
        sa.CheckConstraint("role in ('admin', 'editor', 'member')", name="role"),
    )

    id: Mapped[str] = mapped_column(sa.String(36), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"), index=True)
    department_id: Mapped[str] = mapped_column(sa.ForeignKey("department.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(10))
    created: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User] = relationship()
    department: Mapped[Department] = relationship(back_populates="memberships")
