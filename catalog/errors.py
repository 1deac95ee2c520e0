"""Domain errors raised by the services. Only ``catalog.api`` knows their HTTP status codes."""
from __future__ import annotations

import threading
from typing import Any

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc


class CatalogError(Exception):
    """Base class of every error a user is meant to read."""

    def __init__(self, message: str = ""):
        super().__init__(message)
        self.message = message


class NotFound(CatalogError):
    """The object asked for does not exist, or the actor may not know that it exists."""


class NotAuthorized(CatalogError):
    """The actor is not allowed to do this."""


class ValidationError(CatalogError):
    """Input broke one or more rules; ``errors`` maps a field path to its messages."""

    def __init__(self, errors: dict[str, list[str]] | str, message: str = "Validation error"):
        if isinstance(errors, str):
            errors = {"message": [errors]}
        super().__init__(message)
        self.errors = errors

    @classmethod
    def single(cls, field: str, message: str) -> "ValidationError":
        """A validation error about one field."""
        return cls({field: [message]})


class Conflict(ValidationError):
    """The write is based on a stale version of the object, or clashes with another one."""


class BadRequest(CatalogError):
    """The request itself is malformed (not JSON, unknown action, too deep, too large)."""


class Unavailable(CatalogError):
    """A dependency (``database`` or ``broker``) cannot be reached: try again later (HTTP 503)."""

    def __init__(self, dependency: str, cause: str = "", retry_after: int = 30):
        super().__init__(f"The service is temporarily unavailable: the {dependency} cannot be reached; "
                         f"try again in {retry_after} seconds")
        self.dependency = dependency
        self.cause = cause
        self.retry_after = retry_after


class Outages:
    """Which dependencies are down, so that an outage is logged once (when it starts and when it ends),
    not once per request that meets it. One instance per process (:data:`OUTAGES`), shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down: dict[str, str] = {}

    def failed(self, dependency: str, cause: str, log) -> None:
        """Note that ``dependency`` failed; log one warning when this starts an outage."""
        with self._lock:
            first = dependency not in self.down
            self.down[dependency] = cause
        if first:
            log.warning("%s unreachable, answering 503 until it is back: %s", dependency, cause)

    def answered(self, dependency: str, log) -> None:
        """Note that ``dependency`` answered; log one line when this ends an outage."""
        if dependency not in self.down:
            return
        with self._lock:
            cause = self.down.pop(dependency, None)
        if cause is not None:
            log.warning("%s reachable again", dependency)


OUTAGES = Outages()


#: Errors that mean the database cannot be reached (refused, dropped, timed out, locked past its wait).
DATABASE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)
#: Errors that mean the broker (Redis, ``CATALOG_BROKER_URL``) cannot be reached.
BROKER_DOWN = (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def unavailable(error: BaseException) -> Unavailable | None:
    """The :class:`Unavailable` that ``error`` means, if it says a dependency is down; else ``None``."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, DATABASE_DOWN) or (isinstance(error, sqlalchemy.exc.DBAPIError)
                                            and error.connection_invalidated):
        orig = getattr(error, "orig", None) or error
        return Unavailable("database", (str(orig).strip().splitlines() or [type(orig).__name__])[0])
    if isinstance(error, BROKER_DOWN):
        return Unavailable("broker", (str(error).strip().splitlines() or [type(error).__name__])[0])
    return None


def checked_text(value: Any, field: str, *, required: bool, limit: int = 4000) -> str | None:
    """A free-text value a person wrote, stripped: refused naming ``field`` when missing (if required),
    not text, or longer than ``limit`` characters; None when optional and empty."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError.single(field, "Missing value")
        return None
    if not isinstance(value, str):
        raise ValidationError.single(field, "must be text")
    if len(value) > limit:
        raise ValidationError.single(field, f"must be at most {limit} characters")
    return value.strip()
