"""The contracts of the sync engine: what a source yields, what a target accepts, and the errors.

A :class:`Source` only reads: it yields :class:`Row` values (and now and then a :class:`Checkpoint`
saying "everything yielded so far is covered by this state"). The engine owns the rest of the run —
mapping, validation, batching, retries, state and the report — and hands every batch to a
:class:`Target`, which commits the records, the rejected rows and the new state in ONE transaction.
"""
from __future__ import annotations

import abc
import datetime as dt
import decimal
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import jsonschema

__all__ = ["Checkpoint", "Deletion", "Rejected", "Row", "Source", "SourceError", "Stream", "Target", "TargetError",
           "TransientSourceError", "WriteCounts", "jsonable"]


# --- what flows through a run ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    """One source record as read, with its row number as a user would count it.

    ``row_number`` is the physical line of the record's first line in a CSV file (header = 1),
    the row of a spreadsheet, or the 1-based position of the record in the read for other sources.
    """

    data: dict[str, Any]
    row_number: int


@dataclass(frozen=True, slots=True)
class Deletion:
    """The source says a record was deleted (a tombstone of a change feed).

    ``data`` holds at least the record's primary-key fields, named as the source names them (the
    engine maps them like a row's); ``row_number`` places it in the read, as for :class:`Row`.
    """

    data: dict[str, Any]
    row_number: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The source's position after every row yielded before it; resuming from it loses nothing."""

    state: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Stream:
    """One readable collection of a source (a file, a sheet, a table, an API collection)."""

    name: str
    fields: list[str] = field(default_factory=list)
    primary_key: list[str] = field(default_factory=list)
    cursor_field: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A row refused by mapping or validation, as handed to :meth:`Target.write` for quarantine.

    ``raw`` is the source row (JSON-safe), ``record`` the mapped record when mapping got that far
    (else ``None``), and ``errors`` a list of ``{"field", "keyword", "message"}`` dicts — the shape the
    DataStore's quarantine keeps. ``field`` is a dotted path (``members.1.id_number``) or ``__root__``.
    """

    row_number: int
    raw: dict[str, Any]
    record: dict[str, Any] | None
    errors: list[dict[str, str]]

    def describe(self) -> str:
        """One line for a user: ``row 7: accepted_on: '2026-13-01' is not a date; ...``."""
        parts = [f"{e['field']}: {e['message']}" for e in self.errors]
        return f"row {self.row_number}: " + "; ".join(parts)


@dataclass(frozen=True, slots=True)
class WriteCounts:
    """What a target did with the valid records of one batch (they sum to the batch's length)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    #: records removed because the source reported them deleted (not part of :attr:`total`)
    deleted: int = 0

    @property
    def total(self) -> int:
        """inserted + updated + unchanged."""
        return self.inserted + self.updated + self.unchanged


# --- errors -------------------------------------------------------------------------------------


class SourceError(Exception):
    """A fatal problem reading the source; ``str(error)`` is the message shown to the user."""


class TransientSourceError(SourceError):
    """A problem that may pass (timeout, HTTP 5xx/429, dropped connection): the engine retries.

    ``retry_after`` (seconds) is a hint from the remote side, e.g. HTTP ``Retry-After``.
    """

    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class TargetError(Exception):
    """A problem writing into the target that the user can act on (e.g. a key conflict on append)."""


# --- sources ------------------------------------------------------------------------------------


class Source(abc.ABC):
    """A readable system. Subclasses implement :meth:`spec`, :meth:`discover` and :meth:`read`.

    Sources are stateless: everything comes from ``config`` and ``state``. A read must be
    deterministic for the same state (same rows, same order) so the engine can resume it after a
    :class:`TransientSourceError`; a source that can, yields a :class:`Checkpoint` after each row or page.
    Problems the user can fix are raised as :class:`SourceError` with a message that says what and
    where (``file not found: …``, ``HTTP 401 from …``); anything else is reported as an internal error.
    A state is a small JSON object the target stores as it is and hands back unchanged.
    """

    #: the registry name, e.g. "csv"
    name: str = ""
    #: whether reading the same config and state twice in a row yields the same rows (a file): the
    #: engine then reads it once ahead to find keys repeated across batches (last occurrence wins)
    rereadable: bool = False

    @abc.abstractmethod
    def spec(self) -> dict[str, Any]:
        """The JSON Schema (Draft 2020-12) of this source's ``config``."""

    def check(self, config: dict[str, Any]) -> None:
        """Raise :class:`SourceError` when ``config`` does not fit :meth:`spec` (subclasses add more)."""
        validator = jsonschema.Draft202012Validator(self.spec())
        problems = []
        for error in sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path)):
            where = ".".join(str(p) for p in error.absolute_path)
            problems.append(f"{where}: {error.message}" if where else error.message)
        if problems:
            raise SourceError(f"invalid {self.name or type(self).__name__} source configuration: "
                              + "; ".join(problems))

    @abc.abstractmethod
    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """The streams this configuration can read, with their fields."""

    @abc.abstractmethod
    def read(self, config: dict[str, Any], stream: Stream,
             state: dict[str, Any] | None) -> Iterator[Row | Deletion | Checkpoint]:
        """Yield the rows of ``stream`` after ``state`` (``None``: from the start), and a
        :class:`Deletion` for each record the source reports deleted, in the order they happened."""


