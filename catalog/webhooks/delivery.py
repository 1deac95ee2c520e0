"""Sending one delivery: claim it, POST the signed thin body, record the try, schedule the retry.

Never inside a change's transaction: a sender claims the delivery in a short transaction of its own
(``locked_until``, so two senders never send it at once and a crashed sender's claim lapses), posts
without holding any transaction open, then records the outcome in another short one.

* 2xx: delivered. 410 Gone: the receiver wants no more; the subscription is disabled and its other
  waiting deliveries cancelled. Anything else (another status, a timeout, a refused connection):
  retried after ``WEBHOOK_RETRY_DELAY`` seconds, doubled at each try up to ``WEBHOOK_RETRY_MAX_DELAY``,
  until ``WEBHOOK_MAX_ATTEMPTS`` tries, then failed.

Where: every try goes through the app's outbound policy (:mod:`connectors.outbound`,
``CATALOG_OUTBOUND_ALLOW``): the receiver's name is resolved at send time and a loopback, private,
link-local or metadata address is refused (so a name that pointed elsewhere when the subscription was
made — DNS rebinding — gains nothing); redirects are not followed. A refused try is failed at once.

What the log keeps of a try: the status code with its standard reason phrase, or the kind of
failure (timeout, connection, refused by the policy — naming the URL's host, not the address it
resolved to) — never the receiver's body or the low-level error text. The subscriber reads this log (``webhook_delivery_list``); a receiver's answer is its
own business, and when the URL leads somewhere it should not, the answer must not travel back.
"""
from __future__ import annotations

import datetime as dt
import http
import json
import time
from dataclasses import dataclass
from typing import Any

import requests
import sqlalchemy as sa

from connectors.outbound import OutboundRefused, Policy

from ..db import Database, utcnow
from . import signing
from .models import WebhookDelivery, WebhookSubscription

USER_AGENT = "catalog-webhooks/1 (Standard Webhooks)"
LOG_TRIES_KEPT = 50


@dataclass(frozen=True)
class Settings:
    """The delivery settings of an app's config."""

    max_attempts: int = 8
    retry_delay: float = 5.0
    retry_max_delay: float = 3600.0
    timeout: float = 10.0
    secret_key: str = ""

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Settings":
        """The settings from ``WEBHOOK_*`` and ``SECRET_KEY``."""
        return cls(max_attempts=max(1, int(config.get("WEBHOOK_MAX_ATTEMPTS", 8))),
                   retry_delay=max(0.0, float(config.get("WEBHOOK_RETRY_DELAY", 5))),
                   retry_max_delay=max(0.0, float(config.get("WEBHOOK_RETRY_MAX_DELAY", 3600))),
                   timeout=max(0.1, float(config.get("WEBHOOK_TIMEOUT", 10))),
                   secret_key=str(config.get("SECRET_KEY") or ""))

    def backoff(self, tries: int) -> float:
        """Seconds to wait after the ``tries``-th failed try (exponential, capped)."""
        return min(self.retry_delay * 2 ** (tries - 1), self.retry_max_delay)


def body_of(delivery: WebhookDelivery) -> bytes:
    """The thin JSON body of a delivery: event type, when it happened, and the ids to pull with."""
    created = delivery.created.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": delivery.event, "timestamp": created, "data": delivery.payload},
                      ensure_ascii=False, separators=(",", ":")).encode()


@dataclass
class Outcome:
    """What one call of :func:`attempt` did: ``sent`` a try, and when the next one is due (if any)."""

    sent: bool
    status: str | None  # the delivery's status afterwards (None: no such delivery)
    next_attempt_at: dt.datetime | None = None


def _claim(database: Database, delivery_id: str, settings: Settings):
    """Take the delivery for one try; (url, body, headers) or the Outcome of not taking it."""
    with database.session() as session:
        now = utcnow()
        claimed = session.execute(
            sa.update(WebhookDelivery).where(
                WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
                WebhookDelivery.next_attempt_at <= now,
                sa.or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
            .values(locked_until=now + dt.timedelta(seconds=settings.timeout + 30))
            .execution_options(synchronize_session=False)).rowcount
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:
            session.rollback()
            return Outcome(False, None)
        if claimed != 1:
            waiting = delivery.status == "pending" and (delivery.locked_until is None or delivery.locked_until < now)
            result = Outcome(False, delivery.status, delivery.next_attempt_at if waiting else None)
            session.rollback()
            return result
        subscription = delivery.subscription
        if not subscription.active:
            delivery.status, delivery.finished, delivery.locked_until = "cancelled", now, None
            delivery.last_error = "the subscription is disabled"
            session.commit()
            return Outcome(False, "cancelled")
        try:
            secret = signing.decrypt_secret(subscription.secret_encrypted, settings.secret_key)
        except signing.SecretUnavailable as error:
            delivery.status, delivery.finished, delivery.locked_until = "failed", now, None
            delivery.last_error = str(error)
            delivery.log = [*(delivery.log or []), {"at": now.isoformat(), "status_code": None, "error": str(error),
                                                    "duration_ms": 0}]
            session.commit()
            return Outcome(False, "failed")
        body = body_of(delivery)
        timestamp = int(time.time())
        headers = {"content-type": "application/json", "user-agent": USER_AGENT,
                   "webhook-id": delivery.id, "webhook-timestamp": str(timestamp),
                   "webhook-signature": signing.sign(secret, delivery.id, timestamp, body)}
        url = subscription.url
        session.commit()
        return url, body, headers


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float,
          outbound: Policy) -> tuple[int | None, str | None, int, bool]:
    """(status code, what the log says, milliseconds, refused by the policy) of one POST."""
    started = time.monotonic()
    try:
        with outbound.session() as session:
            response = session.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=False,
                                    stream=True)  # the body is never read: only the status is kept
            response.close()
    except OutboundRefused as error:  # without the address: the subscriber must not learn internal DNS
        return (None, f"refused: {error.host}:{error.port} is not a public address; webhooks reach only public "
                "addresses unless CATALOG_OUTBOUND_ALLOW lists the host", int((time.monotonic() - started) * 1000),
                True)
    except requests.Timeout:
        return None, f"Timeout: no answer within {timeout:g} s", int((time.monotonic() - started) * 1000), False
    except requests.RequestException as error:
        return (None, f"{type(error).__name__}: could not reach the receiver", int((time.monotonic() - started) * 1000),
                False)
    elapsed = int((time.monotonic() - started) * 1000)
    status = response.status_code
    if 200 <= status < 300:
        return status, None, elapsed, False
    try:
        phrase = http.HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return status, f"HTTP {status}" + (f" {phrase}" if phrase else ""), elapsed, False


