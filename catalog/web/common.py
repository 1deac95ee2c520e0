"""What every page shares: the blueprint, the actor, CSRF, error pages and small view helpers."""
from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

from ..auth import rules
from ..auth.models import User
from ..db import get_session
from ..errors import BROKER_DOWN, DATABASE_DOWN, OUTAGES, NotAuthorized, NotFound, Unavailable, unavailable
from ..messages import translate, translate_errors
from .login import browser_user

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")

csrf = CSRFProtect()

def actor() -> User | None:
    """The account behind this page request (browser login), or ``None``."""
    return browser_user()


def is_sysadmin() -> bool:
    """Whether the viewer is a sysadmin (the county data authority)."""
    return rules.is_sysadmin(actor())


def commit() -> None:
    """Commit the request's session: pages that change data commit once, at the end."""
    get_session().commit()


def messages(errors: dict[str, list[str]]) -> dict[str, list[str]]:
    """A service ValidationError's messages in the page language (catalog.messages)."""
    return translate_errors({field: msgs if isinstance(msgs, list) else [msgs] for field, msgs in errors.items()})


def safe_next(target: str | None, default: str) -> str:
    """A redirect target on this site only (a path), never another host."""
    if target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc and target.startswith("/") and not target.startswith("//") \
                and "\\" not in target:
            return target
    return default


def parse_date(raw: str | None) -> tuple[dt.date | None, bool]:
    """``(date, ok)``: a blank value is ``(None, True)``; a bad one ``(None, False)``."""
    raw = (raw or "").strip()
    if not raw:
        return None, True
    try:
        return dt.date.fromisoformat(raw), True
    except ValueError:
        return None, False


def int_arg(name: str, default: int, *, minimum: int = 0, maximum: int = 10_000) -> int:
    """An integer query parameter, clamped; bad input falls back to the default."""
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return max(minimum, min(maximum, value))


def login_redirect():
    """Send an anonymous visitor to the login page, coming back here afterwards."""
    return redirect(url_for("web.login", next=request.full_path.rstrip("?")))


def render_error(status: int, message: str | None = None):
    """The HTML error page for ``status``."""
    titles = {400: _("Bad request"), 403: _("Not allowed"), 404: _("Not found"),
              405: _("Method not allowed"), 413: _("Too large"), 429: _("Too many requests"),
              500: _("Something went wrong"), 503: _("Temporarily unavailable")}
    return render_template("errors/error.html", status=status, title=titles.get(status, str(status)),
                           message=message), status


def too_many_login_attempts(retry_after: int):
    """The 429 page for an address over its login budget (catalog/security.py), with Retry-After."""
    message = _("Too many login attempts from your address; try again in %(seconds)s seconds.",
                seconds=retry_after)
    response = current_app.make_response(render_error(429, message))
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(NotFound)
def _not_found(error: NotFound):
    return render_error(404, translate(error.message))


@bp.errorhandler(NotAuthorized)
def _not_authorized(error: NotAuthorized):
    if actor() is None:
        return login_redirect()
    return render_error(403, translate(error.message))


@bp.errorhandler(CSRFError)
def _csrf_error(error: CSRFError):
    return render_error(400, _("The form has expired or did not come from this site; reload the page "
                               "and try again."))


def _html_error(error: HTTPException):
    # The Action API answers in its own JSON envelope; every other path gets a page.
    if request.path.startswith("/api/"):
        return error
    # A message given to abort() says what was wrong; Werkzeug's stock text is left out (English only).
    custom = error.description if error.description != type(error).description else None
    return render_error(error.code or 500, custom)


def init_csrf(app: Flask) -> None:
    """CSRF tokens on every form of these pages.

    Only these pages read the browser's login cookie, so only they can be forged across sites; every
    other route (the Action API, DataStore, exchange) authenticates by token header and stays exempt,
    so CKAN clients keep posting without a CSRF token.
    """
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the browser session's life
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    csrf.exempt(app.blueprints["api"])


@bp.before_request
def _check_csrf() -> None:
    csrf.protect()


def _dependency_down(error: Exception):
    """The database or the broker cannot be reached: a plain 503 page in the user's language (the JSON
    envelope on the API's paths), with Retry-After, and one log line per outage (not a traceback)."""
    down = unavailable(error) or Unavailable("database", str(error))
    OUTAGES.failed(down.dependency, down.cause, current_app.logger)
    g.dependency_down = True
    try:
        get_session().invalidate()
    except Exception:  # noqa: BLE001 - the connection is already gone
        pass
    if request.path.startswith("/api/"):
        response = jsonify({"success": False, "error": {"__type": "Service Unavailable", "message": down.message}})
        response.status_code = 503
    else:
        response = current_app.make_response(render_error(503, _(
            "The service cannot reach its database or its task queue at the moment; please try again in a "
            "minute.")))
    response.headers["Retry-After"] = str(down.retry_after)
    return response


def init_error_pages(app: Flask) -> None:
    """HTML pages for 400/403/404/405/413 and a non-revealing 500 outside the API."""
    for code in (400, 403, 404, 405, 413):
        app.register_error_handler(code, _html_error)
    app.register_error_handler(CSRFError, _csrf_error)

    @app.errorhandler(500)
    def _server_error(error):
        if request.path.startswith("/api/"):
            return error
        current_app.logger.exception("unexpected error on %s", request.path)
        return render_error(500)

    for kind in (Unavailable, *DATABASE_DOWN, *BROKER_DOWN):
        app.register_error_handler(kind, _dependency_down)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        if g.get("dependency_down"):  # the page says so without asking the database who is logged in
            return {"viewer": None, "viewer_is_sysadmin": False}
        viewer = actor()
        return {"viewer": viewer, "viewer_is_sysadmin": rules.is_sysadmin(viewer)}
