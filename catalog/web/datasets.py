"""The dataset page (catalog sheet, data items, resources, record schema, preview, API examples,
activity) and the register / edit form with drafts and publishing."""
from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..activity.service import list_activities
from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..datasets.service import create_dataset, delete_dataset, set_dataset_state, show_dataset, update_dataset
from ..datastore.models import DatastoreTable
from ..datastore.query import search_records
from ..datastore.record_schemas import find_record_schema, list_record_schemas
from ..db import get_session
from ..departments.service import departments_of, list_departments
from ..errors import Conflict, NotAuthorized, ValidationError
from ..review.policy import pending_review
from ..freshness.service import dataset_freshness
from ..sharing.reading import open_reader
from ..sharing.service import record_access
from . import forms, labels, metadata
from .i18n import lang
from .common import actor, bp, commit, messages

PREVIEW_ROWS = 5  # a glimpse: the resource page's explorer pages through them all


def freshness_of(dataset: Dataset) -> dict[str, Any] | None:
    """The freshness badge's data (catalog.freshness); none for a draft or a deleted dataset, which no
    one relies on yet, and status ``irregular`` when there is no update cycle to be on time for."""
    if dataset.state != "active":
        return None
    found = dict(dataset_freshness(get_session(), dataset))
    if found.get("due_at") is None:
        found["status"] = "irregular"
    for key in ("last_change", "due_at"):
        found[key] = found[key].strftime("%Y-%m-%d") if found.get(key) else None
    return found


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def record_cells(schema, columns: list[dict[str, Any]], record: dict[str, Any]) -> list[dict[str, Any]]:
    """One record as table cells: coded values labelled, an array of objects as a sub-table's rows."""
    cells = []
    for column in columns:
        value = record.get(column["name"])
        if column["sub"] and isinstance(value, list) and all(isinstance(v, dict) for v in value):
            cells.append({"sub": [[_cell(labels.value_label(schema, f"{column['name']}.{s['name']}", v.get(s["name"])))
                                   for s in column["sub"]] for v in value]})
        elif column["sub"] and isinstance(value, dict):
            cells.append({"pairs": [(s["label"], _cell(labels.value_label(schema, f"{column['name']}.{s['name']}",
                                                                           value.get(s["name"]))))
                                    for s in column["sub"] if value.get(s["name"]) not in (None, "")]})
        else:
            cells.append({"text": _cell(labels.value_label(schema, column["name"], value))})
    return cells


def download_url(dataset: Dataset, resource) -> str:
    """Where the browser gets a resource: the file route for uploads, the dump for a DataStore table
    (both under the share rules, with the logged-in session), the link itself otherwise."""
    if resource.url_type == "upload":
        return url_for("datasets.download", dataset_id=dataset.id, resource_id=resource.id,
                       filename=resource.url.rsplit("/", 1)[-1])
    if get_session().get(DatastoreTable, resource.id) is not None:
        return url_for("datastore.dump", resource_id=resource.id, format="csv", bom="true")
    return resource.url


def _previews(dataset: Dataset, viewer: User | None) -> list[dict[str, Any]]:
    """A few records of each DataStore resource, through the share rules' reader (masked, logged)."""
    session = get_session()
    previews = []
    for resource in dataset.resources:
        table = session.get(DatastoreTable, resource.id)
        if table is None:
            continue
        schema = table.schema_document or None  # the schema the table's records were validated against
        columns = labels.columns(schema, [f["id"] for f in table.fields])
        preview: dict[str, Any] = {"resource": resource, "columns": columns}
        try:
            reader = open_reader(session, viewer, table)
        except NotAuthorized as refusal:
            preview["refused"] = labels.refusal(refusal.message, schema)
        else:
            page = search_records(session, table, limit=PREVIEW_ROWS)
            records = [reader.mask(r) for r in page["records"]]
            reader.log(session, action="web_preview", params={"limit": PREVIEW_ROWS}, count=len(records))
            preview.update(total=page.get("total", 0),
                           masked=[labels.field_label(schema, f) for f in sorted(reader.masked_fields)],
                           rows=[record_cells(schema, columns, r) for r in records])
        previews.append(preview)
    return previews


def _api_examples(dataset: Dataset) -> list[dict[str, str]]:
    site = request.url_root.rstrip("/")
    examples = [
        {"title": "curl — package_show",
         "code": f'curl -H "Authorization: $CATALOG_TOKEN" "{site}/api/3/action/package_show?id={dataset.name}"'},
        {"title": "ckanapi — package_show",
         "code": f'ckanapi action package_show id={dataset.name} -r {site} -a "$CATALOG_TOKEN"'},
    ]
    session = get_session()
    for resource in dataset.resources:
        if session.get(DatastoreTable, resource.id) is not None:
            examples.append({"title": "curl — datastore_search",
                             "code": f'curl -H "Authorization: $CATALOG_TOKEN" '
                                     f'"{site}/api/3/action/datastore_search?resource_id={resource.id}&limit=5"'})
            examples.append({"title": "ckanapi — datastore_search",
                             "code": f'ckanapi action datastore_search resource_id={resource.id} limit=5 '
                                     f'-r {site} -a "$CATALOG_TOKEN"'})
            break
    return examples


