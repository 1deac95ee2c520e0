"""Departments (CKAN organizations) and their memberships."""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..activity.service import changes_between, record_activity
from ..auth import rules
from ..auth.models import User
from ..db import utcnow
from ..errors import NotFound, ValidationError
from schemas.formats import check_uscc
from .models import ROLES, Department, Membership
from ..datasets.models import Dataset
from ..search.index import index_dataset

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
ID_RE = re.compile(r"^[A-Za-z0-9-]{1,36}$")
EDITABLE_FIELDS = ("name", "title", "code", "description", "image_url")


def get_department(session: Session, id_or_name: str, *, include_deleted: bool = False) -> Department:
    """The department with this id or name, or :class:`NotFound`."""
    query = sa.select(Department).where(
        sa.or_(Department.id == id_or_name, Department.name == id_or_name))
    if not include_deleted:
        query = query.where(Department.state == "active")
    department = session.scalar(query)
    if department is None:
        raise NotFound(f"Organization not found: {id_or_name}")
    return department


def _summary(department: Department) -> dict[str, Any]:
    return {field: getattr(department, field) for field in EDITABLE_FIELDS}


def _validate(session: Session, department: Department | None, values: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if "name" in values and not NAME_RE.match(values["name"] or ""):
        errors["name"] = ["must be 2 to 100 lower-case letters, digits, - or _"]
    if "title" in values and values["title"] is not None and len(values["title"]) > 200:
        errors["title"] = ["must be at most 200 characters"]
    if values.get("code"):
        message = check_uscc(values["code"])
        if message:
            errors["code"] = [message]
    own_id = department.id if department else None
    if "name" in values:
        clash = session.scalar(sa.select(Department.id).where(Department.name == values["name"]))
        if clash and clash != own_id:
            errors["name"] = [f"The organization name {values['name']} is already in use"]
    if values.get("code"):
        clash = session.scalar(sa.select(Department.id).where(Department.code == values["code"]))
        if clash and clash != own_id and "code" not in errors:
            errors["code"] = [f"The code {values['code']} belongs to another organization"]
    if errors:
        raise ValidationError(errors)


def create_department(session: Session, actor: User | None, *, name: str, title: str | None = None,
                      code: str | None = None, description: str | None = None,
                      image_url: str | None = None, id: str | None = None) -> Department:
    """Register a department; only sysadmins may. ``id`` keeps the id it has elsewhere (CKAN's
    organization_create takes one, so ``ckanapi load`` carries departments between catalogs)."""
    rules.require(rules.can_create_department(actor), "Only sysadmins can create organizations")
    values = {"name": name, "title": title or name, "code": code or None,
              "description": description, "image_url": image_url}
    _validate(session, None, values)
    if id is not None and (not ID_RE.match(id) or session.get(Department, id) is not None):
        raise ValidationError.single("id", "must be a new id of 1 to 36 letters, digits or -")
    department = Department(**values, **({"id": id} if id else {}))
    session.add(department)
    session.flush()
    record_activity(session, actor, object_id=department.id, department_id=department.id,
                    activity_type="new organization", data={"organization": _summary(department)})
    return department


def update_department(session: Session, actor: User | None, department: Department,
                      values: dict[str, Any]) -> Department:
    """Change the given fields of a department (the caller decides update vs patch)."""
    rules.require(rules.can_update_department(session, actor, department.id),
                  "Only sysadmins and the organization's admins can edit it")
    values = {k: v for k, v in values.items() if k in EDITABLE_FIELDS}
    if "code" in values:
        values["code"] = values["code"] or None
    if values.get("title") is None and "title" in values:
        values["title"] = values.get("name", department.name)
    _validate(session, department, values)
    before = _summary(department)
    for key, value in values.items():
        setattr(department, key, value)
    department.modified = utcnow()
    session.flush()
    changes = changes_between(before, _summary(department))
    if any(change["field"] in ("name", "title") for change in changes):
        _reindex_datasets(session, department)
    if changes:
        record_activity(session, actor, object_id=department.id, department_id=department.id,
                        activity_type="changed organization",
                        data={"organization": _summary(department), "changes": changes})
    return department


def _reindex_datasets(session: Session, department: Department) -> None:
    # The department's name and title are searchable words of each of its datasets.
    for dataset in session.scalars(sa.select(Dataset).where(
            Dataset.owner_org == department.id, Dataset.state != "deleted")):
        index_dataset(session, dataset)


def delete_department(session: Session, actor: User | None, department: Department) -> None:
    """Mark a department deleted; refused while it still owns datasets."""
    rules.require(rules.can_delete_department(actor), "Only sysadmins can delete organizations")
    owned = session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(
        Dataset.owner_org == department.id, Dataset.state != "deleted"))
    if owned:
        raise ValidationError.single(
            "id", f"Organization cannot be deleted while it still has {owned} dataset(s)")
    department.state = "deleted"
    department.modified = utcnow()
    record_activity(session, actor, object_id=department.id, department_id=department.id,
                    activity_type="deleted organization", data={"organization": _summary(department)})


