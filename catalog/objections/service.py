"""Correction requests (数据异议, 政务数据共享条例 art. 26): filed by a department using shared data, verified
and settled by the provider within 10 working days.

Who is a party: the filing department (an editor or admin files), the providing department (its editors
and admins accept and resolve) and the data authority (sysadmins, or ``CATALOG_AUTHORITY_DEPARTMENT``),
who sees every objection. Anyone else is told the objection does not exist.
"""
from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset, Resource
from ..datastore import query as datastore_query
from ..datastore.models import DatastoreTable, Record
from ..datastore.service import record_key
from ..db import utcnow
from ..departments.models import Membership
from ..departments.service import get_department
from ..errors import Conflict, NotAuthorized, NotFound, ValidationError, checked_text
from ..sharing import masking
from ..sharing.reading import open_reader
from ..sharing.service import active_grants, departments_of_actor, record_access
from ..sharing.workdays import Calendar
from ..webhooks import service as webhooks
from .models import FLAGGED_STATES, OBJECTION_STATES, OUTCOMES, Objection, ObjectionRecord

MAX_TEXT = 4000


def deadline_after(start: dt.date, config: dict[str, Any]) -> dt.date:
    """The day a correction request filed on ``start`` must be settled by (``OBJECTION_DAYS`` working days)."""
    return Calendar.from_config(config).add(start, int(config.get("OBJECTION_DAYS", 10)))


def is_overdue(objection: Objection, today: dt.date | None = None) -> bool:
    """An objection not settled by its deadline."""
    today = today or utcnow().date()
    return objection.status != "resolved" and today > objection.deadline


def settled_in_time(objection: Objection) -> bool | None:
    """Whether it was resolved on or before its deadline (``None`` while unresolved)."""
    if objection.resolved is None:
        return None
    return objection.resolved.astimezone(dt.timezone.utc).date() <= objection.deadline


def department_uses(session: Session, dataset: Dataset, department_id: str) -> bool:
    """Whether a department (not the provider) uses the dataset's shared data: it is published and shared
    unconditionally, or the department holds a live grant (国发〔2016〕51号 share types)."""
    if department_id == dataset.owner_org or dataset.state != "active" or dataset.private:
        return False
    if dataset.share_type == "unconditional":
        return True
    return dataset.share_type == "conditional" and bool(active_grants(session, dataset.id, [department_id]))


def is_authority(session: Session, actor: User | None, config: dict[str, Any]) -> bool:
    """The data authority: sysadmins and the configured authority department's editors and admins."""
    return rules.is_authority(session, actor, config.get("AUTHORITY_DEPARTMENT"))


def can_see(session: Session, actor: User | None, objection: Objection, config: dict[str, Any]) -> bool:
    """The two departments' members and the data authority see an objection."""
    if actor is None:
        return False
    if is_authority(session, actor, config):
        return True
    mine = set(departments_of_actor(session, actor))
    return objection.provider_id in mine or objection.organization_id in mine


def can_answer(session: Session, actor: User | None, objection: Objection) -> bool:
    """The provider's editors and admins (who correct the data) and sysadmins accept and resolve."""
    return rules.can_edit_datasets_of(session, actor, objection.provider_id)


def _evidence_url(value: Any) -> str | None:
    url = checked_text(value, "evidence_url", required=False)
    if url is None:
        return None
    parts = urlsplit(url)
    # shown as a link to both departments: only plain web addresses, never javascript: or data:
    if parts.scheme not in ("http", "https") or not parts.netloc or any(ch.isspace() for ch in url) or len(url) > 2000:
        raise ValidationError.single("evidence_url", "must be an absolute http:// or https:// URL")
    return url


def _table_of(session: Session, dataset: Dataset, resource_id: str) -> DatastoreTable:
    table = session.get(DatastoreTable, resource_id) if isinstance(resource_id, str) else None
    if table is None or table.resource.package_id != dataset.id:
        raise ValidationError.single("resource_id", "not a DataStore resource of this dataset")
    return table


def _known_fields(session: Session, dataset: Dataset, table: DatastoreTable | None) -> set[str]:
    if table is not None:
        return {f["id"] for f in table.fields}
    names = {item.get("name") for item in (dataset.items or []) if isinstance(item, dict)}
    for fields in session.scalars(sa.select(DatastoreTable.fields).join(
            Resource, Resource.id == DatastoreTable.resource_id).where(Resource.package_id == dataset.id)):
        names |= {f["id"] for f in fields}
    return {n for n in names if n}


