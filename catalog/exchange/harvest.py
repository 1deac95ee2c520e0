"""Harvest another catalog's DCAT-AP export into one department: create or update, matched on identifier.

The ``dcat`` connector source reads the export (any page, any of the three formats) and yields one
row per dataset with the core metadata mapped back; this module turns each row into the dataset's
values and applies it through the dataset service in its own savepoint, so one bad dataset is
reported and the others are kept. The identifier (``dct:identifier``) is the resource code
(信息资源代码), which is unique in a catalog: a dataset of another department with that code is an
error, never taken over.

Why not a sync job: sync jobs fill one dataset's DataStore resource (``SyncJob`` belongs to a
dataset and its target writes records); harvesting writes catalog metadata across many datasets,
so it is a command and an action of its own that reuse the connector source, not the job engine.

A URL is fetched under the app's outbound policy (``CATALOG_OUTBOUND_ALLOW``, carried by the session
as ``session.info["outbound"]``): an export at a loopback, private, link-local or metadata address —
or one redirecting there — is refused unless the operator listed it.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from connectors.base import Checkpoint, Row, SourceError
from connectors.outbound import Policy
from connectors.sources.dcat import DcatSource

from ..auth import rules
from ..auth.models import User
from ..datasets import service as datasets
from ..datasets.models import Dataset
from ..departments.service import get_department
from ..errors import NotAuthorized, NotFound, ValidationError

_NAME = re.compile(r"^[a-z0-9_-]{2,100}$")
#: row fields copied as they are (the rest are mapped in :func:`dataset_values`)
_COPIED = ("title", "notes", "category", "share_type", "share_condition", "open_type", "open_condition",
           "update_cycle", "publish_date", "version", "license_id")
#: the fields a harvest owns; an update replaces these and keeps the others (e.g. private, url)
HARVESTED_FIELDS = (*_COPIED, "resource_code", "share_method", "related_codes", "items", "state")


@dataclass
class HarvestReport:
    """What a harvest did, with one entry per dataset read and every error."""

    source: str
    organization: str
    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    datasets: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    fatal: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able (the catalog_harvest result)."""
        return asdict(self)


def source_config(location: str, *, token: str | None = None) -> dict[str, Any]:
    """The ``dcat`` source configuration for a URL or a file path."""
    config: dict[str, Any] = {"url": location} if urlsplit(location).scheme in ("http", "https") else {"path": location}
    if token:
        config["token"] = token
    return config


