"""Accounts and API tokens: create, read, authenticate, revoke."""
from __future__ import annotations

import datetime as dt
import functools

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from ..config import DEFAULT_TOKEN_DAYS, MAX_TOKEN_DAYS
from ..db import utcnow
from ..errors import NotAuthorized, NotFound, ValidationError
from . import rules
from .models import ApiToken, User
from .passwords import (MIN_PASSWORD_LENGTH, hash_password, new_token_secret, password_matches,
                        token_digest)

#: How often ``last_used`` is written for a token that keeps being used.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def get_user(session: Session, id_or_name: str) -> User:
    """The active user with this id or name, or :class:`NotFound`."""
    user = session.scalar(sa.select(User).where(
        sa.or_(User.id == id_or_name, User.name == id_or_name), User.state == "active"))
    if user is None:
        raise NotFound(f"User not found: {id_or_name}")
    return user


def show_user(session: Session, actor: User | None, id_or_name: str) -> User:
    """The account, if the actor may see it (:func:`rules.can_see_user`).

    Only sysadmins are told that an account does not exist: to anyone else a missing account and one
    they may not see get the same refusal, so user_show cannot be used to find out which names exist.
    """
    refusal = f"You cannot see the account {id_or_name}"
    rules.require(actor is not None, refusal)
    try:
        user = get_user(session, id_or_name)
    except NotFound:
        rules.require(rules.is_sysadmin(actor), refusal)
        raise
    rules.require(rules.can_see_user(session, actor, user), refusal)
    return user


def create_user(session: Session, actor: User | None, *, name: str, password: str,
                email: str | None = None, fullname: str | None = None, about: str | None = None,
                sysadmin: bool = False, check_auth: bool = True) -> User:
    """Create an account; only sysadmins may, except for the CLI (``check_auth=False``)."""
    if check_auth:
        rules.require(rules.can_create_user(actor), "Only sysadmins can create user accounts")
    errors: dict[str, list[str]] = {}
    if session.scalar(sa.select(User.id).where(User.name == name)):
        errors["name"] = [f"The user name {name} is already taken"]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"must be at least {MIN_PASSWORD_LENGTH} characters"]
    if errors:
        raise ValidationError(errors)
    user = User(name=name, email=email, fullname=fullname, about=about, sysadmin=sysadmin,
                password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def list_users(session: Session, actor: User | None, *, q: str | None = None, order_by: str = "name",
               offset: int = 0, limit: int = 100) -> list[User]:
    """Active users the actor may see (sysadmins: all; department admins: their members and themselves),
    optionally filtered by a substring of the name or full name."""
    rules.require(rules.can_list_users(session, actor),
                  "Only sysadmins and department admins can list user accounts")
    query = sa.select(User).where(User.state == "active", rules.visible_users_clause(actor, User.__table__))
    if q:
        # autoescape: a "_" or "%" in q is a character to find, not a LIKE wildcard.
        needle = q.lower()
        query = query.where(sa.or_(sa.func.lower(User.name).contains(needle, autoescape=True),
                                   sa.func.lower(User.fullname).contains(needle, autoescape=True)))
    order = User.created if order_by == "created" else User.name   # user_list's parameters allow only these two
    return list(session.scalars(query.order_by(order, User.id).offset(offset).limit(limit)))


def authenticate_password(session: Session, name: str, password: str) -> User | None:
    """The user whose name and password match, or ``None``."""
    user = session.scalar(sa.select(User).where(User.name == name, User.state == "active"))
    if user is not None and password_matches(user.password_hash, password):
        return user
    return None


def create_token(session: Session, actor: User | None, *, user: User, name: str,
                 scope: str = "write", expires_in_days: float = DEFAULT_TOKEN_DAYS,
                 check_auth: bool = True) -> tuple[ApiToken, str]:
    """Create an API token for ``user``; the secret is returned once and never stored.

    Every token expires: ``expires_in_days`` is more than 0 and at most :data:`MAX_TOKEN_DAYS` (10 years)."""
    if check_auth:
        rules.require(rules.can_manage_tokens(actor, user),
                      "You can only create API tokens for your own account")
    if not 0 < expires_in_days <= MAX_TOKEN_DAYS:
        raise ValidationError.single("expires_in", f"a token lives more than 0 and at most {MAX_TOKEN_DAYS} days")
    secret = new_token_secret()
    expires = utcnow() + dt.timedelta(days=expires_in_days)
    token = ApiToken(user_id=user.id, name=name, scope=scope, expires_at=expires,
                     token_hash=token_digest(secret))
    session.add(token)
    session.flush()
    return token, secret


def list_tokens(session: Session, actor: User | None, *, user: User) -> list[ApiToken]:
    """The user's tokens that are not revoked, newest first."""
    rules.require(rules.can_manage_tokens(actor, user), "You can only list your own API tokens")
    return list(session.scalars(sa.select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).order_by(
        ApiToken.created.desc(), ApiToken.id)))