def _doubted_fields(fields: Any, known: set[str]) -> list[str]:
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) and f for f in fields):
        raise ValidationError.single("fields", "Missing value: name the fields whose values you doubt")
    unknown = [f for f in fields if f not in known]
    if unknown:
        raise ValidationError.single("fields", f"unknown field {unknown[0]!r}; fields: {', '.join(sorted(known))}")
    return list(dict.fromkeys(fields))


def _covered_keys(session: Session, actor: User | None, table: DatastoreTable, *, keys: Any, filters: Any,
                  limit: int) -> list[str]:
    """The stored keys of the records named by ``keys`` or matched by ``filters``, as the filer may name them."""
    reader = open_reader(session, actor, table)
    if keys is not None:
        if any(name in reader.masked_fields for name in table.primary_key):
            # the key is masked for this reader: naming clear keys would test which exist (an oracle)
            raise NotAuthorized("The records' key is masked for you: name the records with filters on fields "
                                "you can see, or object to the whole dataset")
        if not isinstance(keys, list) or not keys:
            raise ValidationError.single("keys", "must be a non-empty list of record keys")
        wanted = []
        for item in keys:
            if isinstance(item, dict):
                item = record_key(item, list(table.primary_key))
            if not isinstance(item, str) or not item or len(item) > 500:
                raise ValidationError.single("keys", "each key is the record's _key text or an object of its key fields")
            wanted.append(item)
        wanted = list(dict.fromkeys(wanted))
        if len(wanted) > limit:
            raise ValidationError.single("keys", f"at most {limit} records; object to the whole dataset instead")
        found = set(session.scalars(sa.select(Record.key).where(
            Record.resource_id == table.resource_id, Record.deleted.is_(False), Record.key.in_(wanted))))
        missing = [k for k in wanted if k not in found]
        if missing:
            raise ValidationError.single("keys", f"no such record: {missing[0]}")
        return wanted
    if not isinstance(filters, dict) or not filters:
        raise ValidationError.single("filters", "Missing value: give keys, filters, or scope dataset")
    reader.check_query(filters=filters)
    matched = list(session.scalars(sa.select(Record.key).where(
        Record.resource_id == table.resource_id, Record.deleted.is_(False),
        *datastore_query.filter_conditions(table, filters)).order_by(Record.key).limit(limit + 1)))
    if not matched:
        raise ValidationError.single("filters", "the filters match no record")
    if len(matched) > limit:
        raise ValidationError.single("filters", f"the filters match more than {limit} records; narrow them or "
                                                "object to the whole dataset")
    return matched


def create_objection(session: Session, actor: User | None, *, dataset: Dataset, organization_id: str,
                     resource_id: str | None, keys: Any, filters: Any, fields: Any, reason: Any,
                     evidence: Any, evidence_url: Any, config: dict[str, Any]) -> Objection:
    """File a correction request on records (by key or filter) of a resource, or on the whole dataset."""
    department = get_department(session, organization_id)
    rules.require(rules.is_sysadmin(actor) or rules.role_in(session, actor, department.id) in rules.EDIT_ROLES,
                  f"Only editors and admins of {department.name} can file correction requests for it")
    if department.id == dataset.owner_org:
        raise ValidationError.single("organization_id", "the provider corrects its own data directly")
    if not department_uses(session, dataset, department.id):
        raise NotAuthorized(f"{department.name} does not use dataset {dataset.name}: it is neither shared "
                            "unconditionally nor granted to it")
    if keys is not None and filters is not None:
        raise ValidationError.single("filters", "give keys or filters, not both")
    table = _table_of(session, dataset, resource_id) if resource_id is not None else None
    if table is None and (keys is not None or filters is not None):
        raise ValidationError.single("resource_id", "Missing value: keys and filters name records of a resource")
    reason_text = checked_text(reason, "reason", required=True)
    evidence_text = checked_text(evidence, "evidence", required=False)
    url = _evidence_url(evidence_url)
    doubted = _doubted_fields(fields, _known_fields(session, dataset, table))
    limit = int(config.get("DATASTORE_MAX_RECORDS", 10000))
    if table is None:
        scope, covered = "dataset", []
    else:
        if keys is None and filters is None:
            raise ValidationError.single("keys", "Missing value: give keys or filters (or no resource_id to object "
                                                 "to the whole dataset)")
        covered = _covered_keys(session, actor, table, keys=keys, filters=filters, limit=limit)
        scope = "records" if keys is not None else "filter"
    now = utcnow()
    objection = Objection(package_id=dataset.id, resource_id=table.resource_id if table else None,
                          provider_id=dataset.owner_org, organization_id=department.id,
                          filer_id=actor.id if actor else None, scope=scope,
                          keys=covered if scope == "records" else [], filters=filters if scope == "filter" else None,
                          fields=doubted, reason=reason_text, evidence=evidence_text, evidence_url=url,
                          status="open", corrections=[], created=now, deadline=deadline_after(now.date(), config),
                          filed_seq=int(table.last_seq or 0) if table else 0)
    session.add(objection)
    session.flush()
    if covered:
        session.execute(sa.insert(ObjectionRecord), [
            {"objection_id": objection.id, "resource_id": table.resource_id, "key": key} for key in covered])
    _announce(session, actor, objection, "objection.created", config)
    return objection


