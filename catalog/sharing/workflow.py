"""Answering a share request on time (decree 809 arts. 21–22): returning an incomplete request for
completion (补正) with the clock stopped, and one extension the data authority approves or refuses.

The deadline (``ShareRequest.deadline``) is always the day the answer is due:
- filed on day F: the 10th working day after F (:func:`catalog.sharing.service._deadline`);
- returned on day R, resubmitted on day S: the clock stands still from the day after R up to and
  including S, so the deadline moves on by the working days in that span (``Calendar.between(R, S)``),
  which leaves the requester's resubmission the same number of working days the provider had left on R;
- an approved extension of N working days moves it on by N working days.
"Answered in time" (the quarterly report) is ``decided_at`` (approval or rejection) on or before ``deadline``.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from ..auth import rules
from ..auth.models import User
from ..db import utcnow
from ..errors import Conflict, ValidationError
from .models import ShareRequest
from .notices import announce
from .service import require_decider
from .workdays import Calendar

#: the parts of a request a return may name as missing
RETURNABLE_PARTS = ("basis", "scenario", "purpose", "fields", "expires", "organization_id", "other")
EXTENSION_MAX_DAYS = 10


def _payload(request: ShareRequest, **extra: Any) -> dict[str, Any]:
    return {"status": request.status, "deadline": request.deadline.isoformat(), **extra}


def _announce(session: Session, actor: User | None, request: ShareRequest, event: str, activity_type: str,
              notify: list[str], **extra: Any) -> None:
    announce(session, actor, dataset=request.dataset, event=event, activity_type=activity_type,
             organization_id=request.organization_id, notify=notify, data=_payload(request, **extra),
             request_id=request.id)


def deadline_after_pause(deadline: dt.date, returned_on: dt.date, resubmitted_on: dt.date,
                         calendar: Calendar) -> tuple[dt.date, int]:
    """The deadline after a return on ``returned_on`` and a resubmission on ``resubmitted_on``, and the
    working days the clock stood still (those after the return up to and including the resubmission)."""
    paused = calendar.between(returned_on, resubmitted_on)
    return calendar.add(deadline, paused), paused


def _check_missing(missing: Any) -> dict[str, str]:
    if not isinstance(missing, dict) or not missing:
        raise ValidationError.single("missing", "Missing value: list what is missing, part by part "
                                                "(e.g. {\"basis\": \"cite the article of the law\"})")
    clean = {}
    for part, what in missing.items():
        if part not in RETURNABLE_PARTS:
            raise ValidationError.single("missing", f"unknown part {part!r}; one of: {', '.join(RETURNABLE_PARTS)}")
        if not isinstance(what, str) or not what.strip():
            raise ValidationError.single("missing", f"say what is missing in {part}")
        clean[part] = what.strip()
    return clean


def return_request(session: Session, actor: User | None, request: ShareRequest, *, missing: Any) -> None:
    """Send a pending request back for completion with everything missing listed at once (一次性告知);
    its clock stops until the requester resubmits."""
    require_decider(session, actor, request)
    if request.status != "pending":
        raise Conflict.single("id", f"Only pending requests can be returned; this one is {request.status}")
    if request.returned_at is not None:
        raise Conflict.single("id", "The request was returned once already: what is missing is listed all at once")
    request.missing = _check_missing(missing)
    request.status = "returned"
    request.returned_at = utcnow()
    _announce(session, actor, request, "request.returned", "returned share request", [request.organization_id],
              missing=request.missing)


def _check_text(name: str, value: str | None, current: str) -> str:
    if value is None:
        return current
    if not value.strip():
        raise ValidationError.single(name, "Missing value")
    return value.strip()


def resubmit_request(session: Session, actor: User | None, request: ShareRequest, *, config: dict[str, Any],
                     basis: str | None = None, scenario: str | None = None, purpose: str | None = None,
                     fields: list[str] | None = None, expires: dt.date | None = None) -> None:
    """Complete a returned request and send it again; the deadline moves on by the working days it was away."""
    role = rules.role_in(session, actor, request.organization_id)
    rules.require(rules.is_sysadmin(actor) or role in rules.EDIT_ROLES,
                  "Only editors and admins of the requesting department resubmit its request")
    if request.status != "returned":
        raise Conflict.single("id", f"Only returned requests are resubmitted; this one is {request.status}")
    request.basis = _check_text("basis", basis, request.basis)
    request.scenario = _check_text("scenario", scenario, request.scenario)
    request.purpose = _check_text("purpose", purpose, request.purpose)
    for name in ("basis", "scenario"):  # rows filed before basis and scenario existed must now state them
        if not getattr(request, name):
            raise ValidationError.single(name, "Missing value")
    today = utcnow().date()
    if expires is not None:
        if expires <= today:
            raise ValidationError.single("expires", "must be a date in the future")
        request.expires = expires
    if fields is not None:
        request.fields = list(dict.fromkeys(fields))
    request.deadline, paused = deadline_after_pause(request.deadline, request.returned_at.date(), today,
                                                    Calendar.from_config(config))
    request.paused_days = (request.paused_days or 0) + paused
    request.status = "pending"
    request.resubmitted_at = utcnow()
    _announce(session, actor, request, "request.resubmitted", "resubmitted share request",
              [request.dataset.owner_org], paused_days=paused)


def request_extension(session: Session, actor: User | None, request: ShareRequest, *, days: int, reason: str,
                      config: dict[str, Any]) -> None:
    """Ask the data authority for at most 10 more working days to answer, with a reason, before the deadline."""
    require_decider(session, actor, request)
    if request.status != "pending":
        raise Conflict.single("id", f"Only pending requests can be extended; this one is {request.status}")
    if request.extension_status is not None:
        raise Conflict.single("id", f"A request is extended once; its extension was already {request.extension_status}")
    most = int(config.get("SHARE_EXTENSION_MAX_DAYS", EXTENSION_MAX_DAYS))
    if not isinstance(days, int) or not 1 <= days <= most:
        raise ValidationError.single("days", f"must be a number of working days from 1 to {most}")
    if not reason or not reason.strip():
        raise ValidationError.single("reason", "Missing value: say why the answer needs more time")
    if utcnow().date() > request.deadline:
        raise Conflict.single("id", f"The deadline {request.deadline.isoformat()} has passed: "
                                    "an extension is asked for before it")
    request.extension_days, request.extension_reason = days, reason.strip()
    request.extension_status, request.extension_requested_at = "requested", utcnow()
    _announce(session, actor, request, "request.extension_requested", "asked to extend share request",
              [request.organization_id], extension_days=days, extension_reason=request.extension_reason)


def decide_extension(session: Session, actor: User | None, request: ShareRequest, *, approve: bool,
                     reason: str | None, config: dict[str, Any]) -> None:
    """The data authority approves (the deadline moves on) or refuses (with a reason) an asked extension;
    both departments are told either way."""
    rules.require(rules.can_decide_share_extension(session, actor, config.get("AUTHORITY_DEPARTMENT"),
                                                   provider_id=request.dataset.owner_org),
                  "Only the data authority, outside the providing department, decides on extensions")
    if request.extension_status != "requested":
        raise Conflict.single("id", "No extension of this request waits for a decision")
    if request.status not in ("pending", "returned"):
        raise Conflict.single("id", f"The request is already {request.status}")
    note = (reason or "").strip()
    if not approve and not note:
        raise ValidationError.single("reason", "Missing value: a refusal must state its reasons")
    if approve:
        request.deadline = Calendar.from_config(config).add(request.deadline, request.extension_days)
    request.extension_status = "approved" if approve else "refused"
    request.extension_decided_by, request.extension_decided_at = actor.id, utcnow()
    request.extension_note = note or None
    _announce(session, actor, request, "request.extension_decided", "decided share request extension",
              [request.organization_id, request.dataset.owner_org], extension_status=request.extension_status,
              extension_days=request.extension_days, extension_note=request.extension_note)