def attempt(database: Database, delivery_id: str, settings: Settings) -> Outcome:
    """Make one try of a delivery if it is pending, due and not held by another sender."""
    claim = _claim(database, delivery_id, settings)
    if isinstance(claim, Outcome):
        return claim
    url, body, headers = claim
    status_code, error, elapsed, refused = _post(url, body, headers, settings.timeout, database.outbound)
    with database.session() as session:
        now = utcnow()
        delivery = session.get(WebhookDelivery, delivery_id)
        if delivery is None:  # the subscription was deleted meanwhile
            return Outcome(True, None)
        delivery.attempts += 1
        delivery.locked_until = None
        delivery.last_status_code, delivery.last_error = status_code, error
        entry = {"at": now.isoformat(), "status_code": status_code, "error": error, "duration_ms": elapsed}
        delivery.log = [*(delivery.log or []), entry][-LOG_TRIES_KEPT:]
        if status_code is not None and 200 <= status_code < 300:
            delivery.status, delivery.finished = "delivered", now
        elif refused:  # the address will not become public by waiting
            delivery.status, delivery.finished = "failed", now
        elif status_code == 410:
            delivery.status, delivery.finished = "failed", now
            _disable(session, delivery.subscription, now, except_id=delivery.id)
        elif delivery.attempts >= settings.max_attempts:
            delivery.status, delivery.finished = "failed", now
        else:
            delivery.next_attempt_at = now + dt.timedelta(seconds=settings.backoff(delivery.attempts))
        session.commit()
        return Outcome(True, delivery.status, delivery.next_attempt_at if delivery.status == "pending" else None)


def _disable(session, subscription: WebhookSubscription, now: dt.datetime, *, except_id: str) -> None:
    subscription.active = False
    subscription.modified = now
    subscription.disabled_reason = (f"the receiver answered 410 Gone at {now:%Y-%m-%d %H:%M:%S} UTC; "
                                    "create a new subscription to receive events again")
    session.execute(sa.update(WebhookDelivery).where(
        WebhookDelivery.subscription_id == subscription.id, WebhookDelivery.status == "pending",
        WebhookDelivery.id != except_id).values(
        status="cancelled", finished=now, last_error="the subscription was disabled (410 Gone)")
        .execution_options(synchronize_session=False))


def due_deliveries(database: Database, *, limit: int = 1000) -> list[str]:
    """Ids of pending deliveries due now and held by no sender (left by a crash, or waiting to retry)."""
    with database.session() as session:
        now = utcnow()
        return list(session.scalars(sa.select(WebhookDelivery.id).where(
            WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now,
            sa.or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id).limit(limit)))


def drain(database: Database, delivery_ids: list[str], settings: Settings, *, max_wait: float = 30.0) -> dict[str, str]:
    """Try the deliveries until each is finished, or its next try is more than ``max_wait`` seconds away
    (then it stays pending for the scheduler tick or ``catalog webhooks deliver``); their statuses."""
    waiting = {delivery_id: utcnow() for delivery_id in dict.fromkeys(delivery_ids)}
    statuses: dict[str, str] = {}
    while waiting:
        now = utcnow()
        for delivery_id, due in sorted(waiting.items(), key=lambda item: item[1]):
            if due > now:
                continue
            outcome = attempt(database, delivery_id, settings)
            statuses[delivery_id] = outcome.status or "gone"
            if outcome.next_attempt_at is None:
                del waiting[delivery_id]
            else:
                waiting[delivery_id] = outcome.next_attempt_at
        if not waiting:
            break
        pause = (min(waiting.values()) - utcnow()).total_seconds()
        if pause > max_wait:
            break
        if pause > 0:
            time.sleep(pause)
    return statuses
