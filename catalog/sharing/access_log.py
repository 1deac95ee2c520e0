"""The access log: every read of records, chained by SHA-256 so that an edited or deleted entry shows.

Appending takes the lock on the single ``access_log_head`` row (an UPDATE), so concurrent readers
append one after another and the chain never forks.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..db import utcnow
from ..errors import NotAuthorized
from .models import AccessLogEntry, AccessLogHead

GENESIS = "0" * 64


def entry_hash(entry: AccessLogEntry) -> str:
    """The SHA-256 of an entry's content and the previous entry's hash."""
    content = {
        "timestamp": entry.timestamp.isoformat(), "action": entry.action, "user_id": entry.user_id,
        "user_name": entry.user_name, "departments": entry.departments, "package_id": entry.package_id,
        "owner_org": entry.owner_org, "resource_id": entry.resource_id, "params": entry.params,
        "record_count": entry.record_count, "prev_hash": entry.prev_hash,
    }
    text = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def append_entry(session: Session, actor: User | None, *, action: str, dataset: Dataset,
                 resource_id: str | None, departments: list[str], params: dict[str, Any],
                 record_count: int) -> AccessLogEntry:
    """Append one read to the chain (committed with the request)."""
    updated = session.execute(sa.update(AccessLogHead).where(AccessLogHead.id == 1)
                              .values(last_hash=AccessLogHead.last_hash)).rowcount
    if not updated:
        session.add(AccessLogHead(id=1, last_hash=GENESIS))
        session.flush()
    previous = session.scalar(sa.select(AccessLogHead.last_hash).where(AccessLogHead.id == 1))
    entry = AccessLogEntry(timestamp=utcnow().replace(microsecond=0), action=action,
                           user_id=actor.id if actor else None, user_name=actor.name if actor else None,
                           departments=sorted(departments), package_id=dataset.id, owner_org=dataset.owner_org,
                           resource_id=resource_id, params=params, record_count=record_count,
                           prev_hash=previous)
    entry.hash = entry_hash(entry)
    session.add(entry)
    session.execute(sa.update(AccessLogHead).where(AccessLogHead.id == 1).values(last_hash=entry.hash))
    session.flush()
    return entry


def verify_chain(session: Session, *, batch: int = 5000) -> tuple[bool, int, str]:
    """Walk the whole log; ``(ok, entries checked, message)`` naming the first broken entry."""
    previous, checked, last_id = GENESIS, 0, None

    def entries() -> Iterator[AccessLogEntry]:
        nonlocal last_id
        while True:
            query = sa.select(AccessLogEntry).order_by(AccessLogEntry.id).limit(batch)
            if last_id is not None:
                query = query.where(AccessLogEntry.id > last_id)
            chunk = list(session.scalars(query))
            if not chunk:
                return
            last_id = chunk[-1].id
            yield from chunk
            session.expunge_all()

    for entry in entries():
        if entry.prev_hash != previous:
            return False, checked, (f"entry {entry.id}: does not follow the entry before it "
                                    "(an entry was deleted or inserted)")
        if entry_hash(entry) != entry.hash:
            return False, checked, f"entry {entry.id}: its content does not match its hash (edited)"
        previous = entry.hash
        checked += 1
    head = session.scalar(sa.select(AccessLogHead.last_hash).where(AccessLogHead.id == 1))
    if head is not None and head != previous:
        return False, checked, "the newest entries were deleted (the chain ends before its recorded head)"
    return True, checked, f"{checked} entries, chain intact"


def list_entries(session: Session, actor: User | None, *, owner_org: str | None, package_id: str | None,
                 offset: int, limit: int) -> list[AccessLogEntry]:
    """Entries about a providing department's datasets (its admins, sysadmins), newest first."""
    if not rules.is_sysadmin(actor):
        if not owner_org:
            raise NotAuthorized("Give organization_id: the providing department whose log you administer")
        rules.require(rules.role_in(session, actor, owner_org) == "admin",
                      "Only the providing department's admins and sysadmins read its access log")
    query = sa.select(AccessLogEntry)
    if owner_org:
        query = query.where(AccessLogEntry.owner_org == owner_org)
    if package_id:
        query = query.where(AccessLogEntry.package_id == package_id)
    return list(session.scalars(query.order_by(AccessLogEntry.id.desc()).offset(offset).limit(limit)))