def activity_label(kind: str) -> str:
    """An activity type in the page language."""
    labels = {"new package": _("registered the dataset"), "changed package": _("changed the dataset"),
              "deleted package": _("deleted the dataset"), "new share request": _("requested access"),
              "approved share request": _("approved an access request"),
              "rejected share request": _("rejected an access request"),
              "revoked share request": _("revoked an access grant"),
              "new organization": _("registered the department"),
              "changed organization": _("changed the department"),
              "submitted package": _("submitted the dataset for review"),
              "approved package": _("approved and published the dataset"),
              "returned package": _("returned the dataset for changes"),
              "proposed package revision": _("proposed a revision for review"),
              "approved package revision": _("approved the revision"),
              "returned package revision": _("returned the revision for changes"),
              "deleted organization": _("deleted the department"),
              "returned share request": _("returned an access request for what is missing"),
              "resubmitted share request": _("resubmitted an access request"),
              "asked to extend share request": _("asked for more time to answer an access request"),
              "decided share request extension": _("decided on more time for an access request"),
              "delivered share grant": _("delivered the granted data"),
              "suspended share grant": _("suspended an access grant"),
              "resumed share grant": _("resumed an access grant"),
              "recorded share use": _("recorded a use of shared data"),
              "narrowed sharing": _("narrowed the sharing of the dataset")}
    return labels.get(kind, kind)


def _activities(dataset: Dataset) -> list[dict[str, Any]]:
    session = get_session()
    rows = list_activities(session, viewer=actor(), object_id=dataset.id, limit=10)
    ids = {a.user_id for a in rows if a.user_id}
    names = dict(session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all()) if ids else {}
    return [{"when": a.timestamp, "who": names.get(a.user_id, "—"), "what": activity_text(a)} for a in rows]


RESOURCE_FIELD_LABELS = {"name": lambda: _("name"), "description": lambda: _("description"),
                         "url": lambda: _("address"), "format": lambda: _("format"),
                         "mimetype": lambda: _("media type"), "size": lambda: _("size"),
                         "hash": lambda: _("file"), "url_type": lambda: _("kind")}


def _field_names(changes: list[dict[str, Any]], labels) -> str:
    names = dict.fromkeys(labels(c.get("field", "")) for c in changes if c.get("field"))
    return ("、" if lang() == "zh" else ", ").join(names)


def _dataset_field_label(field: str) -> str:
    if field == "resources":
        return _("resources")
    return metadata.label(field)


def _resource_field_label(field: str) -> str:
    found = RESOURCE_FIELD_LABELS.get(field)
    return found() if found else field


def activity_text(activity) -> str:
    """What an activity did, in the page language: which resource, which fields, published or withdrawn."""
    data = activity.data or {}
    if activity.activity_type != "changed package":
        return activity_label(activity.activity_type)
    resource = data.get("resource") or {}
    if resource:
        if "new" in resource:
            return _("added the resource “%(name)s”", name=(resource["new"] or {}).get("name") or "—")
        if "deleted" in resource:
            return _("deleted the resource “%(name)s”", name=(resource["deleted"] or {}).get("name") or "—")
        names = _field_names(resource.get("changes") or [], _resource_field_label)
        return _("changed a resource: %(fields)s", fields=names) if names else _("changed a resource")
    changes = data.get("changes") or []
    state = next((c for c in changes if c.get("field") == "state"), None)
    if state is not None and state.get("new") == "active":
        return _("published the dataset")
    if state is not None and state.get("old") == "active":
        return _("withdrew the dataset")
    if state is not None and state.get("old") == "deleted":
        return _("restored the dataset")
    names = _field_names([c for c in changes if c.get("field") != "state"], _dataset_field_label)
    return _("changed the dataset: %(fields)s", fields=names) if names else activity_label(activity.activity_type)