def revoke_token(session: Session, actor: User | None, *, token_id: str | None = None,
                 secret: str | None = None) -> ApiToken:
    """Revoke a token by its id (``jti``) or by its secret; effective at once."""
    if secret:
        token = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == token_digest(secret)))
    else:
        token = session.get(ApiToken, token_id) if token_id else None
    if token is None:
        raise NotFound("API token not found")
    rules.require(rules.can_manage_tokens(actor, token.user), "You can only revoke your own API tokens")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
    return token


@functools.cache
def _token_statement() -> sa.Select:
    """The token with its account and the account's departments, in one query: every API call
    authenticates, and every read checks the share rules with the reader's departments (two round trips
    fewer each). Built once, the digest a bound parameter (building it on every call was a tenth of a key
    lookup's CPU: docs/PERFORMANCE.md, sixth pass); read fresh from the database on every call."""
    return (sa.select(ApiToken).options(joinedload(ApiToken.user).joinedload(User.memberships))
            .where(ApiToken.token_hash == sa.bindparam("token_digest", type_=sa.String)))


def authenticate_token(session: Session, secret: str) -> tuple[User, ApiToken]:
    """The user and token of a presented secret; :class:`NotAuthorized` when it is not valid now."""
    token = session.execute(_token_statement(),
                            {"token_digest": token_digest(secret)}).unique().scalar_one_or_none()
    now = utcnow()
    if token is None or token.revoked_at is not None:
        raise NotAuthorized("The API token is not valid (unknown or revoked)")
    if token.expires_at is not None and token.expires_at <= now:
        raise NotAuthorized("The API token has expired")
    if token.user.state != "active":
        raise NotAuthorized("The API token's account is disabled")
    if token.last_used is None or now - token.last_used > LAST_USED_RESOLUTION:
        token.last_used = now
    return token.user, token


def token_secret_from(headers) -> str | None:
    """The token secret in an ``Authorization`` (raw or ``Bearer``) or ``X-CKAN-API-Key`` header."""
    header = headers.get("Authorization") or headers.get("X-CKAN-API-Key")
    if not header or not header.strip():
        return None
    secret = header.strip()
    if secret.lower().startswith("bearer "):
        secret = secret[7:].strip()
    return secret


def authenticate_headers(session: Session, headers) -> tuple[User | None, ApiToken | None]:
    """The actor named by the request's token header; ``(None, None)`` when there is none."""
    secret = token_secret_from(headers)
    if secret is None:
        return None, None
    return authenticate_token(session, secret)


def change_password(session: Session, actor: User | None, user: User, *, new_password: str,
                    current_password: str | None = None, check_auth: bool = True) -> User:
    """Set a new password: the account's owner gives the current one (a sysadmin too, for their own); a
    sysadmin resets anyone else's without it; the CLI (``check_auth=False``) resets any. 409 naming the
    field when refused."""
    if check_auth:
        own = actor is not None and actor.id == user.id
        rules.require(own or rules.is_sysadmin(actor), "Only the account's owner or a sysadmin can set its password")
        if own and not password_matches(user.password_hash, current_password or ""):
            raise ValidationError.single("current_password", "is not your current password")
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValidationError.single("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    user.password_hash = hash_password(new_password)
    session.flush()
    return user
