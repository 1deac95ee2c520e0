"""The record schema registry: schemas shipped in ``schemas/records`` plus those departments register.

Registered documents are stored closed (:func:`schemas.validation.closed_schema`): an object that
declares properties and does not say otherwise gets ``additionalProperties: false``.

A schema is addressed as ``name@version``. Versions are immutable: registering a changed document
under an existing name creates the next version; registering an identical one returns the latest.
"""
from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from schemas.registry import list_schemas, load_schema, parse_ref
from schemas.validation import check_record_schema, closed_schema

from ..auth import rules
from ..auth.models import User
from ..departments.service import get_department
from ..errors import NotFound, ValidationError
from .models import RecordSchema

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")
#: field names an index may be made on (the name is written into the index's SQL)
_INDEXABLE_NAME = re.compile(r"^[\w-]{1,64}$")


def indexed_fields(document: dict[str, Any] | None) -> list[str]:
    """The top-level text fields a schema marks ``"x-index": true``: the DataStore indexes them for
    ``filters`` (other types keep the unindexed comparison)."""
    properties = (document or {}).get("properties") or {}
    return [name for name, node in properties.items()
            if isinstance(node, dict) and node.get("x-index") is True and node.get("type") == "string"
            and _INDEXABLE_NAME.match(name)]


def find_record_schema(session: Session, ref: str) -> dict[str, Any] | None:
    """The document of ``name@version``, shipped or registered, or ``None``."""
    try:
        name, version = parse_ref(ref)
    except ValueError:
        return None
    try:
        return load_schema("records", name, version)
    except FileNotFoundError:
        pass
    row = session.scalar(sa.select(RecordSchema).where(RecordSchema.name == name,
                                                       RecordSchema.version == version))
    return row.document if row else None


def get_record_schema(session: Session, ref: str) -> dict[str, Any]:
    """The document of ``name@version``, or :class:`NotFound`."""
    document = find_record_schema(session, ref)
    if document is None:
        raise NotFound(f"Record schema not found: {ref}")
    return document


def list_record_schemas(session: Session) -> list[dict[str, Any]]:
    """Every schema version: ``{id, name, version, title, shipped, owner_org}``, by name then version."""
    found = [{"id": f"{n}@{v}", "name": n, "version": v, "shipped": True, "owner_org": None,
              "title": load_schema("records", n, v).get("title")} for n, v in list_schemas("records")]
    for row in session.scalars(sa.select(RecordSchema)):
        found.append({"id": f"{row.name}@{row.version}", "name": row.name, "version": row.version,
                      "shipped": False, "owner_org": row.owner_org, "title": row.document.get("title")})
    return sorted(found, key=lambda s: (s["name"], s["version"]))


def create_record_schema(session: Session, actor: User | None, *, name: str, document: dict[str, Any],
                         owner_org: str | None) -> tuple[str, bool]:
    """Register ``document`` as the next version of ``name``; returns ``(id, created)``."""
    shipped = [v for n, v in list_schemas("records") if n == name]
    if shipped or not owner_org:
        rules.require(rules.is_sysadmin(actor),
                      "Only sysadmins can register shipped or department-less record schemas")
    department = None
    if owner_org:
        try:
            department = get_department(session, owner_org)
        except NotFound:
            raise ValidationError.single("owner_org", f"Organization does not exist: {owner_org}") from None
        rules.require(rules.can_edit_datasets_of(session, actor, department.id),
                      f"You cannot register record schemas for {department.name}")
    if not NAME_RE.match(name or ""):
        raise ValidationError.single("name", "must be 2 to 100 lower-case letters, digits, - or _")
    problems = check_record_schema(document)
    if problems:
        raise ValidationError({"schema": problems})
    # Closed by default: a field the schema does not declare could not be validated or marked sensitive.
    document = closed_schema(document)
    rows = list(session.scalars(sa.select(RecordSchema).where(RecordSchema.name == name)
                                .order_by(RecordSchema.version)))
    if rows and department is not None and rows[-1].owner_org not in (None, department.id):
        raise ValidationError.single("name", f"The schema name {name} belongs to another organization")
    latest_document = rows[-1].document if rows else (
        load_schema("records", name, max(shipped)) if shipped else None)
    latest_version = max([r.version for r in rows] + shipped + [0])
    if latest_document == document:
        return f"{name}@{latest_version}", False
    row = RecordSchema(name=name, version=latest_version + 1, document=document,
                       owner_org=department.id if department else None,
                       creator_user_id=actor.id if actor else None)
    session.add(row)
    session.flush()
    return f"{name}@{row.version}", True
