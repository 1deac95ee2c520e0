"""Subscriptions to a dataset's events, and the outbox: deliveries written with the change itself.

The emit functions (:func:`records_changed`, :func:`metadata_changed`, :func:`freshness_overdue`,
:func:`sync_run_with_errors`)
are called by the services inside the transaction of the change. They add one pending
:class:`WebhookDelivery` per interested subscription and note its id on the session; the ids are
handed to the dispatcher only after that transaction commits (:mod:`catalog.webhooks`), so a
rolled-back change notifies nobody, and a committed one stays pending in the table until sent,
whatever happens to the process (``catalog webhooks deliver`` and the scheduler tick pick it up).

A subscription's URL is where the server will send requests, so it keeps to the app's outbound
policy (``CATALOG_OUTBOUND_ALLOW``; ``session.info["outbound"]``): a URL whose host is a loopback,
private, link-local or metadata address is refused here; a name is checked when each delivery is sent
(:mod:`catalog.webhooks.delivery`), after it is resolved.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from connectors.outbound import Policy

from ..auth import rules
from ..auth.models import User
from ..datasets.models import Dataset
from ..db import utcnow
from ..errors import NotFound, ValidationError
from . import signing
from .models import DEFAULT_EVENTS, EVENTS, WebhookDelivery, WebhookSubscription, new_message_id
from ..datastore.query import encode_cursor
from ..departments.models import Membership

#: where the ids of the deliveries written in a session's transaction wait for its commit
PENDING_KEY = "catalog.webhooks.pending"


# --- subscriptions ---------------------------------------------------------------------------------


def _check_url(url: Any, outbound: Policy) -> str:
    if not isinstance(url, str) or not url.strip():
        raise ValidationError.single("url", "Missing value: the http(s) URL that receives the events")
    url = url.strip()
    if len(url) > 2000:
        raise ValidationError.single("url", "must be at most 2000 characters")
    try:
        parts = urlsplit(url)
        host, _port = parts.hostname, parts.port  # each raises ValueError on a malformed URL
    except ValueError:
        raise ValidationError.single("url", "is not a valid URL (host or port malformed)") from None
    if parts.scheme not in ("http", "https") or not host:
        raise ValidationError.single("url", "must be an absolute http:// or https:// URL")
    if any(ch.isspace() for ch in url):
        raise ValidationError.single("url", "must not contain spaces")
    refused = outbound.refusal_for_url(url)
    if refused:
        raise ValidationError.single("url", refused)
    return url


def _check_events(events: Any) -> list[str]:
    if events is None:
        return list(DEFAULT_EVENTS)
    if isinstance(events, str):
        events = [events]
    if not isinstance(events, list) or not events:
        raise ValidationError.single("events", "must be a non-empty list of: " + ", ".join(EVENTS))
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise ValidationError.single("events", f"unknown event {unknown[0]!r}; must be among: " + ", ".join(EVENTS))
    return list(dict.fromkeys(events))


def create_subscription(session: Session, actor: User | None, dataset: Dataset, *, url: Any,
                        events: Any = None, secret_key: str) -> tuple[WebhookSubscription, str]:
    """Subscribe ``url`` to the dataset's ``events``; returns the subscription and its secret (shown once)."""
    rules.require(rules.can_subscribe(session, actor, dataset),
                  "Sign in with an account that may read dataset "
                  f"{dataset.name} to subscribe to its events")
    url, events = _check_url(url, session.info.get("outbound") or Policy()), _check_events(events)
    secret = signing.new_secret()
    subscription = WebhookSubscription(package_id=dataset.id, url=url, events=events, active=True,
                                       secret_encrypted=signing.encrypt_secret(secret, secret_key),
                                       creator_user_id=actor.id if actor else None)
    session.add(subscription)
    session.flush()
    return subscription, secret


def get_subscription(session: Session, actor: User | None, subscription_id: str) -> WebhookSubscription:
    """A subscription the actor may see (its subscriber, the dataset's editors, sysadmins), or NotFound."""
    subscription = session.get(WebhookSubscription, subscription_id) if subscription_id else None
    if subscription is None or not rules.can_manage_subscription(session, actor, subscription):
        raise NotFound(f"Webhook subscription not found: {subscription_id}")
    return subscription


