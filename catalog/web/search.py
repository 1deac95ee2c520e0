"""Home and search: words, facet filters, sorting and paging, all in the URL so results can be shared."""
from __future__ import annotations

import re
from urllib.parse import urlencode

from flask import render_template, request
from flask_babel import gettext as _
from markupsafe import Markup, escape

from ..db import get_session
from ..departments.service import list_departments
from ..errors import ValidationError
from ..search.service import facet_title, search_datasets
from . import labels, metadata
from .common import actor, bp, int_arg, messages
from .i18n import lang

#: Facets shown, in order (URL parameter = package_search field).
FACET_SHOWN = 10  # values per facet; "show more" asks for FACET_MORE
FACET_MORE = 100
FACETS = ("organization", "tags", "res_format", "share_type", "update_cycle", "category")
PAGE_SIZE = 20
MAX_PAGE = 500


def sort_options() -> list[tuple[str, str]]:
    """``(sort parameter, label)`` offered on the page."""
    return [("", _("Relevance")), ("metadata_modified desc", _("Last modified")),
            ("metadata_created desc", _("Newest")), ("title_string asc", _("Title A–Z"))]


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def selected_filters() -> dict[str, list[str]]:
    """The facet values chosen in the query string."""
    chosen = {}
    for name in FACETS:
        values = [v for v in request.args.getlist(name) if v.strip()][:20]
        if values:
            chosen[name] = list(dict.fromkeys(values))
    return chosen


def _url(args: dict[str, list[str] | str]) -> str:
    pairs = []
    for key, values in args.items():
        for value in values if isinstance(values, list) else [values]:
            if value not in ("", None):
                pairs.append((key, value))
    return "/dataset" + ("?" + urlencode(pairs) if pairs else "")


def highlight(text: str | None, terms: list[str], limit: int | None = None) -> Markup:
    """``text`` escaped, with the query words wrapped in <mark> (case-insensitive)."""
    text = text or ""
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + "…"
    words = sorted({t for t in terms if t and len(t.strip()) > 0}, key=len, reverse=True)
    if not words:
        return escape(text)
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[last:match.start()]))
        out.append(Markup("<mark>") + escape(match.group(0)) + Markup("</mark>"))
        last = match.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)


@bp.route("/")
@bp.route("/dataset")
def search():
    """Search the datasets the viewer may see."""
    q = request.args.get("q", "")[:200]
    sort = request.args.get("sort", "")
    if sort not in dict(sort_options()):
        sort = ""
    page = int_arg("page", 1, minimum=1, maximum=MAX_PAGE)
    chosen = selected_filters()
    more = request.args.get("more") in FACETS
    fq = [f"{name}:{_quote(value)}" for name, values in chosen.items() for value in values]
    error = None
    try:
        found = search_datasets(get_session(), actor(), q=q, fq=fq, sort=sort or None, rows=PAGE_SIZE,
                                start=(page - 1) * PAGE_SIZE, facet_fields=list(FACETS),
                                facet_limit=FACET_MORE if more else FACET_SHOWN,
                                lang=lang())
    except ValidationError as problem:
        error = "; ".join(m for msgs in messages(problem.errors).values() for m in msgs)  # the page's language
        found = search_datasets(get_session(), actor(), rows=0, facet_fields=[])

    base = {"q": q, "sort": sort, **chosen}
    facets = []
    for name in FACETS:
        items = []
        for value, display, count in found.facets.get(name, []):
            if name in ("share_type", "update_cycle"):
                display = metadata.choice_label(name, value)
            elif name == "category":
                display = labels.classification_label(value)
            active = value in chosen.get(name, [])
            values = [v for v in chosen.get(name, []) if v != value] if active else [*chosen.get(name, []), value]
            items.append({"value": value, "display": display, "count": count, "active": active,
                          "url": _url({**base, name: values})})
        if items:
            facets.append({"name": name, "title": facet_title(name, lang()), "items": items,
                           "more_url": _url({**base, "more": name}) if len(items) >= FACET_SHOWN and not more
                           else None})
    pages = max(1, -(-found.count // PAGE_SIZE))
    is_home = request.path == "/"
    departments = len(list_departments(get_session())) if is_home else 0
    results = [{
        "dataset": d,
        "title": highlight(d.title or d.name, found.terms),
        "notes": highlight(d.notes, found.terms, limit=240),
        "share_type": metadata.choice_label("share_type", d.share_type),
        "update_cycle": metadata.choice_label("update_cycle", d.update_cycle),
        "formats": sorted({(r.format or "").upper() for r in d.resources if r.format}),
    } for d in found.datasets]
    active_filters = [{"label": f"{facet_title(name, lang())}: {_display(name, value)}", "url": _url(
        {**base, name: [v for v in values if v != value]})} for name, values in chosen.items() for value in values]
    return render_template(
        "search.html", q=q, sort=sort, sort_options=sort_options(), count=found.count, results=results,
        facets=facets, active_filters=active_filters, page=page, pages=min(pages, MAX_PAGE), error=error,
        chosen=chosen, prev_url=_url({**base, "page": str(page - 1)}) if page > 1 else None,
        next_url=_url({**base, "page": str(page + 1)}) if page < pages and page < MAX_PAGE else None,
        clear_url=_url({"q": q}) if chosen else None, is_home=is_home, departments=departments,
        page_links=[(n, _url({**base, "page": str(n)}) if n else None)
                    for n in page_numbers(page, min(pages, MAX_PAGE))])


def _display(name: str, value: str) -> str:
    """A chosen facet value as the facet list shows it."""
    if name in ("share_type", "update_cycle"):
        return metadata.choice_label(name, value)
    if name == "category":
        return labels.classification_label(value)
    return value


def page_numbers(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: the first, the last and those near ``page``; ``None`` marks a gap."""
    wanted = {1, pages, *range(max(1, page - around), min(pages, page + around) + 1)}
    numbers: list[int | None] = []
    for n in sorted(wanted):
        if numbers and numbers[-1] is not None and n > numbers[-1] + 1:
            numbers.append(None)
        numbers.append(n)
    return numbers
