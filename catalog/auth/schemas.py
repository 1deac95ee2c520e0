"""What crosses the API for accounts and tokens."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from ..api.fields import MAX_OFFSET, CkanDateTime, ParamsSchema, id_field, limit_field, offset_field, query_field


class UserOut(Schema):
    """A user account as the API shows it (email only to the user and sysadmins)."""

    id = fields.String()
    name = fields.String()
    fullname = fields.String(allow_none=True)
    display_name = fields.Function(lambda u: u.fullname or u.name)
    email = fields.String(allow_none=True)
    about = fields.String(allow_none=True)
    sysadmin = fields.Boolean()
    state = fields.String()
    created = CkanDateTime()


class TokenOut(Schema):
    """An API token's metadata (never its secret)."""

    id = fields.String()
    name = fields.String()
    user_id = fields.String()
    scope = fields.String()
    created_at = CkanDateTime(attribute="created")
    expires_at = CkanDateTime(allow_none=True)
    last_access = CkanDateTime(attribute="last_used", allow_none=True)


class UserCreateParams(ParamsSchema):
    name = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9_-]{2,100}$", error="must be 2 to 100 lower-case letters, digits, - or _"))
    password = fields.String(required=True, load_only=True)
    email = fields.Email(load_default=None, allow_none=True)
    fullname = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=200))
    about = fields.String(load_default=None, allow_none=True)
    sysadmin = fields.Boolean(load_default=False)


class UserShowParams(ParamsSchema):
    id = id_field("user id or name")


class UserListParams(ParamsSchema):
    q = query_field()
    order_by = fields.String(load_default="name", validate=validate.OneOf(["name", "created"]))
    limit = limit_field(100, 1000)
    offset = offset_field()


class TokenCreateParams(ParamsSchema):
    user = id_field("the user the token acts as")
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    scope = fields.String(load_default="write", validate=validate.OneOf(["read", "write"]))
    expires_in = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=MAX_OFFSET),
                                metadata={"description": "lifetime, in units of `unit` seconds"})
    unit = fields.Integer(load_default=86400, validate=validate.Range(min=1, max=MAX_OFFSET),
                          metadata={"description": "seconds per expires_in unit (default: one day)"})


class TokenListParams(ParamsSchema):
    user = fields.String(load_default=None, metadata={"description": "user id or name (default: you)"})
    user_id = fields.String(load_default=None)


class TokenRevokeParams(ParamsSchema):
    token = fields.String(load_default=None, metadata={"description": "the token secret"})
    jti = fields.String(load_default=None, metadata={"description": "the token id"})
