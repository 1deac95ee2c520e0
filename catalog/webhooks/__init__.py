"""Change notifications (webhooks): subscriptions, the outbox, signed deliveries after commit.

:func:`init_app` ties each app's database engine to the app, and the session hooks below hand the
deliveries written in a transaction to the dispatcher once that transaction has committed, and drop
them when it rolls back (the rows are rolled back with it).
"""
from __future__ import annotations

import logging
import weakref

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session
from ..db import get_db
from .service import PENDING_KEY
from .tasks import dispatch

log = logging.getLogger(__name__)
_APPS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def init_app(app: Flask) -> None:
    """Remember which app owns the database engine (deliveries dispatch with that app's settings)."""
    _APPS[get_db(app).engine] = app


def _app_of(session: Session) -> Flask | None:
    bind = session.bind
    engine = getattr(bind, "engine", None)
    return _APPS.get(engine) if engine is not None else None


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    delivery_ids = session.info.pop(PENDING_KEY, None)
    if not delivery_ids:
        return
    app = _app_of(session)
    if app is None:  # a session of no known app: the deliveries wait for `catalog webhooks deliver`
        return
    if isinstance(session.bind, Connection):
        # bound to one connection (the tests' joined transaction): a sender thread would share it,
        # and the rows are not committed for anyone else yet; they wait for an explicit send
        return
    try:
        dispatch(app, delivery_ids)
    except Exception:  # noqa: BLE001 - the change is committed; its deliveries stay pending
        log.exception("could not dispatch webhook deliveries; they stay pending")


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_rollback(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:  # the whole transaction: its deliveries are gone
        session.info.pop(PENDING_KEY, None)
