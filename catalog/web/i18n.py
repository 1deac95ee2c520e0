"""Languages: Chinese (default) and English, chosen by the switch (kept in the session) or Accept-Language.

The Action API answers in the language the request's
Accept-Language asks for, as CKAN's API does, and in English when it asks for none: their clients read the
stable English codes, and a script that states no language gets the text it always got."""
from __future__ import annotations

from flask import Flask, request, session
from flask_babel import Babel, get_locale

from ..messages import translate, translate_log_line

#: Locale code -> the language key used by the schemas' x-labels.
LANGUAGES = {"zh": "中文", "en": "English"}
DEFAULT = "zh"
#: Path prefixes answered to programs rather than pages (their refusals still name fields in English).
MACHINE_PATHS = ("/api/",)


def select_locale() -> str:
    """The switch's choice, else the browser's preference, else Chinese (English for the API's paths)."""
    if request.path.startswith(MACHINE_PATHS):
        return asked_for(default="en")
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return asked_for(default=DEFAULT)


def asked_for(*, default: str) -> str:
    """The first of our languages in Accept-Language, by quality: ``en-US`` counts as ``en`` (Werkzeug's
    best_match would prefer an exact ``zh;q=0.5`` to it)."""
    for value, _quality in request.accept_languages:  # sorted by quality, best first
        primary = value.split("-")[0].split("_")[0].lower()
        if primary in LANGUAGES:
            return primary
    return default


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
    app.jinja_env.filters["message"] = translate
    app.jinja_env.filters["log_line"] = translate_log_line
