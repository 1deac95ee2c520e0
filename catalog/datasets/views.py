"""Pages and downloads for datasets (the full web interface comes with its own issue)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, request, send_file

from ..auth.service import authenticate_headers
from ..db import get_session
from ..errors import NotAuthorized, NotFound
from ..sharing.reading import open_file
from ..web.login import browser_user
from .resources import get_resource, upload_path

bp = Blueprint("datasets", __name__)


@bp.route("/dataset/<dataset_id>/resource/<resource_id>/download/<filename>")
def download(dataset_id: str, resource_id: str, filename: str):
    """Serve an uploaded resource file under its dataset's share rules, and log the download.

    The caller is the request's API token or, without one, the browser's logged-in account (the
    dataset page's links). No such file, or a dataset the caller cannot see: 404. A dataset the
    caller sees whose files the share rules keep from them: 403 with the reason.
    """
    session = get_session()
    try:
        actor, token = authenticate_headers(session, request.headers)
    except NotAuthorized as refusal:  # an unknown, expired or revoked token is never taken as anonymous
        abort(403, refusal.message)
    actor = actor or browser_user()
    try:
        resource = get_resource(session, actor, resource_id)
    except (NotFound, NotAuthorized):
        abort(404)
    if dataset_id not in (resource.package_id, resource.dataset.name):
        abort(404)
    path = upload_path(current_app.config["STORAGE_PATH"], resource)
    if path is None or path.name != filename:
        abort(404)
    try:
        reader = open_file(session, actor, resource)
    except NotAuthorized as refusal:
        # An API client gets the reason (English, like the API's); a browser the page's own
        # translated "not allowed", as the web interface speaks the viewer's language.
        abort(403, refusal.message if token is not None else None)
    reader.log(session, filename=filename)
    session.commit()  # the download is in the access log before a byte is sent
    return send_file(path, mimetype=resource.mimetype or None, as_attachment=True, download_name=filename)
