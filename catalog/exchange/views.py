"""Downloads of the whole catalog (or one department's part): the compilation sheet and DCAT-AP.

The caller is the one named by the API token header, as for every other route; errors answer with
the API's envelope (``catalog.api`` owns the status codes), never a 500.
"""
from __future__ import annotations

import tempfile

from flask import Blueprint, Response, current_app, request, send_file

from ..api.dispatcher import envelope_error
from ..auth.service import authenticate_headers
from ..db import get_session
from ..errors import BadRequest, CatalogError
from .xlsx import export_workbook
from ..datasets.service import show_dataset
from .dcat import Page, catalog_graph, dataset_graph, serialize

bp = Blueprint("exchange", __name__)

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@bp.route("/catalog.xlsx")
def catalog_xlsx() -> Response:
    """The compilation sheet of the datasets the caller may read (``?organization=`` for one department)."""
    session = get_session()
    organization = request.args.get("organization") or None
    # Spooled: small catalogs stay in memory, large ones go to disk instead of filling it.
    out = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)
    try:
        actor, _token = authenticate_headers(session, request.headers)
        export_workbook(session, actor, out, organization=organization)
    except CatalogError as error:
        out.close()
        return envelope_error("catalog_export", error)
    out.seek(0)
    filename = f"catalog-{organization}.xlsx" if organization else "catalog.xlsx"
    return send_file(out, mimetype=XLSX_MIMETYPE, as_attachment=True, download_name=filename)


def _dcat_catalog(extension: str) -> Response:
    session = get_session()
    try:
        actor, _token = authenticate_headers(session, request.headers)
        page = Page.from_args(request.args)
        graph, links = catalog_graph(session, actor, page, site_url=current_app.config["SITE_URL"],
                                     page_url=request.base_url, title=current_app.config["SITE_TITLE"])
    except CatalogError as error:
        return envelope_error("catalog_export", error)
    body, media = serialize(graph, extension)
    response = Response(body, mimetype=media)
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for rel, url in links.items())
    response.vary.add("Authorization")
    return response


@bp.route("/catalog.ttl")
def catalog_ttl() -> Response:
    """The catalog as DCAT-AP 3 Turtle, paged with ``?page=&page_size=`` (Hydra links and Link headers)."""
    return _dcat_catalog("ttl")


@bp.route("/catalog.jsonld")
def catalog_jsonld() -> Response:
    """The catalog as DCAT-AP 3 JSON-LD."""
    return _dcat_catalog("jsonld")


@bp.route("/catalog.rdf")
def catalog_rdf() -> Response:
    """The catalog as DCAT-AP 3 RDF/XML."""
    return _dcat_catalog("rdf")


#: media types a client may ask /catalog for, and the export format of each
NEGOTIATED = {"text/turtle": "ttl", "application/x-turtle": "ttl", "application/ld+json": "jsonld",
              "application/json": "jsonld", "application/rdf+xml": "rdf", "application/xml": "rdf"}


@bp.route("/catalog")
def catalog_negotiated() -> Response:
    """The catalog in the RDF format the ``Accept`` header prefers (Turtle for ``*/*``); 406 otherwise."""
    best = request.accept_mimetypes.best_match(list(NEGOTIATED)) if request.accept_mimetypes else "text/turtle"
    if best is None:
        return envelope_error("catalog_export", BadRequest(
            "The catalog is offered as text/turtle, application/ld+json or application/rdf+xml"), 406)
    return _dcat_catalog(NEGOTIATED[best])


def _dcat_dataset(dataset_id: str, extension: str) -> Response:
    session = get_session()
    try:
        actor, _token = authenticate_headers(session, request.headers)
        dataset = show_dataset(session, actor, dataset_id)
    except CatalogError as error:
        return envelope_error("package_show", error)
    body, media = serialize(dataset_graph(session, actor, dataset, site_url=current_app.config["SITE_URL"]),
                            extension)
    response = Response(body, mimetype=media)
    response.vary.add("Authorization")
    return response


@bp.route("/dataset/<dataset_id>.ttl")
def dataset_ttl(dataset_id: str) -> Response:
    """One dataset as DCAT-AP 3 Turtle."""
    return _dcat_dataset(dataset_id, "ttl")


@bp.route("/dataset/<dataset_id>.jsonld")
def dataset_jsonld(dataset_id: str) -> Response:
    """One dataset as DCAT-AP 3 JSON-LD."""
    return _dcat_dataset(dataset_id, "jsonld")


@bp.route("/dataset/<dataset_id>.rdf")
def dataset_rdf(dataset_id: str) -> Response:
    """One dataset as DCAT-AP 3 RDF/XML."""
    return _dcat_dataset(dataset_id, "rdf")
