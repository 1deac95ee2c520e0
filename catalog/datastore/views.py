"""Streaming dumps of a resource's records: ``/datastore/dump/<resource_id>?format=csv|json``."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, request, stream_with_context

from ..auth.models import User
from ..auth.service import authenticate_headers, token_secret_from
from ..db import get_db, get_session
from ..errors import CatalogError
from ..objections import flags
from ..sharing.reading import open_reader
from ..web.login import browser_user
from . import query, service

bp = Blueprint("datastore", __name__)


@bp.route("/datastore/dump/<resource_id>")
def dump(resource_id: str) -> Response:
    """Every live record, streamed without loading them all into memory."""
    fmt = request.args.get("format", "csv").lower()
    if fmt not in ("csv", "json"):
        abort(400, "format must be csv or json")
    # Without a token, the browser's logged-in account (the dataset page's link) is the caller, under
    # the same share rules and access log; it is looked up before the stream's own session opens.
    web_actor = browser_user() if token_secret_from(request.headers) is None else None
    web_actor_id = web_actor.id if web_actor is not None else None
    get_session().rollback()  # the request's session reads nothing more; its transaction ends here
    # The stream outlives the request's session, so it gets its own.
    session = get_db().session()
    try:
        actor, token = authenticate_headers(session, request.headers)
        if actor is None and token is None and web_actor_id is not None:
            actor = session.get(User, web_actor_id)
        table = service.read_table(session, resource_id)
        reader = open_reader(session, actor, table)
    except CatalogError:
        session.close()
        abort(404)
    # A JSON dump for a reader who sees the records as stored (nothing masked, no undeclared field left out)
    # sends each record's stored JSON text, not decoded and encoded again; flags are added as before
    texts = fmt == "json" and not reader.masked and reader.declared is None
    header = [] if texts else [f["id"] for f in table.fields] + flags.csv_columns(session, table)
    bom = request.args.get("bom", "").lower() in ("1", "true", "yes")
    rows = flags.flag_text_stream(session, table, query.iter_record_texts(session, table)) if texts else \
        flags.flag_stream(session, table, query.iter_records(session, table), reader.mask)
    sent = 0

    def counted(items):
        nonlocal sent
        for item in items:
            sent += 1
            yield item

    rows = counted(rows)

    def generate():
        try:
            if fmt == "csv":
                if bom:
                    yield "\ufeff"
                yield from query.csv_lines(header, rows)
            else:
                yield "["
                for index, record in enumerate(rows):
                    yield ("," if index else "") + (record if texts else json.dumps(record, ensure_ascii=False))
                yield "]"
        finally:
            # Log what was actually sent, even when the client stopped reading half way.
            session.rollback()
            reader.log(session, action="datastore_dump", params={"format": fmt}, count=sent)
            session.commit()
            session.close()

    mimetype = "text/csv" if fmt == "csv" else "application/json"
    response = Response(stream_with_context(generate()), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{resource_id}.{fmt}"'
    return response
