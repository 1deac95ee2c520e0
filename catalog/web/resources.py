"""Resources in the browser: add a link or an upload, edit, delete, and a resource page whose data
explorer pages and filters the records through the share rules' reader (masked and logged as any read)."""
from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..datasets.models import Dataset, Resource
from ..datasets.resources import (create_resource, delete_resource, get_resource, reorder_resources,
                                  update_resource)
from ..datasets.service import show_dataset
from ..datastore.models import DatastoreTable
from ..datastore.query import search_records
from ..db import get_session
from ..errors import NotAuthorized, NotFound, ValidationError
from ..sharing.reading import open_reader
from . import labels
from .common import actor, bp, commit, int_arg, messages
from .datasets import download_url, record_cells
from .search import page_numbers

EXPLORER_ROWS = 20
FORM_FIELDS = ("name", "description", "url", "format")


def _dataset_and_resource(name: str, resource_id: str) -> tuple[Dataset, Resource]:
    session = get_session()
    dataset = show_dataset(session, actor(), name)
    try:
        resource = get_resource(session, actor(), resource_id)
    except NotFound:
        abort(404)
    if resource.package_id != dataset.id:
        abort(404)
    return dataset, resource


def _require_editor(dataset: Dataset) -> None:
    rules.require(rules.can_edit_datasets_of(get_session(), actor(), dataset.owner_org),
                  _("You cannot change the resources of this dataset."))