# --- targets ------------------------------------------------------------------------------------


class Target(abc.ABC):
    """Where a sync writes. The catalog's DataStore target implements this.

    Contract of :meth:`write`: ``records`` (in source order), ``rejected`` and ``state`` are committed
    in ONE transaction, or nothing is. ``state=None`` means "keep the committed state as it is";
    a dict replaces it and is what :meth:`state` returns from then on (store it as JSON, opaque).
    A call may carry no records and no rejected rows, only a newer state. Raise
    :class:`TargetError` for problems the user can act on; any exception means nothing was committed.
    """

    @abc.abstractmethod
    def state(self) -> dict[str, Any] | None:
        """The state committed with the last successful :meth:`write` (``None`` before the first)."""

    @abc.abstractmethod
    def write(self, records: list[tuple[int, dict[str, Any]]], rejected: list[Rejected],
              state: dict[str, Any] | None, *, method: str = "upsert",
              deletions: list[dict[str, Any]] = ()) -> WriteCounts:
        """Commit one batch: ``(row_number, record)`` pairs, quarantined rows, deletions and the new state.

        ``method`` is ``"upsert"`` (insert or replace by key; an identical record is unchanged) or
        ``"append"`` (insert only; the target decides whether a duplicate key is a
        :class:`TargetError`). Records are applied in order, so a key repeated within a batch is
        inserted once and then updated or unchanged. ``deletions`` (mapped records holding at least
        the key fields) are applied after the records — the engine never puts a record after a
        deletion in one batch — and a key that is not stored, or incomplete, is ignored;
        :attr:`WriteCounts.deleted` says how many records were removed.
        """

    #: whether :meth:`write` takes ``sources`` (the digest of each record's source row, stored beside
    #: it) and :meth:`unchanged_sources` answers from them: the engine then skips unchanged rows
    remembers_sources: bool = False
    #: with :attr:`remembers_sources`: a text that changes whenever what a row becomes changes on the
    #: target's side (its schema, its key)
    fingerprint: str = ""
    #: a module-level function ``record → prepared`` (or None): what :meth:`write` would work out from
    #: each valid record before storing it (the DataStore's canonical JSON and content hash). The engine
    #: runs it where it maps and validates (a transform worker, off the run's process) and hands
    #: :meth:`write` the results as ``prepared``, one per record, in order (a None item: not prepared)
    prepare: Callable[[dict[str, Any]], Any] | None = None
    #: whether :attr:`prepare` is (canonical JSON text, its 16-byte blake2b in hex): keys sorted, no
    #: spaces, non-ASCII kept (``catalog.datastore.hashing.encode_record``); the engine's transform
    #: workers may then make both column-wise (:mod:`connectors.columnar`)
    prepare_is_canonical: bool = False
    #: whether :meth:`unchanged_sources` may be called from another thread while :meth:`write` runs
    #: (each call its own connection): the engine then looks a rerun's batches up while it reads on
    lookups_in_thread: bool = False

    def holds_records(self) -> bool:
        """Whether the target may hold records already (False: a first sync, no row can be unchanged,
        so the engine does not ask :meth:`unchanged_sources`)."""
        return True

    def unchanged_sources(self, digests: dict[str, str]) -> set[str]:
        """The keys among ``digests`` (key → digest of a source row) whose stored record was made from a
        row with that digest and is still what that row made (only with :attr:`remembers_sources`)."""
        return set()

    @abc.abstractmethod
    def finish_mirror(self, seen_keys: set[str]) -> int:
        """After a complete read: delete the records whose key is not in ``seen_keys``; return how many."""

    @abc.abstractmethod
    def key_of(self, record: dict[str, Any]) -> str:
        """The key under which ``record`` is stored (the same string :meth:`finish_mirror` compares)."""


def jsonable(value: Any) -> Any:
    """``value`` with dates, decimals and other non-JSON values turned into JSON-safe ones."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else str(value)
    if isinstance(value, (dt.date, dt.time)):  # datetime is a date
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    return str(value)
