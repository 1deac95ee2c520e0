"""CKAN actions for users and API tokens."""
from __future__ import annotations


from ..api.registry import ActionContext, action
from ..config import MAX_TOKEN_DAYS
from ..errors import NotAuthorized, ValidationError
from . import rules, service
from .schemas import (TokenCreateParams, TokenListParams, TokenOut, TokenRevokeParams,
                      UserCreateParams, UserListParams, UserOut, UserShowParams)


def user_dict(ctx: ActionContext, user) -> dict:
    """A user as the actor may see it."""
    data = UserOut().dump(user)
    if not rules.can_see_private_user_fields(ctx.actor, user):
        data.pop("email", None)
    return data


@action("user_create", params=UserCreateParams, result=UserOut)
def user_create(ctx: ActionContext, data: dict) -> dict:
    """Create a user account (sysadmins only)."""
    if data["sysadmin"] and not rules.is_sysadmin(ctx.actor):
        raise NotAuthorized("Only sysadmins can create sysadmins")
    user = service.create_user(ctx.session, ctx.actor, **data)
    return user_dict(ctx, user)


@action("user_show", params=UserShowParams, result=UserOut, read_only=True)
def user_show(ctx: ActionContext, data: dict) -> dict:
    """Show a user account by id or name: to that user, sysadmins and the admins of its departments."""
    return user_dict(ctx, service.show_user(ctx.session, ctx.actor, data["id"]))


@action("user_list", params=UserListParams, result=[UserOut], read_only=True)
def user_list(ctx: ActionContext, data: dict) -> list:
    """List user accounts, optionally filtered by ``q``: all to sysadmins, their members to department admins."""
    return [user_dict(ctx, u) for u in service.list_users(ctx.session, ctx.actor, **data)]


def _token_user(ctx: ActionContext, id_or_name: str | None):
    if id_or_name:
        return service.show_user(ctx.session, ctx.actor, id_or_name)
    if ctx.actor is None:
        raise NotAuthorized("Log in or give an API token")
    return ctx.actor


@action("api_token_create", params=TokenCreateParams,
        result={"type": "object", "properties": {"token": {"type": "string"}, "id": {"type": "string"},
                                                 "expires_at": {"type": "string", "nullable": True}}})
def api_token_create(ctx: ActionContext, data: dict) -> dict:
    """Create an API token for a user; the token is shown in this answer only."""
    user = _token_user(ctx, data["user"])
    if data["expires_in"] is not None:
        # Compare whole seconds before dividing: a huge expires_in * unit overflows a float.
        seconds = data["expires_in"] * data["unit"]
        if seconds > MAX_TOKEN_DAYS * 86400:
            raise ValidationError.single("expires_in", "a token can live at most 10 years")
        days = seconds / 86400
    else:
        days = ctx.config["TOKEN_DEFAULT_DAYS"]   # 1 to 3650, checked when the app starts (catalog/config.py)
    token, secret = service.create_token(ctx.session, ctx.actor, user=user, name=data["name"],
                                         scope=data["scope"], expires_in_days=days)
    dumped = TokenOut().dump(token)
    return {"token": secret, "id": token.id, "expires_at": dumped["expires_at"], "scope": token.scope}


@action("api_token_list", params=TokenListParams, result=[TokenOut], read_only=True)
def api_token_list(ctx: ActionContext, data: dict) -> list:
    """List a user's API tokens that are not revoked (never their secrets)."""
    user = _token_user(ctx, data["user"] or data["user_id"])
    return TokenOut(many=True).dump(service.list_tokens(ctx.session, ctx.actor, user=user))


@action("api_token_revoke", params=TokenRevokeParams, result={"type": "object", "nullable": True})
def api_token_revoke(ctx: ActionContext, data: dict) -> None:
    """Revoke an API token, given its secret (``token``) or its id (``jti``); effective at once."""
    if not data["token"] and not data["jti"]:
        raise ValidationError.single("jti", "Missing value: give token or jti")
    service.revoke_token(ctx.session, ctx.actor, token_id=data["jti"], secret=data["token"])
    return None
