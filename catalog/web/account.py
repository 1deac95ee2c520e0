"""Log in and out, the account page (API tokens: create, shown once, revoke) and the language switch."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from ..auth import rules
from ..auth.service import (authenticate_password, change_password, create_token, create_user, get_user,
                            list_tokens, revoke_token, show_user)
from ..db import get_session
from ..departments.service import departments_of
from ..errors import NotFound, ValidationError
from .common import actor, bp, commit, messages, safe_next
from .i18n import LANGUAGES
from .login import SessionUser

TOKEN_DAYS = (30, 90, 365)


@bp.route("/user/login", methods=["GET", "POST"])
def login():
    """The login form; a wrong name or password says so without telling which."""
    target = safe_next(request.values.get("next"), url_for("web.dashboard"))
    error = None
    if request.method == "POST":
        name = (request.form.get("name") or "").strip()[:100]
        password = request.form.get("password") or ""
        user = authenticate_password(get_session(), name, password) if name and password else None
        if user is not None:
            login_user(SessionUser(user.id))
            return redirect(target)
        error = _("Wrong user name or password.")
    return render_template("account/login.html", next=target, error=error), 401 if error else 200


@bp.route("/user/logout", methods=["POST"])
def logout():
    """Log out (a POST with the form's CSRF token, so no other site can log you out)."""
    logout_user()
    flash(_("You have logged out."), "success")
    return redirect(url_for("web.search"))


def _account_page(user, *, new_secret: str | None = None, new_token=None, errors=None, status: int = 200):
    viewer = actor()
    own = rules.can_manage_tokens(viewer, user)
    tokens = list_tokens(get_session(), viewer, user=user) if own else []
    return render_template("account/user.html", user=user, own=own, tokens=tokens, new_secret=new_secret,
                           new_token=new_token, errors=errors or {}, token_days=TOKEN_DAYS,
                           memberships=departments_of(get_session(), user),
                           is_self=viewer is not None and viewer.id == user.id,
                           can_reset=rules.is_sysadmin(viewer) and viewer.id != user.id), status


@bp.route("/user/<name>")
@login_required
def user_page(name: str):
    """An account: its departments; for its owner (and sysadmins) its API tokens. Seen by whom user_show
    allows (the owner, sysadmins, admins of its departments); anyone else gets the same 403 for every name."""
    return _account_page(show_user(get_session(), actor(), name))


@bp.route("/user/<name>/tokens", methods=["POST"])
@login_required
def token_create(name: str):
    """Create an API token; its secret is shown on this page once and never again."""
    session_ = get_session()
    user = get_user(session_, name)
    label = (request.form.get("token_name") or "").strip()[:200]
    scope = request.form.get("scope") if request.form.get("scope") in ("read", "write") else "read"
    try:
        days = int(request.form.get("expires_in_days") or 365)
    except ValueError:
        days = 365
    if days not in TOKEN_DAYS:
        days = 365
    if not label:
        return _account_page(user, errors={"token_name": [_("Give the token a name.")]}, status=422)
    token, secret = create_token(session_, actor(), user=user, name=label, scope=scope, expires_in_days=days)
    commit()
    return _account_page(user, new_secret=secret, new_token=token)


@bp.route("/user/<name>/tokens/<token_id>/revoke", methods=["POST"])
@login_required
def token_revoke(name: str, token_id: str):
    """Revoke a token: every call with it is refused from now on."""
    session_ = get_session()
    user = get_user(session_, name)
    token = revoke_token(session_, actor(), token_id=token_id)
    if token.user_id != user.id:
        raise NotFound("API token not found")
    commit()
    flash(_("The token %(name)s was revoked.", name=token.name), "success")
    return redirect(url_for("web.user_page", name=user.name))


@bp.route("/lang/<code>")
def set_language(code: str):
    """Switch the page language (kept in the session cookie) and go back where you were."""
    if code in LANGUAGES:
        session["lang"] = code
    return redirect(safe_next(request.args.get("next"), url_for("web.search")))


@bp.route("/user/<name>/password", methods=["POST"])
@login_required
def password_change(name: str):
    """Change my own password (with the current one), or, as a sysadmin, reset another account's."""
    session_ = get_session()
    user = show_user(session_, actor(), name)
    new = request.form.get("password") or ""
    if new != (request.form.get("password_confirm") or ""):
        return _account_page(user, errors={"password_confirm": [_("The two passwords differ.")]}, status=422)
    try:
        change_password(session_, actor(), user, new_password=new,
                        current_password=request.form.get("current_password"))
    except ValidationError as invalid:
        session_.rollback()
        return _account_page(user, errors=messages(invalid.errors), status=422)
    commit()
    flash(_("The password was changed."), "success")
    return redirect(url_for("web.user_page", name=user.name))


@bp.route("/user/new", methods=["GET", "POST"])
@login_required
def user_new():
    """A sysadmin creates an account; a department admin then adds it to the department with a role."""
    rules.require(rules.is_sysadmin(actor()), _("Only the data authority (sysadmins) can create accounts."))
    values = {"name": "", "fullname": "", "email": ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {k: (request.form.get(k) or "").strip()[:100] for k in values}
        password = request.form.get("password") or ""
        if not values["name"]:
            errors["name"] = [_("Missing value")]
        elif password != (request.form.get("password_confirm") or ""):
            errors["password_confirm"] = [_("The two passwords differ.")]
        else:
            session_ = get_session()
            try:
                user = create_user(session_, actor(), name=values["name"], password=password,
                                   fullname=values["fullname"] or None, email=values["email"] or None)
            except ValidationError as invalid:
                session_.rollback()
                errors = messages(invalid.errors)
            else:
                commit()
                flash(_("The account %(name)s was created; add it to a department on the department's page.",
                        name=user.name), "success")
                return redirect(url_for("web.user_page", name=user.name))
    return render_template("account/new.html", values=values, errors=errors), 422 if errors else 200