def _sheet(dataset: Dataset) -> list[tuple[str, str]]:
    method = dataset.share_method or {}
    rows = [
        ("title", dataset.title), ("resource_code", dataset.resource_code),
        ("category", labels.classification_label(dataset.category)),
        ("owner_org", None), ("notes", dataset.notes),
        ("share_type", metadata.choice_label("share_type", dataset.share_type)),
        ("share_condition", dataset.share_condition),
        ("share_method", " / ".join(x for x in (metadata.choice_label("share_method.channel", method.get("channel")),
                                               metadata.choice_label("share_method.type", method.get("type"))) if x)),
        ("open_type", metadata.choice_label("open_type", dataset.open_type)),
        ("open_condition", dataset.open_condition),
        ("update_cycle", metadata.choice_label("update_cycle", dataset.update_cycle)),
        ("publish_date", dataset.publish_date.isoformat() if dataset.publish_date else ""),
        ("related_codes", ", ".join(dataset.related_codes or [])),
        ("tags", ", ".join(t.name for t in dataset.tags)),
        ("state", metadata.choice_label("state", dataset.state)),
    ]
    sheet = []
    for field, value in rows:
        if field == "owner_org":
            sheet.append((_("Providing department"), dataset.organization.title))
        else:
            sheet.append((metadata.label(field), value or ""))
    return sheet


@bp.route("/dataset/<name>")
def dataset_page(name: str):
    """A dataset as a catalog sheet, with everything an officer or a consumer needs."""
    session = get_session()
    viewer = actor()
    dataset = show_dataset(session, viewer, name)
    can_edit = rules.can_edit_datasets_of(session, viewer, dataset.owner_org)
    access = record_access(session, viewer, dataset)
    schema = find_record_schema(session, dataset.record_schema) if dataset.record_schema else None
    items = [{"name": i.get("name", ""), "type": metadata.choice_label("items.type", i.get("type")),
              "code": i.get("type", ""), "length": i.get("length", ""), "description": i.get("description", "")}
             for i in dataset.items or []]
    can_request = (viewer is not None and dataset.share_type == "conditional" and not access.allowed
                   and dataset.state == "active")
    previews = _previews(dataset, viewer)
    page = render_template(
        "dataset/show.html", dataset=dataset, sheet=_sheet(dataset), items=items, can_edit=can_edit,
        schema_rows=metadata.record_field_labels(schema), schema_title=metadata.record_schema_title(
            schema, dataset.record_schema or ""), freshness=freshness_of(dataset), previews=previews,
        examples=_api_examples(dataset), activities=_activities(dataset), can_request=can_request,
        access=access, item_labels={k: metadata.label(f"items.{k}") for k in forms.ITEM_FIELDS},
        downloads={r.id: download_url(dataset, r) for r in dataset.resources})
    commit()  # the preview's reads are in the access log
    return page


def _form_context(form: dict[str, Any], errors: dict[str, list[str]], *, dataset: Dataset | None) -> dict[str, Any]:
    session = get_session()
    viewer = actor()
    if rules.is_sysadmin(viewer):
        departments = list_departments(session)
    else:
        departments = [d for d, role in departments_of(session, viewer) if role in rules.EDIT_ROLES]
    rows = list(form["items"]) + [{k: "" for k in forms.ITEM_FIELDS} for _i in range(forms.BLANK_ROWS)]
    fields = ("name", "title", "notes", "owner_org", "resource_code", "category", "share_type", "share_condition",
              "share_method", "open_type", "open_condition", "update_cycle", "publish_date", "related_codes",
              "record_schema", "tags", "private", "url", "version", "author", "author_email", "maintainer",
              "maintainer_email", "license_id", "items")
    labels = {f: metadata.label(f) for f in fields}
    labels["owner_org"] = _("Providing department")
    labels["tags"] = metadata.label("tags")
    labels["share_channel"] = metadata.label("share_method.channel")
    labels["share_method_type"] = metadata.label("share_method.type")
    shown = set(fields) | {"share_method.channel", "share_method.type", "share_condition", "reason"}
    other_errors = {k: v for k, v in errors.items()
                    if k.split(".")[0] not in shown and not k.startswith("items.")}
    return dict(
        form=form, errors=errors, other_errors=other_errors, dataset=dataset, departments=departments, rows=rows,
        labels=labels, helps={f: metadata.help_text(f) for f in fields},
        choices={f: metadata.choices(f) for f in ("share_type", "open_type", "update_cycle")},
        channel_choices=metadata.choices("share_method.channel"),
        method_choices=metadata.choices("share_method.type"), type_choices=metadata.choices("items.type"),
        item_labels={k: metadata.label(f"items.{k}") for k in forms.ITEM_FIELDS},
        required=metadata.required_when_published(), record_schemas=list_record_schemas(session))