def get_objection(session: Session, actor: User | None, objection_id: str, config: dict[str, Any]) -> Objection:
    """An objection the actor may see; anyone else is told it does not exist."""
    objection = session.get(Objection, objection_id) if isinstance(objection_id, str) and objection_id else None
    if objection is None or not can_see(session, actor, objection, config):
        raise NotFound(f"Correction request not found: {objection_id}")
    return objection


def accept_objection(session: Session, actor: User | None, objection: Objection, *,
                     config: dict[str, Any]) -> None:
    """The provider takes the objection up for verification (the flag stays, status accepted)."""
    rules.require(can_answer(session, actor, objection),
                  "Only the providing department's editors and admins verify correction requests")
    if objection.status != "open":
        raise Conflict.single("id", f"The correction request is already {objection.status}")
    objection.status, objection.accepted, objection.accepted_by = "accepted", utcnow(), actor.id
    _announce(session, actor, objection, "objection.accepted", config)


def _corrections(session: Session, objection: Objection, changes: Any) -> list[dict[str, Any]]:
    """The record changes named by change numbers or keys, each one made after the objection was filed."""
    if not isinstance(changes, list) or not changes:
        raise ValidationError.single("changes", "Missing value: name the record changes (change numbers or record "
                                                "keys) that corrected the data")
    if objection.resource_id is None:
        resources = list(session.scalars(sa.select(DatastoreTable.resource_id).join(
            Resource, Resource.id == DatastoreTable.resource_id).where(Resource.package_id == objection.package_id)))
    else:
        resources = [objection.resource_id]
    found: list[dict[str, Any]] = []
    for index, change in enumerate(changes):
        where = [Record.resource_id.in_(resources)]
        if isinstance(change, bool) or not isinstance(change, (int, str)) or change == "":
            raise ValidationError.single(f"changes.{index}", "a change number or a record key")
        where.append(Record.seq == change if isinstance(change, int) else Record.key == change)
        rows = session.execute(sa.select(Record.resource_id, Record.key, Record.seq, Record.updated_at)
                               .where(*where)).all()
        if not rows:
            raise ValidationError.single(f"changes.{index}", f"no record holds change {change}" if isinstance(
                change, int) else f"no such record: {change}")
        if len(rows) > 1:
            raise ValidationError.single(f"changes.{index}", "several resources hold it: name it by change number")
        resource_id, key, seq, updated = rows[0]
        after = seq > objection.filed_seq if objection.resource_id else updated >= objection.created
        if not after:
            raise ValidationError.single(f"changes.{index}", f"record {key} was last changed before the correction "
                                                             "request was filed")
        found.append({"resource_id": resource_id, "key": key, "seq": seq})
    return found


def resolve_objection(session: Session, actor: User | None, objection: Objection, *, outcome: Any, note: Any,
                      changes: Any, config: dict[str, Any]) -> None:
    """Settle the objection: corrected (with the record changes), confirmed_correct or rejected; the flag is lifted."""
    rules.require(can_answer(session, actor, objection),
                  "Only the providing department's editors and admins settle correction requests")
    if objection.status not in FLAGGED_STATES:
        raise Conflict.single("id", f"The correction request is already {objection.status}")
    if outcome not in OUTCOMES:
        raise ValidationError.single("outcome", "must be one of: " + ", ".join(OUTCOMES))
    note_text = checked_text(note, "note", required=True)
    if outcome == "corrected":
        objection.corrections = _corrections(session, objection, changes)
    elif changes:
        raise ValidationError.single("changes", "only a corrected outcome links record changes")
    objection.status, objection.outcome, objection.note = "resolved", outcome, note_text
    objection.resolved, objection.resolved_by = utcnow(), actor.id
    _announce(session, actor, objection, "objection.resolved", config)