def list_departments(session: Session, *, q: str | None = None, sort: str = "title asc",
                     offset: int = 0, limit: int = 1000,
                     names: list[str] | None = None) -> list[Department]:
    """Active departments, filtered by a substring of name or title and by ids or names, sorted."""
    query = sa.select(Department).where(Department.state == "active")
    if q:
        # autoescape: a "_" or "%" in q is a character to find, not a LIKE wildcard.
        needle = q.lower()
        query = query.where(sa.or_(sa.func.lower(Department.name).contains(needle, autoescape=True),
                                   sa.func.lower(Department.title).contains(needle, autoescape=True)))
    if names is not None:
        query = query.where(sa.or_(Department.name.in_(names), Department.id.in_(names)))
    field, _, direction = sort.strip().partition(" ")
    column = {"name": Department.name, "title": Department.title,
              "created": Department.created}.get(field)
    if column is None:
        raise ValidationError.single("sort", "can sort by name, title or created only")
    if direction.strip().lower() not in ("", "asc", "desc"):
        raise ValidationError.single("sort", "direction must be asc or desc")
    order = column.desc() if direction.strip().lower() == "desc" else column.asc()
    return list(session.scalars(query.order_by(order, Department.id).offset(offset).limit(limit)))


def dataset_counts(session: Session, department_ids: list[str], actor: User | None) -> dict[str, int]:
    """How many datasets the actor can see, per department."""
    table = Dataset.__table__
    rows = session.execute(
        sa.select(table.c.owner_org, sa.func.count()).where(
            table.c.owner_org.in_(department_ids),
            rules.readable_datasets_clause(session, actor, table)).group_by(table.c.owner_org))
    return dict(rows.all())


def set_member(session: Session, actor: User | None, department: Department, user: User,
               role: str) -> Membership:
    """Give ``user`` a role in the department, or change the role they have."""
    rules.require(rules.can_manage_members(session, actor, department.id),
                  "Only sysadmins and the organization's admins can manage its members")
    if role not in ROLES:
        raise ValidationError.single("role", "must be one of: " + ", ".join(ROLES))
    membership = session.scalar(sa.select(Membership).where(
        Membership.user_id == user.id, Membership.department_id == department.id))
    old_role = membership.role if membership else None
    if membership is None:
        membership = Membership(user_id=user.id, department_id=department.id, role=role)
        session.add(membership)
    membership.role = role
    session.flush()
    if old_role != role:
        record_activity(session, actor, object_id=department.id, department_id=department.id,
                        activity_type="changed organization",
                        data={"member": {"user": user.name, "old_role": old_role, "role": role}})
    return membership


def remove_member(session: Session, actor: User | None, department: Department, user: User) -> None:
    """Remove a user from the department."""
    rules.require(rules.can_manage_members(session, actor, department.id),
                  "Only sysadmins and the organization's admins can manage its members")
    membership = session.scalar(sa.select(Membership).where(
        Membership.user_id == user.id, Membership.department_id == department.id))
    if membership is None:
        raise NotFound(f"User {user.name} is not a member of {department.name}")
    session.delete(membership)
    record_activity(session, actor, object_id=department.id, department_id=department.id,
                    activity_type="changed organization",
                    data={"member": {"user": user.name, "old_role": membership.role, "role": None}})


def list_members(session: Session, actor: User | None, department: Department, *,
                 role: str | None = None) -> list[Membership]:
    """The department's memberships, visible to its members and sysadmins."""
    rules.require(rules.can_see_members(session, actor, department.id),
                  "Only the organization's members can see its member list")
    query = sa.select(Membership).where(Membership.department_id == department.id)
    if role:
        query = query.where(Membership.role == role)
    return list(session.scalars(query.order_by(Membership.created, Membership.id)))


def departments_of(session: Session, user: User) -> list[tuple[Department, str]]:
    """The active departments a user belongs to, with the role held in each."""
    rows = session.execute(sa.select(Department, Membership.role).join(
        Membership, Membership.department_id == Department.id).where(
        Membership.user_id == user.id, Department.state == "active").order_by(Department.title))
    return [(d, r) for d, r in rows.all()]