def dataset_values(row: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The dataset values and tags of one harvested row (published: harvested datasets are public)."""
    values = {k: row.get(k) for k in _COPIED}
    values["resource_code"] = row.get("identifier")
    channel, kind = row.get("share_method_channel"), row.get("share_method_type")
    values["share_method"] = {"channel": channel, "type": kind} if channel and kind else None
    values["related_codes"] = list(row.get("related_codes") or [])
    values["items"] = row.get("items") or []
    values["state"] = "active"
    return values, list(row.get("tags") or [])


def _name_for(session: Session, row: dict[str, Any], code: str) -> str:
    """The source's URL name (the last part of its landing page) when free, else one made of the code."""
    landing = (row.get("landing_page") or "").rstrip("/").rsplit("/", 1)[-1]
    if _NAME.match(landing) and session.scalar(sa.select(Dataset.id).where(Dataset.name == landing)) is None:
        return landing
    return "h-" + re.sub(r"[^0-9a-z]+", "-", code.lower()).strip("-")


def _unchanged(dataset: Dataset, values: dict[str, Any], tags: list[str]) -> bool:
    before = datasets.metadata_of(dataset)
    merged = {**datasets.DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    return (sorted(set(tags)) == before["tags"]
            and all(merged.get(f) == before.get(f) for f in HARVESTED_FIELDS))


def harvest_rows(session: Session, actor: User | None, rows: Iterable[Row | Checkpoint], *, organization: str,
                 source: str, dry_run: bool = False) -> HarvestReport:
    """Apply the rows of a ``dcat`` read to ``organization``; the caller commits."""
    department = get_department(session, organization)
    rules.require(rules.can_edit_datasets_of(session, actor, department.id),
                  f"You cannot harvest into organization {department.name}")
    report = HarvestReport(source=source, organization=department.name, dry_run=dry_run)
    seen: set[str] = set()
    try:
        for item in rows:
            if isinstance(item, Row):
                _apply(session, actor, department, item, report, seen, dry_run)
    except SourceError as error:  # rows applied before the failure are kept; the report says where it stopped
        report.fatal = str(error)
    return report


def _apply(session: Session, actor: User | None, department, item: Row, report: HarvestReport,
           seen: set[str], dry_run: bool) -> None:
    row = item.data
    code = row.get("identifier")
    entry = {"row": item.row_number, "identifier": code, "uri": row.get("uri"), "title": row.get("title")}

    def fail(field: str, message: str) -> None:
        report.errors.append({**entry, "field": field, "message": message})
        entry["outcome"] = "failed"

    report.datasets.append(entry)
    if not code:
        fail("identifier", "the dataset has no dct:identifier (its resource code); it cannot be matched")
    elif code in seen:
        fail("identifier", f"the identifier {code} appears twice in the source")
    else:
        seen.add(code)
        existing = session.scalar(sa.select(Dataset).where(Dataset.resource_code == code))
        if existing is not None and existing.owner_org != department.id:
            fail("identifier", f"resource code {code} belongs to dataset {existing.name} of another "
                               "department; it is not taken over")
        else:
            values, tags = dataset_values(row)
            if existing is not None and _unchanged(existing, values, tags):
                entry["outcome"] = "unchanged"
                entry["name"] = existing.name
            else:
                _write(session, actor, department, existing, row, values, tags, entry, fail, dry_run)
    outcome = entry.get("outcome", "failed")
    setattr(report, outcome, getattr(report, outcome) + 1)


def _write(session, actor, department, existing, row, values, tags, entry, fail, dry_run) -> None:
    savepoint = session.begin_nested()
    try:
        if existing is None:
            values.update(owner_org=department.id, name=_name_for(session, row, values["resource_code"]))
            dataset = datasets.create_dataset(session, actor, values=values, tags=tags,
                                              extras={"harvest_source": row.get("uri") or ""})
        else:
            kept = {k: v for k, v in datasets.metadata_of(existing).items()
                    if k in datasets.METADATA_FIELDS and k not in HARVESTED_FIELDS}
            dataset = datasets.update_dataset(session, actor, existing, values={**kept, **values}, tags=tags)
        session.flush()
    except ValidationError as error:
        savepoint.rollback()
        for path, messages in error.errors.items():
            fail(path, "; ".join(messages))
        return
    except (NotAuthorized, NotFound) as error:
        savepoint.rollback()
        fail("organization", error.message)
        return
    except IntegrityError:
        savepoint.rollback()
        fail("identifier", "clashes with an existing dataset (name or resource code in use)")
        return
    entry["name"] = dataset.name
    entry["outcome"] = "created" if existing is None else "updated"
    if dry_run:
        savepoint.rollback()
    else:
        savepoint.commit()


def harvest(session: Session, actor: User | None, location: str, *, organization: str,
            token: str | None = None, dry_run: bool = False) -> HarvestReport:
    """Read the DCAT-AP export at ``location`` (URL or file) and apply it to ``organization``."""
    source, config = DcatSource(), source_config(location, token=token)
    source.outbound = session.info.get("outbound") or Policy()
    try:
        source.check(config)
    except SourceError as error:
        raise ValidationError.single("url", str(error)) from None
    report = harvest_rows(session, actor, source.read(config, None, None), organization=organization,
                          source=location, dry_run=dry_run)
    if report.fatal and not report.datasets:  # nothing read at all: the location itself is wrong
        raise ValidationError.single("url", report.fatal)
    return report