def list_objections(session: Session, actor: User | None, *, config: dict[str, Any], direction: str | None,
                    package_id: str | None, status: str | None, overdue: bool | None, offset: int,
                    limit: int) -> list[Objection]:
    """Objections to (``incoming``) or from (``outgoing``) the actor's departments, or both; the authority sees all."""
    if actor is None:
        raise NotAuthorized("Log in or give an API token")
    query = sa.select(Objection)
    if not is_authority(session, actor, config) or direction:
        mine = sa.select(Membership.department_id).where(Membership.user_id == actor.id)
        sides = {"incoming": [Objection.provider_id.in_(mine)], "outgoing": [Objection.organization_id.in_(mine)],
                 None: [Objection.provider_id.in_(mine), Objection.organization_id.in_(mine)]}[direction]
        query = query.where(sa.or_(*sides))
    if package_id:
        query = query.join(Dataset, Dataset.id == Objection.package_id).where(
            sa.or_(Dataset.id == package_id, Dataset.name == package_id))
    if status:
        if status not in OBJECTION_STATES:
            raise ValidationError.single("status", "must be one of: " + ", ".join(OBJECTION_STATES))
        query = query.where(Objection.status == status)
    if overdue is not None:
        late = sa.and_(Objection.status != "resolved", Objection.deadline < utcnow().date())
        query = query.where(late if overdue else sa.not_(late))
    query = query.order_by(Objection.deadline, Objection.created, Objection.id)
    return list(session.scalars(query.offset(offset).limit(limit)))


def _parties(objection: Objection, config: dict[str, Any]):
    def audience(session: Session, user: User | None) -> bool:
        return user is not None and can_see(session, user, objection, config)
    return audience


def _announce(session: Session, actor: User | None, objection: Objection, event: str, config: dict[str, Any]) -> None:
    """Write the webhook deliveries to the two departments and the authority.

    No activity is recorded on the dataset: its activity stream is read by everyone who reads the
    dataset, and an objection is for its two departments and the authority only.
    """
    webhooks.enqueue(session, objection.dataset, event, webhook_payload(objection), audience=_parties(objection, config))


def webhook_payload(objection: Objection) -> dict[str, Any]:
    """What a webhook says of an objection: ids, state and dates, never the reason or the evidence."""
    return {"id": objection.id, "package_id": objection.package_id, "package_name": objection.dataset.name,
            "resource_id": objection.resource_id, "provider_id": objection.provider_id,
            "organization_id": objection.organization_id, "status": objection.status, "outcome": objection.outcome,
            "deadline": objection.deadline.isoformat()}


def _hidden_paths(session: Session, actor: User | None, dataset: Dataset, table: DatastoreTable) -> dict[str, str]:
    """The sensitive paths of a table the actor would see masked (all of them without record access)."""
    access = record_access(session, actor, dataset)
    if access.allowed and access.granted_fields is None:
        return {}
    granted = set(access.granted_fields or ()) if access.allowed else set()
    return masking.masked_paths(table.schema_document or {}, granted)


def _masked_key(key: str, primary_key: list[str], paths: dict[str, str]) -> str:
    if not any(name in paths for name in primary_key):
        return key
    if len(primary_key) == 1:
        values = [key]
    else:
        try:
            values = json.loads(key)
        except ValueError:
            return masking.WITHHELD
    entry = masking.mask_record(dict(zip(primary_key, values)), paths)
    return masking.masked_key(entry, primary_key, paths, record_key) or key


def shown_to(session: Session, actor: User | None, objection: Objection) -> dict[str, Any]:
    """The objection's keys, filter values and corrected keys as ``actor`` may see them: masked where the
    record schema marks them sensitive and the actor's access does not cover them (an authority
    department's editor without a grant sees them as a reader without grants would)."""
    tables: dict[str, tuple[list[str], dict[str, str]]] = {}

    def hidden(resource_id: str) -> tuple[list[str], dict[str, str]]:
        if resource_id not in tables:
            table = session.get(DatastoreTable, resource_id)
            tables[resource_id] = ((list(table.primary_key), _hidden_paths(session, actor, objection.dataset, table))
                                   if table is not None else ([], {}))
        return tables[resource_id]

    keys, filters = list(objection.keys or []), objection.filters
    if objection.resource_id:
        primary_key, paths = hidden(objection.resource_id)
        keys = [_masked_key(k, primary_key, paths) for k in keys]
        if filters:
            top = {path.split(".", 1)[0]: kind for path, kind in paths.items()}
            filters = {name: ([masking.mask_value(top[name], v) for v in value] if isinstance(value, list)
                              else masking.mask_value(top[name], value)) if name in top else value
                       for name, value in filters.items()}
    corrections = []
    for change in objection.corrections or []:
        primary_key, paths = hidden(change["resource_id"])
        corrections.append({**change, "key": _masked_key(change["key"], primary_key, paths)})
    return {"keys": keys, "filters": filters, "corrections": corrections}
