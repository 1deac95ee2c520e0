"""Departments: the list, and one department's datasets, members and roles (admins manage members)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..auth import rules
from ..auth.service import get_user
from ..db import get_session
from ..departments.models import ROLES
from ..departments.service import (dataset_counts, get_department, list_departments, list_members,
                                   remove_member, set_member)
from ..errors import NotFound, ValidationError
from ..search.service import search_datasets
from . import metadata
from .common import actor, bp, commit, int_arg, messages
from .i18n import lang

PAGE_SIZE = 20


def role_label(role: str) -> str:
    """A member role in the page language."""
    return {"admin": _("Admin"), "editor": _("Editor"), "member": _("Member")}.get(role, role)


@bp.route("/organization")
def organizations():
    """Every department with the number of datasets the viewer can see."""
    session = get_session()
    q = request.args.get("q", "")[:100]
    departments = list_departments(session, q=q or None)
    counts = dataset_counts(session, [d.id for d in departments], actor())
    return render_template("organization/list.html", departments=departments, counts=counts, q=q)


def _page(department, *, errors=None, status: int = 200):
    session = get_session()
    viewer = actor()
    page = int_arg("page", 1, minimum=1, maximum=500)
    found = search_datasets(session, viewer, fq=[f'organization:"{department.name}"'], rows=PAGE_SIZE,
                            start=(page - 1) * PAGE_SIZE, include_private=True, include_drafts=True, lang=lang())
    can_see = rules.can_see_members(session, viewer, department.id)
    members = list_members(session, viewer, department) if can_see else []
    return render_template(
        "organization/show.html", department=department, datasets=found.datasets, count=found.count, page=page,
        pages=max(1, -(-found.count // PAGE_SIZE)), members=members, can_see_members=can_see,
        can_manage=rules.can_manage_members(session, viewer, department.id),
        can_edit=rules.can_edit_datasets_of(session, viewer, department.id),
        roles=[(r, role_label(r)) for r in ROLES], role_label=role_label, errors=errors or {},
        share_label=lambda v: metadata.choice_label("share_type", v),
        state_label=lambda v: metadata.choice_label("state", v)), status


@bp.route("/organization/<name>")
def organization_page(name: str):
    """A department: its datasets (drafts and private ones for its members), members and roles."""
    return _page(get_department(get_session(), name))


@bp.route("/organization/<name>/members", methods=["POST"])
@login_required
def organization_member(name: str):
    """Add a member, change a role or remove a member (the department's admins and sysadmins)."""
    session = get_session()
    department = get_department(session, name)
    username = (request.form.get("username") or "").strip()[:100]
    role = request.form.get("role") or ""
    try:
        user = get_user(session, username)
    except NotFound:
        rules.require(rules.can_manage_members(session, actor(), department.id), _("Only admins manage members."))
        return _page(department, errors={"username": [_("No such user: %(name)s", name=username)]}, status=422)
    try:
        if request.form.get("action") == "remove":
            remove_member(session, actor(), department, user)
            message = _("%(user)s was removed.", user=user.name)
        else:
            set_member(session, actor(), department, user, role)
            message = _("%(user)s is now %(role)s.", user=user.name, role=role_label(role))
    except ValidationError as invalid:
        session.rollback()
        return _page(department, errors=messages(invalid.errors), status=422)
    commit()
    flash(message, "success")
    return redirect(url_for("web.organization_page", name=department.name) + "#members")
