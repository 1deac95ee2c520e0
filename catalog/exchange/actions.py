"""Exchange actions: catalog_export (where to download), catalog_import (the compilation sheet)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import url_for
from marshmallow import Schema, fields, validate

from ..api.fields import ParamsSchema
from ..api.registry import ActionContext, action
from ..auth import rules
from ..departments.service import get_department
from ..errors import ValidationError
from .harvest import harvest
from .xlsx import import_workbook

EXPORT_FORMATS = ("xlsx", "ttl", "jsonld", "rdf")


class CatalogExportParams(ParamsSchema):
    """Which part of the catalog, in which format."""

    organization = fields.String(load_default=None, metadata={"description": "one department's datasets"})
    format = fields.String(load_default="xlsx", validate=validate.OneOf(EXPORT_FORMATS))


class CatalogExportOut(Schema):
    """Where the export is downloaded (with the same token header)."""

    url = fields.String()
    format = fields.String()
    organization = fields.String(allow_none=True)


class CatalogImportParams(ParamsSchema):
    """The workbook comes as the multipart file ``upload``."""

    dry_run = fields.Boolean(load_default=False, metadata={"description": "check every row, keep nothing"})


class RowErrorOut(Schema):
    """One problem of an import."""

    sheet = fields.String()
    row = fields.Integer(allow_none=True)
    column = fields.String(allow_none=True)
    message = fields.String()


class ImportReportOut(Schema):
    """What an import did."""

    dry_run = fields.Boolean()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    failed = fields.Integer()
    rows = fields.List(fields.Dict())
    errors = fields.List(fields.Nested(RowErrorOut))
    warnings = fields.List(fields.String())


@action("catalog_export", params=CatalogExportParams, result=CatalogExportOut, read_only=True)
def catalog_export(ctx: ActionContext, data: dict) -> dict[str, Any]:
    """The download URL of the catalog (or one department's part) as .xlsx or DCAT-AP (ttl, jsonld, rdf)."""
    organization = data.get("organization")
    if organization:
        organization = get_department(ctx.session, organization).name
    url = url_for(f"exchange.catalog_{data['format']}", _external=True)
    if organization:
        url += "?" + urlencode({"organization": organization})
    return {"url": url, "format": data["format"], "organization": organization}


@action("catalog_import", params=CatalogImportParams, result=ImportReportOut)
def catalog_import(ctx: ActionContext, data: dict) -> dict[str, Any]:
    """Register or update datasets from a compilation sheet (multipart ``upload``); returns a per-row report."""
    rules.require(ctx.actor is not None, "Importing datasets needs an account: send your API token")
    upload = ctx.files.get("upload")
    if upload is None or not upload.filename:
        raise ValidationError.single("upload", "Missing value: send the .xlsx workbook as the multipart file upload")
    report = import_workbook(ctx.session, ctx.actor, upload.stream, dry_run=data["dry_run"])
    return report.as_dict()


class CatalogHarvestParams(ParamsSchema):
    """Where the DCAT-AP export is and which department receives it."""

    url = fields.String(required=True, validate=validate.Regexp(r"^https?://", error="must be an http(s) URL"),
                        metadata={"description": "the other catalog's DCAT-AP export (Turtle, JSON-LD or RDF/XML)"})
    organization = fields.String(required=True, metadata={"description": "the department the datasets go to"})
    token = fields.String(load_default=None, metadata={"description": "an API token of the other catalog"})
    dry_run = fields.Boolean(load_default=False)


@action("catalog_harvest", params=CatalogHarvestParams,
        result={"type": "object", "description": "created, updated, unchanged, failed, datasets, errors, fatal"})
def catalog_harvest(ctx: ActionContext, data: dict) -> dict[str, Any]:
    """Harvest another catalog's DCAT-AP export into a department, matched on identifier (sysadmins only)."""
    # Sysadmins only: the server fetches the URL it is given, which must not be anyone's way into
    # the county network. Department editors harvest files with the CLI.
    rules.require(rules.is_sysadmin(ctx.actor), "Only sysadmins can harvest from a URL")
    report = harvest(ctx.session, ctx.actor, data["url"], organization=data["organization"],
                     token=data.get("token"), dry_run=data["dry_run"])
    return report.as_dict()
