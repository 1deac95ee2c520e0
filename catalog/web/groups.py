"""Themes (主题, CKAN groups): the GB/T 21063.4 theme items and the datasets filed under each."""
from __future__ import annotations

from flask import abort, render_template, request

from ..db import get_session
from ..errors import NotFound
from ..groups.service import get_theme, list_themes, theme_counts, theme_datasets
from ..groups.themes import theme_title
from . import metadata
from .common import actor, bp, int_arg
from .i18n import lang

PAGE_SIZE = 20


@bp.route("/group")
def groups():
    """Every theme with the number of datasets the viewer can see under it."""
    session = get_session()
    q = request.args.get("q", "")[:100]
    codes = list_themes(session, actor(), q=q or None, sort="name asc", lang=lang())
    counts = theme_counts(session, actor(), codes)
    themes = [(code, theme_title(code, lang()), counts.get(code, 0)) for code in codes]
    return render_template("group/list.html", themes=themes, q=q)


@bp.route("/group/<name>")
def group_page(name: str):
    """One theme: the datasets filed under it that the viewer may read, the last changed first."""
    session = get_session()
    try:
        code = get_theme(name)
    except NotFound:
        abort(404)
    viewer = actor()
    count = theme_counts(session, viewer, [code]).get(code, 0)
    pages = max(1, -(-count // PAGE_SIZE))
    page = int_arg("page", 1, minimum=1, maximum=pages)
    datasets = theme_datasets(session, viewer, code, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
    return render_template("group/show.html", code=code, title=theme_title(code, lang()), datasets=datasets,
                           count=count, page=page, pages=pages,
                           share_label=lambda v: metadata.choice_label("share_type", v),
                           state_label=lambda v: metadata.choice_label("state", v))
