"""The report of one sync run, and the capture of the run's log lines into it."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

__all__ = ["FAILED", "RUNNING", "SUCCEEDED", "SUCCEEDED_WITH_ERRORS", "RunReport", "capture_log"]

RUNNING, SUCCEEDED, FAILED = "running", "succeeded", "failed"
#: the run finished, but some rows were invalid (quarantined or skipped), no more than ``max_invalid``
SUCCEEDED_WITH_ERRORS = "succeeded_with_errors"

#: the outcome counters; read = inserted + updated + unchanged + quarantined + skipped + superseded
#: (superseded: an earlier occurrence of a key the same read holds again later — the last one wins)
OUTCOMES = ("inserted", "updated", "unchanged", "quarantined", "skipped", "superseded")
#: at most this many invalid rows are described on the report (all of them go to quarantine)
INVALID_SAMPLE = 20


@dataclass
class RunReport:
    """What a run did: status, timings, counts, the error (user message and internal detail), the log.

    Counts cover committed batches only: ``read`` is the number of source rows whose outcome was
    committed, so ``read == inserted + updated + unchanged + quarantined + skipped + superseded`` always holds,
    for failed runs too. ``deleted`` counts mirror deletions and is not part of that sum.
    """

    source: str
    stream: str
    mode: str
    write: str
    on_invalid: str
    status: str = RUNNING
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc))
    finished_at: dt.datetime | None = None
    duration_seconds: float = 0.0
    #: seconds spent reading the source, mapping + validating, writing the target, deleting (mirror)
    timings: dict[str, float] = field(default_factory=lambda: {"read": 0.0, "transform": 0.0,
                                                                "write": 0.0, "mirror": 0.0})
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    quarantined: int = 0
    skipped: int = 0
    superseded: int = 0
    deleted: int = 0
    batches: int = 0
    retries: int = 0
    #: the state the run started from, and the last one committed
    start_state: dict[str, Any] | None = None
    state: dict[str, Any] | None = None
    #: the first invalid rows: {"row_number", "errors": [{"field", "keyword", "message"}]}
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)
    #: for the user: what went wrong and where (None when the run succeeded)
    error_message: str | None = None
    #: for the administrator: the internal traceback
    error_detail: str | None = None
    log: list[str] = field(default_factory=list)
    #: the invalid rows' most frequent reasons, ``[{"field", "keyword", "message", "rows"}]``, most first
    top_reasons: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        """Whether the run finished (with or without invalid rows under its ``max_invalid`` share)."""
        return self.status in (SUCCEEDED, SUCCEEDED_WITH_ERRORS)

    @property
    def invalid(self) -> int:
        """The rows refused by the mapping or the schema (quarantined or skipped)."""
        return self.quarantined + self.skipped

    def counts(self) -> dict[str, int]:
        """The counters as a dict: read, the outcomes and deleted."""
        return {"read": self.read, **{name: getattr(self, name) for name in OUTCOMES}, "deleted": self.deleted}

    def balanced(self) -> bool:
        """Whether read = inserted + updated + unchanged + quarantined + skipped + superseded."""
        return self.read == sum(getattr(self, name) for name in OUTCOMES)

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data (timestamps as ISO strings)."""
        data = asdict(self)
        for key in ("started_at", "finished_at"):
            data[key] = data[key].isoformat() if data[key] else None
        return data


class _ThreadHandler(logging.Handler):
    """Appends the records logged by one thread to a list of lines."""

    def __init__(self, lines: list[str], thread: int):
        super().__init__(logging.INFO)
        self.lines, self.thread = lines, thread

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the line when it comes from the run's thread."""
        if record.thread != self.thread:
            return  # another run (or anything else) on another thread
        moment = dt.datetime.fromtimestamp(record.created, dt.timezone.utc).strftime("%H:%M:%S.%f")[:-3]
        try:
            self.lines.append(f"{moment} {record.levelname} {record.getMessage()}")
        except Exception:  # noqa: BLE001 - a broken log call must not break the run
            self.handleError(record)


_LEVEL_LOCK = threading.Lock()
_ACTIVE = [0]


@contextlib.contextmanager
def capture_log(lines: list[str], logger_name: str = "connectors") -> Iterator[None]:
    """Collect the INFO+ lines the ``connectors`` loggers emit on this thread into ``lines``.

    When the application left that logger's level unset, it is INFO while any run is active, so a
    source's "encoding detected" note reaches the report (and the app's handlers, as a sync log).
    """
    logger = logging.getLogger(logger_name)
    handler = _ThreadHandler(lines, threading.get_ident())
    with _LEVEL_LOCK:
        _ACTIVE[0] += 1
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
            logger._connectors_set_level = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        with _LEVEL_LOCK:
            _ACTIVE[0] -= 1
            if not _ACTIVE[0] and getattr(logger, "_connectors_set_level", False):
                logger.setLevel(logging.NOTSET)
                logger._connectors_set_level = False  # type: ignore[attr-defined]