def _save(form: dict[str, Any], dataset: Dataset | None):
    """Save the posted form as a draft or published; re-show it with inline errors when refused."""
    action = request.form.get("action", "")
    if action == "add-row" or forms.apply_row_action(form, action):
        if action == "add-row":
            form["items"].append({k: "" for k in forms.ITEM_FIELDS})
        return render_template("dataset/form.html", **_form_context(form, {}, dataset=dataset))
    if action == "publish":
        state = "active"
    elif action == "draft":
        state = "draft"
    else:
        state = dataset.state if dataset is not None and dataset.state != "deleted" else "draft"
    values, tags, errors = forms.values_from_form(form, state=state)
    session = get_session()
    if dataset is None and not values.get("name") and values.get("title"):
        values["name"] = _free_name(session, forms.name_from_title(values["title"])) or None
    viewer = actor()
    was_active = dataset is not None and dataset.state == "active"
    revision_before = pending_review(session, dataset.id, kind="revision") if was_active else None
    if not errors:
        try:
            if dataset is None:
                dataset = create_dataset(session, viewer, values=values, tags=tags)
            else:
                update_dataset(session, viewer, dataset, values=values, tags=tags,
                               revision=_int(request.form.get("revision")),
                               reason=request.form.get("share_change_reason"))
        except Conflict as conflict:
            session.rollback()
            errors = messages(conflict.errors)
        except ValidationError as invalid:
            session.rollback()
            errors = messages(invalid.errors)
        else:
            commit()
            if state != "active":
                message = _("The draft was saved.")
            elif was_active and pending_review(session, dataset.id, kind="revision") not in (None, revision_before):
                message = _("The changes were saved; the core metadata changes wait for the data authority's review.")
            elif was_active:
                message = _("The changes were saved.")
            else:
                message = _("The dataset was published.")
            flash(message, "success")
            return redirect(url_for("web.dataset_page", name=dataset.name))
    if dataset is not None:
        session.refresh(dataset)
    return render_template("dataset/form.html", **_form_context(form, errors, dataset=dataset)), 422


def _free_name(session, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``… when a dataset already has it."""
    if not base:
        return ""
    taken = set(session.scalars(sa.select(Dataset.name).where(Dataset.name.like(f"{base}%"))))
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


def _int(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@bp.route("/dataset/new", methods=["GET", "POST"])
@login_required
def dataset_new():
    """Register a dataset: save as a draft or publish at once."""
    if request.method == "POST":
        return _save(forms.form_from_post(request.form), None)
    form = forms.empty_form()
    owner = request.args.get("organization")
    context = _form_context(form, {}, dataset=None)
    if not context["departments"]:
        raise NotAuthorized(_("You are not an editor of any department, so you cannot register datasets."))
    known = {d.id for d in context["departments"]} | {d.name for d in context["departments"]}
    if owner in known:
        form["owner_org"] = next(d.id for d in context["departments"] if owner in (d.id, d.name))
    return render_template("dataset/form.html", **context)


@bp.route("/dataset/edit/<name>", methods=["GET", "POST"])
@login_required
def dataset_edit(name: str):
    """Change a dataset's metadata and data items; publish a draft."""
    session = get_session()
    viewer = actor()
    dataset = show_dataset(session, viewer, name)
    rules.require(rules.can_edit_datasets_of(session, viewer, dataset.owner_org),
                  _("You cannot edit this dataset."))
    if dataset.state == "deleted":
        abort(404)
    if request.method == "POST":
        return _save(forms.form_from_post(request.form), dataset)
    return render_template("dataset/form.html", **_form_context(forms.form_from_dataset(dataset), {},
                                                                 dataset=dataset))


@bp.route("/dataset/<name>/state/<change>", methods=["POST"])
@login_required
def dataset_state(name: str, change: str):
    """Delete, withdraw (back to a draft readers no longer find) or restore (a deleted one, as a draft)."""
    if change not in ("delete", "withdraw", "restore"):
        abort(404)
    session = get_session()
    viewer = actor()
    dataset = show_dataset(session, viewer, name)
    rules.require(rules.can_edit_datasets_of(session, viewer, dataset.owner_org), _("You cannot edit this dataset."))
    try:
        reason = request.form.get("reason")  # required while other departments hold grants
        if change == "delete":
            delete_dataset(session, viewer, dataset, reason=reason)
            message = _("The dataset was deleted; you can still restore it from its page.")
        else:
            set_dataset_state(session, viewer, dataset, "draft", reason=reason)
            message = _("The dataset was withdrawn and is a draft again.") if change == "withdraw" else \
                _("The dataset was restored as a draft.")
    except Conflict:
        session.rollback()
        flash(_("This cannot be done to the dataset in its present state."), "error")
        return redirect(url_for("web.dataset_page", name=dataset.name))
    except ValidationError as invalid:  # e.g. no reason while other departments hold grants
        session.rollback()
        flash("；".join(m for msgs in messages(invalid.errors).values() for m in msgs), "error")
        return redirect(url_for("web.dataset_page", name=dataset.name))
    commit()
    flash(message, "success")
    return redirect(url_for("web.dataset_page", name=dataset.name))
