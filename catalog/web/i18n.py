"""Languages: Chinese (default) and English, chosen by the switch (kept in the session) or Accept-Language."""
from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, get_locale

#: Locale code -> the language key used by the schemas' x-labels.
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"


def select_locale() -> str:
    """The switch's choice, else the browser's preference, else Chinese."""
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(list(LANGUAGES), default=DEFAULT) or DEFAULT


def lang() -> str:
    """The current page language as the schemas name it: ``zh`` or ``en``."""
    locale = get_locale()
    return "en" if locale is not None and locale.language == "en" else "zh"


def html_lang() -> str:
    """The ``lang`` attribute of the page."""
    return "en" if lang() == "en" else "zh-CN"


def init_app(app: Flask) -> None:
    """Flask-Babel with the catalogs in catalog/translations (compiled .mo files are committed)."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(lang=lang, html_lang=html_lang, LANGUAGES=LANGUAGES)
