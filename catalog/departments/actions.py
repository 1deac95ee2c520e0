"""CKAN organization actions, backed by departments."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..api.registry import ActionContext, action
from ..auth import rules
from ..auth.service import get_user
from ..datasets.models import Dataset
from ..errors import NotFound
from . import service
from .schemas import (ROLE_PERMISSIONS, DepartmentAutocompleteParams, DepartmentCreateParams, DepartmentListParams,
                      DepartmentOut, ListForUserParams,
                      DepartmentPatchParams, DepartmentShowParams, DepartmentUpdateParams, IdParams,
                      MemberCreateParams, MemberDeleteParams, MemberListParams, MemberOut)
from ..datasets.actions import dataset_dicts

_FIELDS = ("name", "title", "code", "description", "image_url")


def department_dict(ctx: ActionContext, department, *, package_count: int | None = None) -> dict[str, Any]:
    """A department as the API shows it, with the number of datasets the actor can see."""
    data = DepartmentOut().dump(department)
    if package_count is None:
        package_count = service.dataset_counts(ctx.session, [department.id], ctx.actor).get(department.id, 0)
    data["package_count"] = package_count
    return data


@action("organization_list", params=DepartmentListParams,
        result={"type": "array", "items": {"oneOf": [{"type": "string"}, {"type": "object"}]}},
        read_only=True)
def organization_list(ctx: ActionContext, data: dict) -> list:
    """List departments: names, or whole dicts with ``all_fields``."""
    departments = service.list_departments(ctx.session, q=data["q"], sort=data["sort"],
                                           offset=data["offset"], limit=data["limit"],
                                           names=data["organizations"] or None)
    if not data["all_fields"]:
        return [d.name for d in departments]
    counts = service.dataset_counts(ctx.session, [d.id for d in departments], ctx.actor)
    result = []
    for department in departments:
        item = department_dict(ctx, department, package_count=counts.get(department.id, 0))
        if not data["include_dataset_count"]:
            item.pop("package_count")
        _include(ctx, department, item, data)
        result.append(item)
    return result


def _include(ctx: ActionContext, department, result: dict[str, Any], data: dict) -> None:
    """The ``include_*`` parts of an organization dict, as CKAN names them.

    Departments have no tags, extras, parent groups or followers, so those are empty; the members are
    listed to the department's members and sysadmins only (others get an empty list).
    """
    for flag, key in (("include_extras", "extras"), ("include_tags", "tags"), ("include_groups", "groups")):
        if data.get(flag):
            result[key] = []
    if data.get("include_followers", True):
        result["num_followers"] = 0
    if data.get("include_users"):
        result["users"] = MemberOut(many=True).dump(service.list_members(ctx.session, ctx.actor, department)) \
            if rules.can_see_members(ctx.session, ctx.actor, department.id) else []


@action("organization_show", params=DepartmentShowParams, result=DepartmentOut, read_only=True)
def organization_show(ctx: ActionContext, data: dict) -> dict:
    """Show a department, with its members (to its members) and optionally its datasets."""
    department = service.get_department(ctx.session, data["id"])
    result = department_dict(ctx, department)
    if not data["include_dataset_count"]:
        result.pop("package_count")
    _include(ctx, department, result, data)
    if data["include_datasets"]:
        table = Dataset.__table__
        datasets = ctx.session.scalars(sa.select(Dataset).where(
            Dataset.owner_org == department.id,
            rules.readable_datasets_clause(ctx.session, ctx.actor, table)).order_by(Dataset.name).limit(1000))
        result["packages"] = dataset_dicts(ctx, list(datasets))
    return result


@action("organization_create", params=DepartmentCreateParams, result=DepartmentOut)
def organization_create(ctx: ActionContext, data: dict) -> dict:
    """Register a department (sysadmins only)."""
    department = service.create_department(ctx.session, ctx.actor, **data)
    return department_dict(ctx, department, package_count=0)


@action("organization_update", params=DepartmentUpdateParams, result=DepartmentOut)
def organization_update(ctx: ActionContext, data: dict) -> dict:
    """Replace a department's fields: the ones not given are cleared (name and title kept)."""
    department = service.get_department(ctx.session, data["id"])
    values = {field: data.get(field) for field in _FIELDS}
    values["name"] = values["name"] or department.name
    values["title"] = values["title"] or department.title
    service.update_department(ctx.session, ctx.actor, department, values)
    return department_dict(ctx, department)


