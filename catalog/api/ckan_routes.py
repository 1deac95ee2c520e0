"""CKAN's core routes beside the Action API that clients call: format autocompletion (API v2) and the
JavaScript translations of ``/api/i18n/<lang>``."""
from __future__ import annotations

from flask import Response, jsonify, request

from ..datasets.lookups import autocomplete_formats
from ..db import get_session
from ..web.i18n import LANGUAGES
from .dispatcher import bp

#: The most formats /api/2/util/resource/format_autocomplete returns (CKAN's ``limit`` default is 5).
MAX_FORMATS = 1000


@bp.route("/api/2/util/resource/format_autocomplete")
def format_autocomplete_v2() -> Response:
    """``{"ResultSet": {"Result": [{"Format": "csv"}, …]}}`` for ``incomplete``, as CKAN's v2 util route."""
    incomplete = (request.args.get("incomplete") or "")[:100]
    try:
        limit = int(request.args.get("limit", 5))
    except ValueError:
        return _bad("limit", "must be an integer")
    if not 0 <= limit <= MAX_FORMATS:
        return _bad("limit", f"must be between 0 and {MAX_FORMATS}")
    formats = autocomplete_formats(get_session(), incomplete, limit=limit) if incomplete else []
    return jsonify({"ResultSet": {"Result": [{"Format": value} for value in formats]}})


@bp.route("/api/i18n/<lang>")
def i18n(lang: str) -> Response:
    """The translations CKAN's front-end JavaScript asks for: ``{}`` for a language we serve (our pages
    carry no CKAN JavaScript), 404 for one we do not."""
    if lang.split("_")[0] not in LANGUAGES:
        response = jsonify({"success": False, "error": {"__type": "Not Found Error",
                                                        "message": f"Language not found: {lang}"}})
        response.status_code = 404
        return response
    return jsonify({})


def _bad(field: str, message: str) -> Response:
    response = jsonify({"success": False, "error": {"__type": "Validation Error", field: [message]}})
    response.status_code = 409
    return response