def list_subscriptions(session: Session, actor: User | None, *, dataset: Dataset | None = None,
                       offset: int = 0, limit: int = 100) -> list[WebhookSubscription]:
    """The subscriptions the actor may see: their own, and all those of datasets they edit."""
    query = sa.select(WebhookSubscription).join(Dataset, Dataset.id == WebhookSubscription.package_id)
    if dataset is not None:
        query = query.where(WebhookSubscription.package_id == dataset.id)
    if actor is None:
        return []
    if not rules.is_sysadmin(actor):
        edited = sa.select(Membership.department_id).where(Membership.user_id == actor.id,
                                                           Membership.role.in_(rules.EDIT_ROLES))
        query = query.where(sa.or_(WebhookSubscription.creator_user_id == actor.id, Dataset.owner_org.in_(edited)))
    return list(session.scalars(query.order_by(WebhookSubscription.created, WebhookSubscription.id)
                                .offset(offset).limit(limit)))


def delete_subscription(session: Session, actor: User | None, subscription: WebhookSubscription) -> None:
    """Remove a subscription and its delivery log."""
    rules.require(rules.can_manage_subscription(session, actor, subscription),
                  f"You cannot delete webhook subscription {subscription.id}")
    session.delete(subscription)
    session.flush()


def list_deliveries(session: Session, subscription: WebhookSubscription, *, status: str | None = None,
                    offset: int = 0, limit: int = 100) -> list[WebhookDelivery]:
    """A subscription's deliveries, newest first, each with the log of its tries."""
    query = sa.select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription.id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    return list(session.scalars(query.order_by(WebhookDelivery.created.desc(), WebhookDelivery.id.desc())
                                .offset(offset).limit(limit)))


# --- the outbox ------------------------------------------------------------------------------------


def _subscriber_may_read(session: Session, subscription: WebhookSubscription, dataset: Dataset) -> bool:
    """Whether the subscriber may (still) read the dataset: a dataset made private stops its outsiders' events."""
    user = session.get(User, subscription.creator_user_id) if subscription.creator_user_id else None
    if user is None or user.state != "active":
        return False
    # a deletion is announced to those who could read the dataset until then
    state = "active" if dataset.state == "deleted" else dataset.state
    return rules.can_read_dataset(session, user, owner_org=dataset.owner_org, private=dataset.private, state=state)


def _note(session: Session, delivery_id: str) -> None:
    session.info.setdefault(PENDING_KEY, []).append(delivery_id)


#: who may receive an event beyond the dataset's readers: ``audience(session, subscriber) -> bool``
Audience = Callable[[Session, User], bool]


def enqueue(session: Session, dataset: Dataset, event: str, data: dict[str, Any], *,
            resource_id: str | None = None, audience: Audience | None = None) -> list[str]:
    """Write a pending delivery of ``event`` for each active subscription of the dataset to it
    (only to subscribers in ``audience`` when given: an objection goes to its two departments)."""
    subscriptions = session.scalars(sa.select(WebhookSubscription).where(
        WebhookSubscription.package_id == dataset.id, WebhookSubscription.active.is_(True))).all()
    written = []
    for subscription in subscriptions:
        if event not in (subscription.events or []) or not _subscriber_may_read(session, subscription, dataset):
            continue
        if audience is not None and not audience(session, session.get(User, subscription.creator_user_id)):
            continue
        if event == "records.changed" and _merge_waiting(session, subscription, resource_id, data):
            continue
        delivery = WebhookDelivery(id=new_message_id(), subscription_id=subscription.id, event=event,
                                   resource_id=resource_id, payload=data, status="pending", attempts=0,
                                   next_attempt_at=utcnow(), log=[])
        session.add(delivery)
        written.append(delivery.id)
        _note(session, delivery.id)
    if written:
        session.flush()
    return written