@action("organization_patch", params=DepartmentPatchParams, result=DepartmentOut)
def organization_patch(ctx: ActionContext, data: dict) -> dict:
    """Change only the given fields of a department."""
    department = service.get_department(ctx.session, data["id"])
    values = {field: data[field] for field in _FIELDS if field in data}
    service.update_department(ctx.session, ctx.actor, department, values)
    return department_dict(ctx, department)


@action("organization_delete", params=IdParams, result={"type": "object", "nullable": True})
def organization_delete(ctx: ActionContext, data: dict) -> None:
    """Delete a department (sysadmins only; refused while it owns datasets)."""
    service.delete_department(ctx.session, ctx.actor, service.get_department(ctx.session, data["id"]))
    return None


@action("organization_member_create", params=MemberCreateParams, result=MemberOut)
def organization_member_create(ctx: ActionContext, data: dict) -> dict:
    """Add a user to a department with a role, or change their role."""
    department = service.get_department(ctx.session, data["id"])
    user = get_user(ctx.session, data["username"])
    membership = service.set_member(ctx.session, ctx.actor, department, user, data["role"])
    return MemberOut().dump(membership)


@action("organization_member_delete", params=MemberDeleteParams, result={"type": "object", "nullable": True})
def organization_member_delete(ctx: ActionContext, data: dict) -> None:
    """Remove a user from a department."""
    department = service.get_department(ctx.session, data["id"])
    user = get_user(ctx.session, data["username"])
    service.remove_member(ctx.session, ctx.actor, department, user)
    return None


@action("member_list", params=MemberListParams,
        result={"type": "array", "items": {"type": "array", "items": {"type": "string"}}}, read_only=True)
def member_list(ctx: ActionContext, data: dict) -> list:
    """A department's members as CKAN lists them: ``[id, type, capacity]`` triples."""
    department = service.get_department(ctx.session, data["id"])
    # Checked here as well, so that object_type=package does not bypass the member-list rule.
    rules.require(rules.can_see_members(ctx.session, ctx.actor, department.id),
                  "Only the organization's members can see its member list")
    result: list[list[str]] = []
    if data["object_type"] in (None, "user"):
        for membership in service.list_members(ctx.session, ctx.actor, department, role=data["capacity"]):
            result.append([membership.user_id, "user", membership.role])
    if data["object_type"] in (None, "package") and data["capacity"] is None:
        datasets = ctx.session.scalars(sa.select(Dataset.id).where(
            Dataset.owner_org == department.id,
            rules.readable_datasets_clause(ctx.session, ctx.actor, Dataset.__table__)).order_by(Dataset.name))
        result.extend([dataset_id, "package", "organization"] for dataset_id in datasets)
    return result


@action("organization_autocomplete", params=DepartmentAutocompleteParams,
        result={"type": "array", "items": {"type": "object"}}, read_only=True)
def organization_autocomplete(ctx: ActionContext, data: dict) -> list:
    """Departments whose name or title contains ``q``: id, name, title."""
    departments = service.list_departments(ctx.session, q=data["q"], sort="name asc", limit=data["limit"])
    return [{"id": d.id, "name": d.name, "title": d.title} for d in departments]


@action("organization_list_for_user", params=ListForUserParams,
        result={"type": "array", "items": {"type": "object"}}, read_only=True)
def organization_list_for_user(ctx: ActionContext, data: dict) -> list:
    """The departments in which a user holds ``permission`` (sysadmins: all, as admin), with ``capacity``.

    Another user's departments are shown to those who may see that account (sysadmins, admins of one of its
    departments); to others the user is unknown, as in user_show. Anonymous callers hold no permission.
    """
    if data["id"]:
        user = get_user(ctx.session, data["id"])
        if not rules.can_see_user(ctx.session, ctx.actor, user):
            raise NotFound(f"User not found: {data['id']}")
    else:
        user = ctx.actor
    if user is None:
        return []
    if user.sysadmin:
        pairs = [(d, "admin") for d in service.list_departments(ctx.session, sort="name asc")]
    else:
        roles = {"admin"} | {role for role, permissions in ROLE_PERMISSIONS.items()
                             if data["permission"] in permissions}
        pairs = [(d, role) for d, role in service.departments_of(ctx.session, user) if role in roles]
    counts = service.dataset_counts(ctx.session, [d.id for d, _ in pairs], ctx.actor) \
        if data["include_dataset_count"] else None
    result = []
    for department, role in pairs:
        item = department_dict(ctx, department, package_count=0 if counts is None else counts.get(department.id, 0))
        if counts is None:
            item.pop("package_count")
        item["capacity"] = role
        result.append(item)
    return result
