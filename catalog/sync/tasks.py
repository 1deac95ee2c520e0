"""Where runs happen: in-process by default, on Celery workers when ``CATALOG_BROKER_URL`` is set.

With a broker, a run is first recorded ``queued`` with no ``sent`` time: that row is the outbox. Its
message is then sent (the task id is the run id) and the row stamped ``sent``. If the broker cannot be
reached, the row stays unsent and the scheduler sends it on a later tick (:func:`send_unsent`), so a
queued run is never orphaned. The worker decides by the run id: a run that is no longer ``queued``
(expired, already carried out by an earlier delivery of the same message, closed as lost) never executes.
"""
from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from celery import Celery
from flask import Flask
from kombu import Connection

from ..db import get_db, utcnow
from ..errors import BROKER_DOWN, OUTAGES, Conflict, Unavailable
from . import service
from .locks import job_lock
from .models import SyncRun

log = logging.getLogger(__name__)
_celery = {}

#: seconds to wait for the broker when sending a message or checking it (it is down: say so soon)
BROKER_TIMEOUT = 3


def celery_app(app: Flask):
    """The Celery app bound to ``app``'s broker (created once per Flask app)."""
    if id(app) not in _celery:
        broker = app.config.get("BROKER_URL")
        if not broker:
            raise RuntimeError("CATALOG_BROKER_URL is not set; runs happen in-process")
        celery = Celery("catalog", broker=broker, backend=broker)
        celery.conf.update(
            task_acks_late=True, worker_prefetch_multiplier=1, task_serializer="json",
            # a send that cannot reach the broker fails at once (the outbox keeps the run), no 20 s retry loop
            task_publish_retry=False, broker_connection_timeout=BROKER_TIMEOUT,
            broker_transport_options={"socket_connect_timeout": BROKER_TIMEOUT, "socket_timeout": BROKER_TIMEOUT},
            redis_socket_connect_timeout=BROKER_TIMEOUT, redis_socket_timeout=BROKER_TIMEOUT,
            broker_connection_retry_on_startup=True)

        @celery.task(name="catalog.sync.run_job")
        def run_job_task(job_id: str, trigger: str = "schedule", run_id: str | None = None) -> dict:
            database = get_db(app)
            if run_id:
                with database.session() as session:
                    status = session.scalar(sa.select(SyncRun.status).where(SyncRun.id == run_id))
                if status != "queued":
                    reason = f"run {run_id} is {status or 'unknown'}, not queued: its message is dropped"
                    log.info(reason)
                    return {"run_id": run_id, "status": "dropped", "reason": reason}
            try:
                run = service.run_job(database, job_id, trigger=trigger, run_id=run_id)
            except Conflict:  # already running elsewhere: skipped, as the in-process dispatch does
                reason = f"sync job {job_id} was already running when a worker took this run"
                if run_id:
                    service.skip_queued_run(database, run_id, reason)
                return {"run_id": run_id, "status": "skipped", "reason": reason}
            if run is None:
                return {"run_id": run_id, "status": "dropped", "reason": f"run {run_id} is no longer queued"}
            return {"run_id": run.id, "status": run.status, "counts": run.counts}

        from ..webhooks.tasks import register_tasks as register_webhook_tasks  # same workers send webhooks
        register_webhook_tasks(celery, app)
        _celery[id(app)] = celery
    return _celery[id(app)]


def broker_problem(url: str) -> str | None:
    """Why the broker at ``url`` cannot be reached, or ``None`` when it answers (status_show)."""
    try:
        with Connection(url, connect_timeout=BROKER_TIMEOUT,
                        transport_options={"socket_connect_timeout": BROKER_TIMEOUT}) as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
    except Exception as error:  # noqa: BLE001 - any failure to connect is the answer
        return (str(error).strip().splitlines() or [type(error).__name__])[0]
    return None


def send(app: Flask, run: SyncRun) -> str:
    """Send a queued run's message (task id = run id) and stamp it sent; :class:`Unavailable` when the
    broker cannot be reached (the run stays in the outbox)."""
    try:
        result = celery_app(app).send_task("catalog.sync.run_job", args=[run.job_id, run.trigger, run.id],
                                           task_id=run.id, ignore_result=True)  # the run row is the result
    except BROKER_DOWN as error:
        raise Unavailable("broker", (str(error).strip().splitlines() or [type(error).__name__])[0]) from None
    OUTAGES.answered("broker", log)
    with get_db(app).session() as session:
        session.execute(sa.update(SyncRun).where(SyncRun.id == run.id, SyncRun.sent.is_(None)).values(sent=utcnow()))
        session.commit()
    return result.id


def send_unsent(app: Flask) -> list[str]:
    """Send the messages of the queued runs not sent yet (the outbox); the ids of the runs sent."""
    with get_db(app).session() as session:
        runs = service.unsent_runs(session)
        for run in runs:
            session.expunge(run)
    sent = []
    for run in runs:
        send(app, run)
        sent.append(run.id)
    return sent


def start_run(app: Flask, job_id: str, trigger: str = "api") -> str:
    """Queue a run of a job now and return its id at once (:class:`Conflict` when the job is running).

    With a broker the run goes to the workers (a broker outage leaves it in the outbox: the scheduler
    sends it); without one it runs in a background thread of this process. Either way the caller (an
    HTTP request) does not wait for the run."""
    database = get_db(app)
    with database.session() as session:
        job = service.get_job(session, job_id)
        job_id, job_name = job.id, job.name
    with job_lock(database.engine, job_id, job_name):
        pass  # not running now (a run that starts meanwhile makes this one skipped)
    run_id = service.queue_run(database, job_id, trigger=trigger)
    if app.config.get("BROKER_URL"):
        with database.session() as session:
            run = session.get(SyncRun, run_id)
            session.expunge(run)
        try:
            send(app, run)
        except Unavailable as error:
            OUTAGES.failed("broker", error.cause, log)  # the scheduler sends it when the broker is back
        return run_id

    def target():
        try:
            service.run_job(database, job_id, trigger=trigger, run_id=run_id)
        except Conflict:
            service.skip_queued_run(database, run_id, f"sync job {job_name} was already running")
        except Exception:  # noqa: BLE001 - the run records its own failures; this is a last resort
            log.exception("sync run %s stopped before recording its end", run_id)

    threading.Thread(target=target, name=f"sync-{job_id}", daemon=True).start()
    return run_id


def dispatch(app: Flask, job_id: str, trigger: str = "schedule") -> str:
    """Start a job's run on a worker (broker configured) or in a background thread; say which.

    With a broker down, the run is recorded queued and :class:`Unavailable` raised: the scheduler sends
    it when the broker is back."""
    if app.config.get("BROKER_URL"):
        run_id = service.queue_run(get_db(app), job_id, trigger=trigger)
        with get_db(app).session() as session:
            run = session.get(SyncRun, run_id)
            session.expunge(run)
        task_id = send(app, run)
        return f"dispatched {job_id} to a worker (task {task_id}, run {run_id} queued)"

    def target():
        try:
            service.run_job(get_db(app), job_id, trigger=trigger)
        except Conflict:
            pass  # already running elsewhere: this tick skips it

    thread = threading.Thread(target=target, name=f"sync-{job_id}", daemon=False)
    thread.start()
    return f"started {job_id} in-process"
