"""Where runs happen: in-process by default, on Celery workers when ``CATALOG_BROKER_URL`` is set."""
from __future__ import annotations

import threading

from flask import Flask

from ..db import get_db

_celery = {}


def celery_app(app: Flask):
    """The Celery app bound to ``app``'s broker (created once per Flask app)."""
    from celery import Celery

    if id(app) not in _celery:
        broker = app.config.get("BROKER_URL")
        if not broker:
            raise RuntimeError("CATALOG_BROKER_URL is not set; runs happen in-process")
        celery = Celery("catalog", broker=broker, backend=broker)
        celery.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, task_serializer="json")

        @celery.task(name="catalog.sync.run_job")
        def run_job_task(job_id: str, trigger: str = "schedule", run_id: str | None = None) -> dict:
            from ..errors import Conflict
            from .service import run_job, skip_queued_run

            try:
                run = run_job(get_db(app), job_id, trigger=trigger, run_id=run_id)
            except Conflict:  # already running elsewhere: skipped, as the in-process dispatch does
                reason = f"sync job {job_id} was already running when a worker took this run"
                if run_id:
                    skip_queued_run(get_db(app), run_id, reason)
                return {"run_id": run_id, "status": "skipped", "reason": reason}
            return {"run_id": run.id, "status": run.status, "counts": run.counts}

        from ..webhooks.tasks import register_tasks as register_webhook_tasks  # same workers send webhooks
        register_webhook_tasks(celery, app)
        _celery[id(app)] = celery
    return _celery[id(app)]


def dispatch(app: Flask, job_id: str, trigger: str = "schedule") -> str:
    """Start a job's run on a worker (broker configured) or in a background thread; say which."""
    from ..errors import Conflict
    from .service import queue_run, run_job

    if app.config.get("BROKER_URL"):
        run_id = queue_run(get_db(app), job_id, trigger=trigger)
        result = celery_app(app).send_task("catalog.sync.run_job", args=[job_id, trigger, run_id])
        return f"dispatched {job_id} to a worker (task {result.id}, run {run_id} queued)"

    def target():
        try:
            run_job(get_db(app), job_id, trigger=trigger)
        except Conflict:
            pass  # already running elsewhere: this tick skips it

    thread = threading.Thread(target=target, name=f"sync-{job_id}", daemon=False)
    thread.start()
    return f"started {job_id} in-process"
