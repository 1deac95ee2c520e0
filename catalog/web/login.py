"""The browser session (Flask-Login). The Action API keeps its token authentication."""
from __future__ import annotations

from flask import Flask, g
from flask_login import LoginManager, UserMixin, current_user

from ..auth.models import User
from ..db import get_session


class SessionUser(UserMixin):
    """The logged-in account as Flask-Login sees it: only the id lives in the session cookie."""

    def __init__(self, user_id: str):
        self.id = user_id


def _load(user_id: str) -> SessionUser | None:
    user = get_session().get(User, user_id)
    if user is None or user.state != "active":
        return None
    return SessionUser(user.id)


def browser_user() -> User | None:
    """The account logged in through the browser in this request, or ``None``."""
    if "web_actor" not in g:
        g.web_actor = None
        if current_user and current_user.is_authenticated:
            g.web_actor = get_session().get(User, current_user.id)
    return g.web_actor


def init_app(app: Flask) -> None:
    """Log-in page, the user loader, and Flask-Login's basic session protection."""
    manager = LoginManager()
    manager.login_view = "web.login"
    manager.login_message = None  # the login page says why itself
    manager.session_protection = "basic"
    manager.user_loader(_load)
    manager.init_app(app)