def _explore(dataset: Dataset, table: DatastoreTable) -> dict[str, Any]:
    """One page of records as the viewer may read them; filters on top-level fields from ``f.<field>``."""
    session = get_session()
    schema = table.schema_document or None
    columns = labels.columns(schema, [f["id"] for f in table.fields])
    scalar = [c for c in columns if not c["sub"] and c["kind"] not in ("array", "object")]
    filters = {c["name"]: request.args[f"f.{c['name']}"].strip() for c in scalar
               if request.args.get(f"f.{c['name']}", "").strip()}
    page = int_arg("page", 1, minimum=1, maximum=100_000)
    explorer: dict[str, Any] = {"columns": columns, "filterable": scalar, "filters": filters, "page": page}
    try:
        reader = open_reader(session, actor(), table)
        reader.check_query(filters=filters or None)
        found = search_records(session, table, filters=filters or None, limit=EXPLORER_ROWS,
                               offset=(page - 1) * EXPLORER_ROWS)
    except NotAuthorized as refusal:
        explorer["refused"] = labels.refusal(refusal.message, schema)
        return explorer
    except ValidationError as invalid:
        explorer["errors"] = messages(invalid.errors)
        return explorer
    records = [reader.mask(r) for r in found["records"]]
    reader.log(session, action="web_explore", params={"filters": filters, "page": page}, count=len(records))
    total = found.get("total", 0)
    pages = max(1, -(-total // EXPLORER_ROWS))
    base = {f"f.{k}": v for k, v in filters.items()}
    explorer.update(total=total, pages=pages, rows=[record_cells(schema, columns, r) for r in records],
                    masked=[labels.field_label(schema, f) for f in sorted(reader.masked_fields)],
                    page_links=[(n, url_for("web.resource_page", name=dataset.name, resource_id=table.resource_id,
                                            page=n, **base) if n else None) for n in page_numbers(page, pages)])
    return explorer


@bp.route("/dataset/<name>/resource/<resource_id>")
def resource_page(name: str, resource_id: str):
    """A resource: its metadata, how to fetch it through the API, and its records in an explorer."""
    dataset, resource = _dataset_and_resource(name, resource_id)
    session = get_session()
    table = session.get(DatastoreTable, resource.id)
    explorer = _explore(dataset, table) if table is not None else None
    site = request.url_root.rstrip("/")
    examples = [{"title": "curl — resource_show",
                 "code": f'curl -H "Authorization: $CATALOG_TOKEN" '
                         f'"{site}/api/3/action/resource_show?id={resource.id}"'}]
    if table is not None:
        examples += [
            {"title": "curl — datastore_search",
             "code": f'curl -H "Authorization: $CATALOG_TOKEN" '
                     f'"{site}/api/3/action/datastore_search?resource_id={resource.id}&limit=5"'},
            {"title": "curl — CSV",
             "code": f'curl -H "Authorization: $CATALOG_TOKEN" -o data.csv '
                     f'"{site}/datastore/dump/{resource.id}?format=csv"'}]
    page = render_template("dataset/resource.html", dataset=dataset, resource=resource, explorer=explorer,
                           download=download_url(dataset, resource), examples=examples,
                           can_edit=rules.can_edit_datasets_of(session, actor(), dataset.owner_org))
    commit()  # the explorer's reads are in the access log
    return page


def _values() -> dict[str, Any]:
    return {f: (request.form.get(f) or "").strip() or None for f in FORM_FIELDS}


def _upload():
    file = request.files.get("upload")
    return (file.filename, file.stream) if file is not None and file.filename else None


@bp.route("/dataset/<name>/resource/new", methods=["GET", "POST"])
@login_required
def resource_new(name: str):
    """Add a link or upload a file."""
    session = get_session()
    dataset = show_dataset(session, actor(), name)
    _require_editor(dataset)
    errors: dict[str, list[str]] = {}
    values = {f: "" for f in FORM_FIELDS}
    if request.method == "POST":
        values = _values()
        upload = _upload()
        if upload is None and not values["url"]:
            errors = {"url": [_("Give a web address or choose a file to upload.")]}
        else:
            try:
                resource = create_resource(session, actor(), dataset, values=values, upload=upload,
                                           storage_path=current_app.config["STORAGE_PATH"],
                                           site_url=current_app.config.get("SITE_URL", ""))
            except ValidationError as invalid:
                session.rollback()
                errors = messages(invalid.errors)
            else:
                commit()
                flash(_("The resource was added."), "success")
                return redirect(url_for("web.resource_page", name=dataset.name, resource_id=resource.id))
    return render_template("dataset/resource_form.html", dataset=dataset, resource=None, values=values,
                           errors=errors), 422 if errors else 200


@bp.route("/dataset/<name>/resource/<resource_id>/edit", methods=["GET", "POST"])
@login_required
def resource_edit(name: str, resource_id: str):
    """Change a resource's name, description, address or format, or replace its file."""
    dataset, resource = _dataset_and_resource(name, resource_id)
    _require_editor(dataset)
    session = get_session()
    errors: dict[str, list[str]] = {}
    values = {f: getattr(resource, f) or "" for f in FORM_FIELDS}
    if request.method == "POST":
        values = _values()
        upload = _upload()
        changes = {f: values[f] for f in FORM_FIELDS if f != "url"}
        if upload is None and resource.url_type is None:
            if not values["url"]:
                errors = {"url": [_("Give a web address or choose a file to upload.")]}
            changes["url"] = values["url"]
        if not errors:
            try:
                update_resource(session, actor(), resource, values=changes, upload=upload,
                                storage_path=current_app.config["STORAGE_PATH"],
                                site_url=current_app.config.get("SITE_URL", ""))
            except ValidationError as invalid:
                session.rollback()
                errors = messages(invalid.errors)
            else:
                commit()
                flash(_("The resource was saved."), "success")
                return redirect(url_for("web.resource_page", name=dataset.name, resource_id=resource.id))
    return render_template("dataset/resource_form.html", dataset=dataset, resource=resource, values=values,
                           errors=errors), 422 if errors else 200


@bp.route("/dataset/<name>/resource/<resource_id>/delete", methods=["POST"])
@login_required
def resource_delete(name: str, resource_id: str):
    """Remove a resource (and its file)."""
    dataset, resource = _dataset_and_resource(name, resource_id)
    _require_editor(dataset)
    delete_resource(get_session(), actor(), resource, storage_path=current_app.config["STORAGE_PATH"])
    commit()
    flash(_("The resource was deleted."), "success")
    return redirect(url_for("web.dataset_page", name=dataset.name))


@bp.route("/dataset/<name>/resource/<resource_id>/move", methods=["POST"])
@login_required
def resource_move(name: str, resource_id: str):
    """Move a resource one place up or down in its dataset's list (package_resource_reorder)."""
    dataset, resource = _dataset_and_resource(name, resource_id)
    _require_editor(dataset)
    order = [r.id for r in dataset.resources]
    index = order.index(resource.id)
    other = index - 1 if request.form.get("direction") == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        reorder_resources(get_session(), actor(), dataset, order=order)
        commit()
        flash(_("The resource %(name)s was moved.", name=resource.name or resource.id), "success")
    return redirect(url_for("web.dataset_page", name=dataset.name) + "#res-h")