def enqueue_catalog_wide(session: Session, event: str, data: dict[str, Any], *, audience: Audience) -> list[str]:
    """Write a pending delivery of an event about no one dataset (the demand list) once per URL: to the
    active subscriptions, of any dataset, that name the event and whose subscriber is in ``audience``."""
    subscriptions = session.scalars(sa.select(WebhookSubscription).where(
        WebhookSubscription.active.is_(True)).order_by(WebhookSubscription.created, WebhookSubscription.id)).all()
    written, urls = [], set()
    for subscription in subscriptions:
        if event not in (subscription.events or []) or subscription.url in urls:
            continue
        user = session.get(User, subscription.creator_user_id) if subscription.creator_user_id else None
        if user is None or user.state != "active" or not audience(session, user):
            continue
        urls.add(subscription.url)
        delivery = WebhookDelivery(id=new_message_id(), subscription_id=subscription.id, event=event,
                                   payload=data, status="pending", attempts=0, next_attempt_at=utcnow(), log=[])
        session.add(delivery)
        written.append(delivery.id)
        _note(session, delivery.id)
    if written:
        session.flush()
    return written


def _merge_waiting(session: Session, subscription: WebhookSubscription, resource_id: str | None,
                   data: dict[str, Any]) -> bool:
    """Extend a not yet tried records.changed delivery of the same resource to the new changes."""
    waiting = session.scalar(sa.select(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.event == "records.changed",
        WebhookDelivery.resource_id == resource_id, WebhookDelivery.status == "pending",
        WebhookDelivery.attempts == 0, WebhookDelivery.locked_until.is_(None))
        .order_by(WebhookDelivery.created.desc()).limit(1).with_for_update())
    if waiting is None:
        return False
    waiting.payload = {**waiting.payload, "seq_to": data["seq_to"]}
    _note(session, waiting.id)
    return True


def records_changed(session: Session, table: Any, seq_from: int, seq_to: int) -> None:
    """Announce the records changes ``seq_from``..``seq_to`` of a DataStore table (none: nothing)."""
    if seq_to < seq_from:
        return
    dataset = table.resource.dataset
    enqueue(session, dataset, "records.changed", {
        "package_id": dataset.id, "package_name": dataset.name, "resource_id": table.resource_id,
        "seq_from": seq_from, "seq_to": seq_to, "cursor": encode_cursor(seq_from - 1, table)},
        resource_id=table.resource_id)


def _time(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def metadata_changed(session: Session, dataset: Dataset) -> None:
    """Announce a change of the dataset's metadata (including its deletion)."""
    enqueue(session, dataset, "metadata.changed", {
        "package_id": dataset.id, "package_name": dataset.name, "state": dataset.state,
        "metadata_modified": _time(dataset.metadata_modified)})


def freshness_overdue(session: Session, dataset: Dataset, entry: dict[str, Any]) -> None:
    """Announce that the dataset has just turned overdue (``entry``: its freshness)."""
    enqueue(session, dataset, "freshness.overdue", {
        "package_id": dataset.id, "package_name": dataset.name, "update_cycle": entry["update_cycle"],
        "last_change": _time(entry["last_change"]), "due_at": _time(entry["due_at"]),
        "overdue_at": _time(entry["overdue_at"])})


def sync_run_with_errors(session: Session, run: Any) -> None:
    """Announce a sync run that ended with invalid rows (``succeeded_with_errors``) or ``failed``, with its
    counts and top reasons, to the subscribers who may see the job's runs."""
    job = run.job
    dataset = job.dataset

    def sees_runs(session: Session, user: User | None) -> bool:
        # the runs' error messages quote rows: only those who may see the job's runs (sync_run_show)
        return rules.is_sysadmin(user) or rules.role_in(session, user, dataset.owner_org) is not None

    enqueue(session, dataset, "sync.run_with_errors", {
        "package_id": dataset.id, "package_name": dataset.name, "resource_id": job.resource_id,
        "job": job.name, "run_id": run.id, "status": run.status, "counts": dict(run.counts or {}),
        "error_message": run.error_message, "started": _time(run.started), "finished": _time(run.finished)},
        resource_id=job.resource_id, audience=sees_runs)
