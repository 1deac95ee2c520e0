"""Pages and downloads for datasets (the full web interface comes with its own issue)."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, request, send_file

from ..auth.service import authenticate_headers
from ..db import get_session
from ..errors import NotAuthorized, NotFound
from .resources import get_resource, upload_path

bp = Blueprint("datasets", __name__)


@bp.route("/dataset/<dataset_id>/resource/<resource_id>/download/<filename>")
def download(dataset_id: str, resource_id: str, filename: str):
    """Serve an uploaded resource file to those who may read its dataset."""
    session = get_session()
    try:
        actor, _token = authenticate_headers(session, request.headers)
        if actor is None:  # a logged-in browser (the dataset page's download links)
            from ..web.login import browser_user

            actor = browser_user()
        resource = get_resource(session, actor, resource_id)
    except (NotFound, NotAuthorized):
        abort(404)
    if dataset_id not in (resource.package_id, resource.dataset.name):
        abort(404)
    path = upload_path(current_app.config["STORAGE_PATH"], resource)
    if path is None or path.name != filename:
        abort(404)
    return send_file(path, mimetype=resource.mimetype or None, as_attachment=True,
                     download_name=filename)
