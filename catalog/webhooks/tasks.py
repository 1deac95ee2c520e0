"""Where deliveries are sent: on Celery workers when ``CATALOG_BROKER_URL`` is set (the sync workers'
Celery app, :func:`catalog.sync.tasks.celery_app`), otherwise in a background thread of this process."""
from __future__ import annotations

import logging
import threading

from flask import Flask

from ..db import get_db, utcnow
from .delivery import Settings, attempt, drain

log = logging.getLogger(__name__)
TASK = "catalog.webhooks.deliver"


def register_tasks(celery, app: Flask) -> None:
    """Register the delivery task on the app's Celery app (called by ``celery_app``)."""

    @celery.task(name=TASK)
    def deliver_task(delivery_id: str) -> dict:
        outcome = attempt(get_db(app), delivery_id, Settings.from_config(app.config))
        if outcome.sent and outcome.next_attempt_at is not None:  # a retry: the same task again, when due
            delay = max(0.0, (outcome.next_attempt_at - utcnow()).total_seconds())
            celery.send_task(TASK, args=[delivery_id], countdown=delay)
        return {"delivery_id": delivery_id, "sent": outcome.sent, "status": outcome.status}


def dispatch(app: Flask, delivery_ids: list[str]) -> str:
    """Hand committed deliveries to a worker or a background thread; say which (manual mode: neither)."""
    delivery_ids = list(dict.fromkeys(delivery_ids))
    if not delivery_ids or app.config.get("WEBHOOK_DISPATCH") == "manual":
        return "left pending"
    if app.config.get("BROKER_URL"):
        from ..sync.tasks import celery_app  # the sync workers' Celery app; sync.tasks imports the services

        try:
            celery = celery_app(app)
            for delivery_id in delivery_ids:
                celery.send_task(TASK, args=[delivery_id], retry=False)
        except Exception:  # noqa: BLE001 - the deliveries stay pending; the scheduler tick sends them
            log.exception("could not queue webhook deliveries; they stay pending for the scheduler")
            return "left pending (broker unreachable)"
        return f"queued {len(delivery_ids)} deliveries on the workers"
    settings = Settings.from_config(app.config)
    thread = threading.Thread(target=_drain_logged, args=(app, delivery_ids, settings),
                              name=f"webhooks-{delivery_ids[0]}", daemon=False)
    thread.start()
    return f"sending {len(delivery_ids)} deliveries in-process"


def _drain_logged(app: Flask, delivery_ids: list[str], settings: Settings) -> None:
    try:
        drain(get_db(app), delivery_ids, settings)
    except Exception:  # noqa: BLE001 - a thread's error would vanish; the rows stay pending
        log.exception("webhook delivery thread failed; the deliveries stay pending")
