"""A provider that stops or narrows sharing of a dataset that has live grants (decree 809 art. 29).

Narrowing is: the share type becoming ``none`` (不予共享), the dataset made private, withdrawn (to draft) or
deleted, or its record schema replaced by one that marks more fields sensitive. With live grants
(neither revoked nor expired; suspended ones count) the change needs a reason (409 naming ``reason``);
each grantee department gets a notice and a ``sharing.narrowed`` event, and the dataset's activity records
the change and its reason. Called by :mod:`catalog.datasets.service` before it applies the change, so
that the grantees' webhook subscriptions still see the dataset; with catalog review on, a revision that
narrows is checked when the data authority approves it (``apply_reviewed``), with the approval's reason.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from schemas.validation import sensitive_fields

from ..activity.service import record_activity
from ..auth.models import User
from ..datasets.models import Dataset
from ..datastore.record_schemas import find_record_schema
from ..db import utcnow
from ..errors import ValidationError
from ..webhooks.service import enqueue
from .models import Grant, ShareNotice
from .notices import departments_audience


def _sensitive(session: Session, ref: str | None) -> set[str]:
    schema = find_record_schema(session, ref) if ref else None
    return set(sensitive_fields(schema)) if schema else set()


def narrowing_changes(session: Session, dataset: Dataset, after: dict[str, Any]) -> list[str]:
    """What of ``after`` (the values about to be applied) narrows the sharing of ``dataset``."""
    changes = []
    if after.get("share_type", dataset.share_type) == "none" and dataset.share_type != "none":
        changes.append("share_type")
    if after.get("private", dataset.private) and not dataset.private:
        changes.append("private")
    if dataset.state == "active" and after.get("state", dataset.state) in ("draft", "deleted"):
        changes.append("state")
    if after.get("record_schema", dataset.record_schema) != dataset.record_schema:
        added = _sensitive(session, after.get("record_schema")) - _sensitive(session, dataset.record_schema)
        if added:
            changes.append("sensitive_fields")
    return changes


def live_grants(session: Session, dataset: Dataset) -> list[Grant]:
    """The dataset's grants that are neither revoked nor expired (suspended ones included), in no order:
    each gets its notice, and notices are listed by their own time."""
    now = utcnow()
    return list(session.scalars(sa.select(Grant).where(
        Grant.package_id == dataset.id, Grant.revoked_at.is_(None),
        sa.or_(Grant.expires_at.is_(None), Grant.expires_at > now))))


def check_narrowing(session: Session, actor: User | None, dataset: Dataset, after: dict[str, Any], *,
                    reason: str | None) -> None:
    """Refuse a narrowing of a dataset with live grants that gives no reason; otherwise tell the grantees."""
    changes = narrowing_changes(session, dataset, after)
    grants = live_grants(session, dataset) if changes else []
    if not grants:
        return
    if not reason or not reason.strip():
        raise ValidationError.single("reason", f"Missing value: {len(grants)} department(s) hold grants on dataset "
                                               f"{dataset.name}; say why its sharing stops or narrows "
                                               f"({', '.join(changes)})")
    data = {"changes": changes, "reason": reason.strip(),
            "new_values": {k: after[k] for k in ("share_type", "private", "state", "record_schema") if k in after}}
    grantees = list(dict.fromkeys(g.organization_id for g in grants))
    record_activity(session, actor, object_id=dataset.id, department_id=dataset.owner_org,
                    activity_type="narrowed sharing", data={"sharing": data})
    for grant in grants:
        session.add(ShareNotice(organization_id=grant.organization_id, package_id=dataset.id,
                                kind="sharing.narrowed", request_id=grant.request_id, grant_id=grant.id, data=data))
    enqueue(session, dataset, "sharing.narrowed", {"package_id": dataset.id, "package_name": dataset.name, **data},
            audience=departments_audience({dataset.owner_org, *grantees}))
    session.flush()
