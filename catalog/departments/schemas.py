"""What crosses the API for departments (CKAN organizations) and members."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import (CkanDateTime, JsonList, ParamsSchema, ShowParams, id_field, limit_field, offset_field,
                          query_field)
from .models import ROLES


class DepartmentOut(Schema):
    """A department as CKAN shows an organization."""

    id = fields.String()
    name = fields.String()
    title = fields.String()
    display_name = fields.Function(lambda d: d.title or d.name)
    code = fields.String(allow_none=True, metadata={"description": "unified social credit code (GB 32100)"})
    description = fields.String(allow_none=True)
    image_url = fields.String(allow_none=True)
    state = fields.String()
    created = CkanDateTime()
    is_organization = fields.Constant(True)
    type = fields.Constant("organization")
    approval_status = fields.Constant("approved")


class MemberOut(Schema):
    """A member of a department, as listed with the organization."""

    id = fields.String(attribute="user.id")
    name = fields.String(attribute="user.name")
    fullname = fields.String(attribute="user.fullname", allow_none=True)
    display_name = fields.Function(lambda m: m.user.fullname or m.user.name)
    state = fields.String(attribute="user.state")
    sysadmin = fields.Boolean(attribute="user.sysadmin")
    created = CkanDateTime(attribute="user.created")
    capacity = fields.String(attribute="role")


class _DepartmentFields(ParamsSchema):
    title = fields.String(load_default=None, allow_none=True)
    code = fields.String(load_default=None, allow_none=True,
                         metadata={"description": "unified social credit code (GB 32100)"})
    description = fields.String(load_default=None, allow_none=True)
    image_url = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=2000))


class DepartmentCreateParams(_DepartmentFields):
    name = fields.String(required=True)
    id = fields.String(load_default=None, metadata={"description": "keep this id (a department copied from "
                                                                   "another catalog, as ckanapi load does)"})


class DepartmentUpdateParams(_DepartmentFields):
    id = id_field("organization id or name")
    name = fields.String(load_default=None)


class DepartmentPatchParams(ParamsSchema):
    id = id_field("organization id or name")
    name = fields.String()
    title = fields.String(allow_none=True)
    code = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    image_url = fields.String(allow_none=True, validate=validate.Length(max=2000))


class DepartmentShowParams(ShowParams):
    id = id_field("organization id or name")


class DepartmentListParams(ParamsSchema):
    all_fields = fields.Boolean(load_default=False)
    sort = fields.String(load_default="title asc")
    q = query_field()
    organizations = JsonList(fields.String(), load_default=None)
    limit = limit_field(1000, 1000)
    offset = offset_field()
    include_dataset_count = fields.Boolean(load_default=True)
    include_extras = fields.Boolean(load_default=False)
    include_tags = fields.Boolean(load_default=False)
    include_groups = fields.Boolean(load_default=False)
    include_users = fields.Boolean(load_default=False)


class DepartmentAutocompleteParams(ParamsSchema):
    q = fields.String(required=True, validate=validate.Length(max=100))
    limit = limit_field(20, 1000)


#: CKAN's permissions and the roles that hold them (an admin holds every permission).
ROLE_PERMISSIONS = {"editor": ("read", "delete_dataset", "create_dataset", "update_dataset", "manage_group"),
                    "member": ("read", "manage_group")}


class ListForUserParams(ParamsSchema):
    id = fields.String(load_default=None, metadata={"description": "user id or name (default: yourself)"})
    permission = fields.String(load_default="manage_group", metadata={
        "description": "read, create_dataset, update_dataset, delete_dataset, manage_group, admin or membership"})
    include_dataset_count = fields.Boolean(load_default=False)


class IdParams(ParamsSchema):
    id = id_field()


class MemberCreateParams(ParamsSchema):
    id = id_field("organization id or name")
    username = fields.String(required=True, metadata={"description": "user id or name"})
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class MemberDeleteParams(ParamsSchema):
    id = id_field("organization id or name")
    username = fields.String(required=True, metadata={"description": "user id or name"})


class MemberListParams(ParamsSchema):
    id = id_field("organization id or name")
    object_type = fields.String(load_default=None, validate=validate.OneOf(["user", "package"]))
    capacity = fields.String(load_default=None, validate=validate.OneOf(ROLES))
