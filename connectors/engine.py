"""The sync engine: one function, :func:`run_sync`, owns a run from the first read to the report.

    source.read(state) → map → validate → batch → target.write(records, rejected, state) → report

* **State.** In ``incremental`` mode the read starts from ``target.state()``. Every batch is written
  with the last :class:`~connectors.base.Checkpoint` whose rows are all in that batch or an earlier
  one, so records and state commit together and a rerun after a crash resumes exactly there. A batch
  is flushed only when the next row arrives (or the read ends), so a checkpoint that follows a
  batch's last row travels with that batch.
* **Invalid rows** (mapping errors, then schema errors, both with field paths) go to quarantine
  (handed to the target with the batch), are skipped (counted only), or stop the run (``fail``:
  nothing of the failing batch is written, earlier batches stay committed).
* **Counts.** ``read = inserted + updated + unchanged + quarantined + skipped + superseded`` is
  checked after every batch; counts cover committed batches only.
* **Duplicate keys in one read** (a county export with re-exported rows appended): the last occurrence
  of a key wins; the earlier ones are counted ``superseded`` and not written, so a rerun of an
  unchanged file writes nothing. Within a batch this is done by key as the batch is transformed. For a
  :attr:`~connectors.base.Source.rereadable` source (a file) the engine first reads it once, mapping
  each row only to learn its key, and keeps the position of the last occurrence of each key that
  occurs more than once (:mod:`connectors.repeated_keys`: neither rows nor the keys that occur once are
  held), so a duplicate spanning batches is handled the same. Other sources (an API, a change
  feed, a database query that may change between two reads) are deduplicated within each batch only.
  ``write=append`` keeps every row (the target decides about repeated keys).
* **Status.** A run that ends without error is ``succeeded`` when no row was invalid,
  ``succeeded_with_errors`` when some were (quarantined or skipped) but no more than ``max_invalid``
  (a share of the rows read that were not superseded, default 0.5), and ``failed`` beyond that, with
  the most frequent reasons in its message (:attr:`RunReport.top_reasons`); its valid rows stay written.
* **Deletions** a source reports (:class:`~connectors.base.Deletion`, e.g. a change feed's tombstones)
  are mapped like rows and handed to the target with the batch, after its records; a row that
  follows a deletion starts a new batch, so the order of the source's changes is kept. They count
  in ``deleted`` (with mirror deletions), not in ``read``.
* **Mirror** deletes keys missing from the source only after a complete, successful read — and not
  when no valid record was read at all (an empty or unreadable export must not empty the dataset).
* **Retries.** A :class:`~connectors.base.TransientSourceError` is retried ``retries`` times with
  exponential backoff (``backoff * 2**(attempt-1)`` seconds, at most ``max_backoff``); the read
  resumes from the last checkpoint, skipping the rows it had already yielded since. When the source
  fails for good, the rows read before the failure are still committed (with their checkpoint).
"""
from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import datetime as dt
import hashlib
import json
import logging
import multiprocessing
import os
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .base import (Checkpoint, Deletion, Rejected, Row, Source, SourceError, Stream, Target, TargetError,
                   TransientSourceError, WriteCounts, jsonable)
from .columnar import ColumnarPlan, enabled as columnar_enabled
from .expressions import WorkingDay
from .mapping import _ABSENT as _NO_VALUE_SENTINEL, Mapping, MappingConfigError
from .repeated_keys import RepeatedKeys
from .report import FAILED, INVALID_SAMPLE, SUCCEEDED, SUCCEEDED_WITH_ERRORS, RunReport, capture_log

__all__ = ["MODES", "ON_INVALID", "WRITES", "RunReport", "preview", "run_sync"]

#: batches read ahead of the one whose keys a worker makes and a thread looks up (a rerun)
LOOKUP_LAG = 2

log = logging.getLogger(__name__)

MODES = ("full_refresh", "incremental")
WRITES = ("append", "upsert", "mirror")
ON_INVALID = ("quarantine", "fail", "skip")


class _InvalidRow(Exception):
    """on_invalid=fail met an invalid row."""

    def __init__(self, rejected: Rejected):
        super().__init__(rejected.describe())
        self.rejected = rejected


def run_sync(source: Source, config: dict[str, Any], stream: Stream | None, target: Target, *,
             mapping: Mapping | dict[str, Any] | None = None, validator: Any = None,
             mode: str = "full_refresh",
             write: str = "upsert", on_invalid: str = "quarantine", batch_size: int = 1000,
             progress: Callable[[RunReport], None] | None = None, retries: int = 3,
             backoff: float = 1.0, max_backoff: float = 60.0, max_invalid: float = 0.5,
             sleep: Callable[[float], None] = time.sleep, working_day: WorkingDay | None = None,
             workers: int = 0) -> RunReport:
    """Run one sync of ``stream`` (``None``: the source's first stream) into ``target``; never raises
    for a failed run — the :class:`RunReport` says what happened. Bad options raise ``ValueError``.

    ``mapping`` is a :class:`Mapping` or its configuration (a malformed one fails the run);
    ``None`` passes rows on as they are. ``validator`` is a :class:`schemas.validation.RecordValidator`
    (or anything with its ``validate_many`` and ``errors``); ``None`` accepts every mapped record. ``progress`` is called
    with the report after every committed batch. ``max_invalid`` (0 to 1) is the share of invalid rows
    above which a run that read everything still ends ``failed``. ``working_day`` is the calendar a
    mapping configuration's ``date_add(..., working=True)`` counts in (default: Monday to Friday).
    ``workers``: processes that map and validate batches while this one reads and writes (0: none);
    batches are still committed one at a time, in the order read, each with its state.
    """
    _check_options(mode=mode, write=write, on_invalid=on_invalid, batch_size=batch_size, retries=retries)
    if not 0 <= max_invalid <= 1:
        raise ValueError("max_invalid must be a share from 0 to 1")
    report = RunReport(source=getattr(source, "name", "") or type(source).__name__,
                       stream=stream.name if stream else "", mode=mode, write=write, on_invalid=on_invalid)
    run = _Run(source, config, stream, target, report, mapping=mapping, validator=validator,
               batch_size=batch_size, progress=progress, retries=retries, backoff=backoff,
               max_backoff=max_backoff, sleep=sleep, working_day=working_day, workers=workers)
    started = time.perf_counter()
    with capture_log(report.log):
        try:
            run.execute()
            _judge(report, max_invalid, run.reasons)
        except _InvalidRow as exc:
            _fail(report, f"stopped at the first invalid row (on_invalid=fail): {exc}",
                  "\n".join(f"{e['field']} [{e['keyword']}]: {e['message']}" for e in exc.rejected.errors))
        except (SourceError, TargetError, MappingConfigError) as exc:
            _fail(report, str(exc), traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - the report is the way out, with the traceback inside
            _fail(report, f"the sync stopped on an unexpected error ({type(exc).__name__}) while {run.phase}; "
                          "the error detail has the traceback", traceback.format_exc())
        finally:
            run.close()
            report.duration_seconds = round(time.perf_counter() - started, 6)
            report.finished_at = dt.datetime.now(dt.timezone.utc)
            log.info("sync %s: %s in %.2f s; %s", report.status, report.stream, report.duration_seconds,
                     ", ".join(f"{k} {v}" for k, v in report.counts().items()))
    _assert_balanced(report)
    return report


def preview(source: Source, config: dict[str, Any], stream: Stream | None, *,
            mapping: Mapping | dict[str, Any] | None = None, validator: Any = None,
            rows: int = 20, working_day: WorkingDay | None = None) -> list[dict[str, Any]]:
    """Map and validate the first ``rows`` rows of ``stream`` without writing anything: for each,
    ``{"row_number", "raw", "record", "errors": [{"field", "keyword", "message"}]}`` — the mapping's
    errors, then the schema's for the fields the mapping did not already name. Raises
    :class:`~connectors.base.SourceError` or :class:`~connectors.mapping.MappingConfigError`.
    ``working_day``: the calendar of ``date_add(..., working=True)``, as in :func:`run_sync`."""
    if isinstance(mapping, dict):
        mapping = Mapping.from_config(mapping, working_day=working_day)
    source.check(config)
    if stream is None:
        streams = source.discover(config)
        if not streams:
            raise SourceError("the source has no stream to read")
        stream = streams[0]
    shown: list[dict[str, Any]] = []
    items = iter(source.read(config, stream, None))
    try:
        for item in items:
            if len(shown) >= rows:
                break
            if not isinstance(item, Row):
                continue
            if mapping is not None:
                record, field_errors = mapping.apply_json(item.data)
            else:
                record, field_errors = jsonable(dict(item.data)), []
            errors = [_error(e) for e in field_errors]
            if validator is not None:
                named = tuple(e["field"] for e in errors)
                errors += [_error(e) for e in validator.errors(record)
                           if not any(e.path == p or e.path.startswith(p + ".") for p in named)]
            shown.append({"row_number": item.row_number, "raw": jsonable(dict(item.data)), "record": record,
                          "errors": errors})
    finally:
        if hasattr(items, "close"):
            items.close()
    return shown


def _check_options(*, mode: str, write: str, on_invalid: str, batch_size: int, retries: int) -> None:
    for name, value, allowed in (("mode", mode, MODES), ("write", write, WRITES),
                                 ("on_invalid", on_invalid, ON_INVALID)):
        if value not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    if mode == "incremental" and write == "mirror":
        raise ValueError("write=mirror needs a complete read: use mode=full_refresh")
    if batch_size < 1 or retries < 0:
        raise ValueError("batch_size must be at least 1 and retries at least 0")


def _judge(report: RunReport, max_invalid: float, reasons: dict[tuple[str, str], list[Any]]) -> None:
    """The status of a run that read everything: by the share of its rows that were invalid."""
    report.top_reasons = _top_reasons(reasons)
    invalid, considered = report.invalid, report.read - report.superseded
    if not invalid:
        report.status = SUCCEEDED
        return
    share = invalid / considered if considered else 0.0
    reasons = "; ".join(f"{r['field']} [{r['keyword']}] on {r['rows']} rows, e.g. {r['message']}"
                        for r in report.top_reasons)
    if share > max_invalid:
        _fail(report, f"{invalid} of {considered} rows ({share:.1%}) were invalid, more than the job allows "
                      f"(max_invalid {max_invalid:.0%}); the valid rows were written. Most frequent: {reasons}",
              "\n".join(f"{r['field']} [{r['keyword']}]: {r['rows']} rows" for r in report.top_reasons))
        return
    report.status = SUCCEEDED_WITH_ERRORS
    report.error_message = (f"{invalid} of {considered} rows ({share:.1%}) were invalid and "
                            f"{'quarantined' if report.quarantined else 'skipped'} (max_invalid {max_invalid:.0%}); "
                            f"the others were written. Most frequent: {reasons}")
    log.warning("%s", report.error_message)


#: how many of the most frequent reasons a report keeps
TOP_REASONS = 5


def _top_reasons(tally: dict[tuple[str, str], list[Any]]) -> list[dict[str, Any]]:
    ranked = sorted(tally.items(), key=lambda item: -item[1][0])[:TOP_REASONS]
    return [{"field": field, "keyword": keyword, "message": example, "rows": rows}
            for (field, keyword), (rows, example) in ranked]


def _fail(report: RunReport, message: str, detail: str) -> None:
    report.status, report.error_message, report.error_detail = FAILED, message, detail
    log.error("sync failed: %s", message)


def _assert_balanced(report: RunReport) -> None:
    """The engine's invariant: every committed row has exactly one outcome."""
    if not report.balanced():
        raise AssertionError(f"sync counts do not add up: {report.counts()}")


class _Run:
    """The moving parts of one run (see :func:`run_sync`)."""

    def __init__(self, source: Source, config: dict[str, Any], stream: Stream | None, target: Target,
                 report: RunReport, *, mapping: Mapping | dict[str, Any] | None, validator: Any,
                 batch_size: int, progress: Callable[[RunReport], None] | None, retries: int,
                 backoff: float, max_backoff: float, sleep: Callable[[float], None],
                 working_day: WorkingDay | None = None, workers: int = 0):
        self.source, self.config, self.stream, self.target, self.report = source, config, stream, target, report
        self.mapping, self.validator, self.batch_size, self.progress = mapping, validator, batch_size, progress
        self.retries, self.backoff, self.max_backoff, self.sleep = retries, backoff, max_backoff, sleep
        self.working_day = working_day
        self.method = "append" if report.write == "append" else "upsert"
        self.phase = "starting"
        self.state: dict[str, Any] | None = None      # the last checkpoint seen
        self.committed: dict[str, Any] | None = None  # the state of the last committed batch
        self.seen_keys: set[str] = set()
        self.dedupe = report.write != "append"
        #: the last position (0-based, among the rows of this read) of each key that occurs more than
        #: once; None: not read ahead
        self.last_of: RepeatedKeys | None = None
        self.key_mapping: Mapping | None = None  # what the read ahead maps rows with
        self.key_column: tuple[str, str, list[Callable[[Any], Any]]] | None = None
        #: a source row's target key (from key_mapping and key_column; a transform worker has its own copy)
        self.keyer = _Keyer(None, None, target.key_of)
        #: what a source row's digest starts with (mapping, schema, target); None: no unchanged-row skip
        self.source_prefix: bytes | None = None
        self.compare = False  # whether rows are checked against the stored digests (not on a first sync)
        #: transform worker processes (0: rows are mapped in this process) and the batches handed on,
        #: oldest first, not committed yet
        self.workers = workers
        self.pool: concurrent.futures.ProcessPoolExecutor | None = None
        self.pool_failed = False
        self.inflight: collections.deque[_Batch] = collections.deque()
        #: batches read whose keys and row digests a worker is making (a rerun), before ``inflight``
        self.staged: collections.deque[_Batch] = collections.deque()
        self.read_batches = 0  # batches read so far
        self.lookups: concurrent.futures.ThreadPoolExecutor | None = None  # a rerun's lookups (_lookups)
        self.submitted: dict[str, Any] | None = None  # the state of the last batch handed on
        self.submitted_batches = 0
        self.read_position = 0  # the position in the read of the next batch's first row
        self.not_mapped = 0  # rows counted unchanged by their source digest, without mapping them
        self.superseded_sample: list[str] = []
        #: (field, keyword) → [rows, an example message] of the invalid rows, each under its first reason
        self.reasons: dict[tuple[str, str], list[Any]] = {}

    def execute(self) -> None:
        """Check, read, batch and write; then mirror deletions after a complete read."""
        self.phase = "checking the mapping"
        if isinstance(self.mapping, dict):
            self.mapping = Mapping.from_config(self.mapping, working_day=self.working_day)
        self.phase = "checking the source configuration"
        self._retrying(lambda: self.source.check(self.config))
        if self.stream is None:
            self.phase = "discovering the source's streams"
            streams = self._retrying(lambda: self.source.discover(self.config))
            if not streams:
                raise SourceError("the source has no stream to read")
            self.stream = streams[0]
            self.report.stream = self.stream.name
        start = self.target.state() if self.report.mode == "incremental" else None
        self.state = self.committed = self.submitted = self.report.start_state = self.report.state = start
        log.info("sync of %s started: mode %s, write %s, on_invalid %s, from %s", self.stream.name,
                 self.report.mode, self.report.write, self.report.on_invalid,
                 f"state {start}" if start else "the start")
        self.source_prefix = self._source_prefix()
        # a first sync into an empty target: the rows' digests are stored, none can be unchanged yet
        self.compare = self.source_prefix is not None and self.target.holds_records()
        if self.dedupe or self.source_prefix is not None:
            self.key_mapping = _key_mapping(self.mapping, getattr(self.target, "primary_key", None))
            self.key_column = _key_column(self.key_mapping)
            self.keyer = _Keyer(self.key_mapping, self.key_column, self.target.key_of)
        if self.dedupe and getattr(self.source, "rereadable", False):
            self.phase = "reading the source ahead for repeated keys"
            self.last_of = self._read_keys(start)
        pending: list[Row] = []
        deletions: list[Deletion] = []
        self.phase = "reading the source"
        with contextlib.closing(self._items(start)) as items:
            try:
                for item in items:
                    if isinstance(item, Checkpoint):
                        self.state = item.state
                        continue
                    # a row after a deletion starts a new batch: the target applies deletions last
                    if len(pending) + len(deletions) >= self.batch_size or (
                            deletions and isinstance(item, Row)):
                        self._submit(pending, deletions)
                        pending, deletions = [], []
                    (deletions if isinstance(item, Deletion) else pending).append(item)
            except SourceError:
                self._salvage(pending, deletions)
                raise
        self._submit(pending, deletions)
        self._drain()
        if self.not_mapped:
            log.info("%d rows were the same source rows as their stored records' (same mapping and schema): "
                     "counted unchanged without mapping or validating them", self.not_mapped)
        if self.report.write == "mirror":
            self._mirror()

    def _read_keys(self, start: dict[str, Any] | None) -> RepeatedKeys:
        """One read ahead: the last position of every key that occurs more than once (rows whose key
        cannot be told are left out; keys that occur once are not kept, so memory does not grow with
        the file: see :mod:`connectors.repeated_keys`)."""
        began = time.perf_counter()
        repeats = RepeatedKeys()
        position = 0
        try:
            with contextlib.closing(self._items(start)) as items:
                for item in items:
                    if not isinstance(item, Row):
                        continue
                    key = self._key_of_row(item)
                    if key is not None:
                        repeats.add(key, position)
                    position += 1
            repeats.finish()
        finally:
            repeats.close()
        repeated = repeats.keyed - repeats.distinct
        log.info("read ahead: %d rows, %d distinct keys%s in %.2f s", position, repeats.distinct,
                 f" ({repeated} rows repeat a key: the last occurrence wins)" if repeated > 0 else "",
                 time.perf_counter() - began)
        return repeats

    def _source_prefix(self) -> bytes | None:
        """The fingerprint a source row's digest is made with: the mapping's configuration, the
        validator's schema and the target's own (schema, key). ``None`` (rows are always mapped) when
        the target keeps no source digests, the write appends, or the mapping has no fingerprint."""
        if not self.target.remembers_sources or self.method != "upsert":
            return None
        mapping = "no mapping" if self.mapping is None else self.mapping.fingerprint
        schema = "no validator" if self.validator is None else getattr(self.validator, "schema", None)
        if mapping is None or schema is None:
            return None
        try:
            text = json.dumps([mapping, schema, self.target.fingerprint], sort_keys=True, ensure_ascii=False)
        except (TypeError, ValueError):
            return None
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest().encode()

    def _unchanged(self, rows: list[Row], base: int, known: tuple[list[str], list[str | None]] | None,
                   earlier: list["_Batch"]) -> tuple[list[Row], list[int], list[str], list[str], set[str]]:
        """Split off the rows a sync already wrote from identical source rows (same mapping, schema and
        target) into records that are still as written: ``(rows to map, their positions in the read,
        their digests, the keys of the rows skipped, the keys of all rows)``. A row is skipped only when
        its key is known, occurs once in the batch, not later in the read (read ahead) and in no batch
        still to be committed (``earlier``, which may write it first): the others go the whole way.
        ``known``: the rows' digests and keys when a worker made them (:func:`keys_and_digests`)."""
        prefix, last_of = self.source_prefix, self.last_of
        digests, keys = known if known is not None else \
            keys_and_digests(self.keyer, prefix, [row.data for row in rows])
        pending_keys = set().union(*(batch.keys for batch in earlier)) if earlier else set()
        if any(batch.deletions for batch in earlier):
            return rows, list(range(base, base + len(rows))), digests, [], {key for key in keys if key is not None}
        seen: dict[str, int] = {}
        for key in keys:
            if key is not None:
                seen[key] = seen.get(key, 0) + 1
        candidates = {key: digests[index] for index, key in enumerate(keys)
                      if key is not None and seen[key] == 1 and key not in pending_keys
                      and (last_of is None or last_of.get(key, base + index) == base + index)}
        same = self.target.unchanged_sources(candidates) if candidates else set()
        kept, positions, kept_digests, skipped = [], [], [], []
        for index, row in enumerate(rows):
            if keys[index] in same:
                skipped.append(keys[index])
            else:
                kept.append(row)
                positions.append(base + index)
                kept_digests.append(digests[index])
        return kept, positions, kept_digests, skipped, set(seen)

    def _key_of_row(self, row: Row) -> str | None:
        return self.keyer(row.data)

    def _key(self, record: Any) -> str | None:
        """The target key of a (mapped) record, or None when it has no complete key."""
        return self.keyer.key(record)

    def _salvage(self, pending: list[Row], deletions: list[Deletion]) -> None:
        """The source failed: commit the rows read before the failure, so a rerun resumes after them."""
        try:
            self._submit(pending, deletions)
            self._drain()
        except Exception as exc:  # noqa: BLE001 - the source's error is the one to report
            log.warning("the %d rows read before the source failed were not written: %s", len(pending), exc)

    # --- reading, with retries ---------------------------------------------------------------

    def _delay(self, attempt: int, hint: float | None) -> float:
        delay = self.backoff * 2 ** (attempt - 1)
        return min(self.max_backoff, max(delay, hint or 0.0))

    def _give_up_or_wait(self, exc: TransientSourceError, attempt: int) -> None:
        if attempt > self.retries:
            raise SourceError(f"{exc} (still failing after {self.retries} retries)") from exc
        delay = self._delay(attempt, exc.retry_after)
        self.report.retries += 1
        log.warning("%s; retry %d of %d in %.1f s", exc, attempt, self.retries, delay)
        self.sleep(delay)

    def _retrying(self, call: Callable[[], Any]) -> Any:
        attempt = 0
        while True:
            try:
                return call()
            except TransientSourceError as exc:
                attempt += 1
                self._give_up_or_wait(exc, attempt)

    def _items(self, start: dict[str, Any] | None) -> Iterator[Row | Deletion | Checkpoint]:
        """The source's rows and checkpoints; a transient failure resumes from the last checkpoint."""
        resume, skip, since, attempt = start, 0, 0, 0
        while True:
            reader = None
            try:
                reader = iter(self.source.read(self.config, self.stream, resume))
                while True:
                    began = time.perf_counter()
                    try:
                        item = next(reader)
                    except StopIteration:
                        return
                    finally:
                        self.report.timings["read"] += time.perf_counter() - began
                    if skip:  # already yielded before the failure
                        skip -= not isinstance(item, Checkpoint)
                        continue
                    attempt = 0
                    if isinstance(item, Checkpoint):
                        resume, since = item.state, 0
                    else:
                        since += 1
                    yield item
            except TransientSourceError as exc:
                attempt += 1
                self._give_up_or_wait(exc, attempt)
                skip = since
            finally:
                if reader is not None and hasattr(reader, "close"):
                    reader.close()

    # --- one batch ---------------------------------------------------------------------------

    def _outcomes(self, rows: list[Row], positions: list[int], results: list[list[Any]]
                  ) -> tuple[list[tuple[int, dict[str, Any]]], list[Rejected], int, list[Row], list[Any]]:
        """From the mapped and validated rows (``results``: [record, errors, prepared, digest] per row,
        as :func:`transform_rows` makes them): the valid (row number, record) pairs and the rejected
        rows, in order, how many rows an occurrence of their key later in the read supersedes (left out
        of both), and the source row and the target's prepared value of each valid record.
        ``positions``: each row's position in the read."""
        mapped = [(row, result[0], result[1], result[2]) for row, result in zip(rows, results)]
        superseded = self._supersede(mapped, positions) if self.dedupe else 0
        records: list[tuple[int, dict[str, Any]]] = []
        rejected: list[Rejected] = []
        written: list[Row] = []
        prepared: list[Any] = []
        for row, record, errors, made in mapped:
            if errors:
                rejected.append(Rejected(row.row_number, jsonable(row.data), record, errors))
            else:
                records.append((row.row_number, record))
                written.append(row)
                prepared.append(made)
        return records, rejected, superseded, written, prepared

    def _supersede(self, mapped: list[Any], positions: list[int]) -> int:
        """Drop from ``mapped`` the rows whose key occurs again later in the read; how many."""
        last_of = self.last_of
        latest: dict[str, int] = {}  # key → index in this batch of its latest occurrence
        dropped: set[int] = set()
        for index, (row, record, *_rest) in enumerate(mapped):
            key = self._key(record)
            if key is None:
                continue
            if last_of is not None and last_of.get(key, positions[index]) > positions[index]:
                dropped.add(index)  # a later batch holds the key again
                self._note_superseded(row, key)
                continue
            earlier = latest.get(key)
            if earlier is not None:
                dropped.add(earlier)
                self._note_superseded(mapped[earlier][0], key)
            latest[key] = index
        if dropped:
            mapped[:] = [item for index, item in enumerate(mapped) if index not in dropped]
        return len(dropped)

    def _note_superseded(self, row: Row, key: str) -> None:
        if len(self.superseded_sample) < INVALID_SAMPLE:
            self.superseded_sample.append(f"row {row.row_number} (key {key})")

    def _keys(self, deletions: list[Deletion]) -> list[dict[str, Any]]:
        """The deletions mapped like rows; one the mapping refuses is logged and left out."""
        mapped = []
        for deletion in deletions:
            if self.mapping is None:
                mapped.append(jsonable(dict(deletion.data)))
                continue
            record, field_errors = self.mapping.apply_json(deletion.data)
            if field_errors:
                log.warning("deletion at row %d ignored: its key does not map: %s", deletion.row_number,
                            "; ".join(f"{e.path}: {e.message}" for e in field_errors))
                continue
            mapped.append(record)
        return mapped

    def _submit(self, rows: list[Row], deletions: list[Deletion] = ()) -> None:
        """Hand one batch on with the current state: rows left to map go to a transform worker (from the
        second batch on, when the run has workers) or are mapped here; the batches are then committed
        strictly in the order they were read, at most ``workers`` of them waiting behind the reader.
        When rows are compared with the stored digests (a rerun), a worker first makes the batch's keys
        and row digests and a thread of this process looks them up in the target while this process
        reads on (the batch waits two batches for them)."""
        if not rows and not deletions and self.state == self.submitted:
            return
        began = time.perf_counter()
        base = self.read_position
        self.read_position += len(rows)
        batch = _Batch(rows=rows, deletions=list(deletions), state=self.state, base=base)
        self.submitted, self.read_batches = self.state, self.read_batches + 1
        pool = self._pool() if self.compare and rows and self.read_batches > 1 else None
        if pool is not None:
            try:
                batch.keyed = pool.submit(_keys_in_worker, [row.data for row in rows])
            except Exception as exc:  # noqa: BLE001 - no process to spare: keys and digests made here
                log.warning("transform workers unavailable (%s): rows are mapped in the run's process", exc)
                self.pool_failed = True
        if batch.keyed is not None and self.target.lookups_in_thread:
            # every batch read before it and not committed yet may still write a key it holds
            batch.split = self._lookups().submit(self._split, batch, [*self.inflight, *self.staged])
        self.staged.append(batch)
        self.report.timings["transform"] += time.perf_counter() - began
        # batches go on in the order read; one being keyed (and looked up) waits behind the reader
        while len(self.staged) > (LOOKUP_LAG if batch.keyed is not None else 0):
            self._hand_on(self.staged.popleft())

    def _lookups(self) -> concurrent.futures.ThreadPoolExecutor:
        """The thread that looks a rerun's batches up in the target, one batch at a time, in order."""
        if self.lookups is None:
            self.lookups = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sync-lookup")
        return self.lookups

    def _split(self, batch: "_Batch", earlier: list["_Batch"]
               ) -> tuple[list[Row], list[int], list[str], list[str], set[str]]:
        """:meth:`_unchanged` of a batch whose keys and digests a worker makes, in the lookup thread when
        the target allows it (``earlier``: the batches read before it and not committed when it was read;
        their lookups ran before its own, so their keys are known)."""
        known = None
        try:
            known = batch.keyed.result()
        except concurrent.futures.process.BrokenProcessPool as exc:  # made here instead
            log.warning("a transform worker stopped (%s): the rest of the run maps rows in its own process", exc)
            self.pool_failed = True
        batch.keyed = None
        split = self._unchanged(batch.rows, batch.base, known, earlier)
        batch.keys = split[4]
        return split

    def _hand_on(self, batch: "_Batch") -> None:
        """Split off a batch's unchanged rows (when compared), then map the others (in a worker or here)."""
        began = time.perf_counter()
        rows, base = batch.rows, batch.base
        if self.compare and rows:
            if batch.split is not None:  # looked up in the lookup thread
                split, batch.split = batch.split.result(), None
            elif batch.keyed is not None:  # keyed by a worker, looked up here
                split = self._split(batch, list(self.inflight))
            else:  # every batch read before it is handed on: those not committed are in flight
                split = self._unchanged(rows, base, None, list(self.inflight))
            # rows made into records that are still as written: counted unchanged, not mapped again
            batch.kept, batch.positions, batch.digests, batch.unchanged_keys, batch.keys = split
        else:
            batch.kept, batch.positions = rows, list(range(base, base + len(rows)))
        # a first sync's row digests are made beside the mapping (in a worker when the run has one)
        batch.digest_in_transform = self.source_prefix is not None and batch.digests is None
        data = [row.data for row in batch.kept]
        pool = self._pool() if data and self.submitted_batches else None
        if pool is not None:
            try:
                batch.future = pool.submit(_transform_in_worker, data, batch.digest_in_transform)
            except Exception as exc:  # noqa: BLE001 - no process to spare (or none allowed here): map here
                log.warning("transform workers unavailable (%s): rows are mapped in the run's process", exc)
                self.pool_failed = True
        if batch.future is None:
            batch.results = self._transform_here(data, batch.digest_in_transform)
        self.submitted_batches += 1
        self.inflight.append(batch)
        self.report.timings["transform"] += time.perf_counter() - began
        while len(self.inflight) > self.workers:
            self._commit(self.inflight.popleft())

    def _transform_here(self, datas: list[dict[str, Any]], digests: bool) -> list[list[Any]]:
        """:func:`transform_rows` in the run's process."""
        return transform_rows(self.mapping, self.validator, datas, prepare=self.target.prepare,
                              prefix=self.source_prefix if digests else None)

    def _drain(self) -> None:
        """Commit the batches still being keyed or transformed, in order."""
        while self.staged:
            self._hand_on(self.staged.popleft())
        while self.inflight:
            self._commit(self.inflight.popleft())

    def _pool(self) -> concurrent.futures.ProcessPoolExecutor | None:
        """The run's transform workers (started with the second batch), or None when it has none."""
        if self.workers < 1 or self.pool_failed:
            return None
        if self.pool is None:
            try:
                context = multiprocessing.get_context("fork")
                self.pool = concurrent.futures.ProcessPoolExecutor(
                    self.workers, mp_context=context, initializer=_start_worker,
                    initargs=(self.mapping, self.validator, os.getpid(), self.target.prepare, self.source_prefix,
                              self.keyer, self._columnar_plan()))
            except (ValueError, OSError) as exc:  # no fork here, or no process to spare: map in this one
                log.warning("transform workers unavailable (%s): rows are mapped in the run's process", exc)
                self.pool_failed = True
                return None
        return self.pool

    def _columnar_plan(self) -> ColumnarPlan | None:
        """The workers' columnar plan of this run's mapping and schema (None: rows are mapped one by one):
        only where the target's ``prepare`` is the canonical JSON the plan writes (compiling runs no
        polars: the plan runs only in the forked workers, see :mod:`connectors.columnar`)."""
        if not (columnar_enabled() and self.target.prepare_is_canonical and isinstance(self.mapping, Mapping)):
            return None
        plan = ColumnarPlan.compile(self.mapping, getattr(self.validator, "schema", None))
        if plan is not None:
            log.info("transform workers map column by column (the rows the columnar plan does not vouch for: "
                     "one by one)")
        else:
            log.info("transform workers map row by row (the mapping or the schema holds what the columnar plan "
                     "does not express)")
        return plan

    def close(self) -> None:
        """Stop the lookups and the transform workers (batches not committed are dropped: their rows are
        read again)."""
        if self.lookups is not None:
            self.lookups.shutdown(wait=True, cancel_futures=True)
            self.lookups = None
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None

    def _commit(self, batch: "_Batch") -> None:
        """Write one batch with its state in one target transaction, then count it."""
        report = self.report
        rows, deletions = batch.rows, batch.deletions
        began = time.perf_counter()
        results = batch.results
        if batch.future is not None:
            try:
                results = batch.future.result()
            except concurrent.futures.process.BrokenProcessPool as exc:  # a worker died: map here instead
                log.warning("a transform worker stopped (%s): the rest of the run maps rows in its own process",
                            exc)
                self.pool_failed = True
                results = self._transform_here([row.data for row in batch.kept], batch.digest_in_transform)
        batch.results = batch.future = None  # held no longer than needed
        if batch.digest_in_transform:
            batch.digests = [result[3] for result in results]
        records, rejected, superseded, written, prepared = self._outcomes(batch.kept, batch.positions, results)
        unchanged_keys = batch.unchanged_keys
        digests: list[str] | None = None
        if batch.digests is not None:
            digest_of = {id(row): digest for row, digest in zip(batch.kept, batch.digests)}
            digests = [digest_of[id(row)] for row in written]
        keys = self._keys(deletions)
        report.timings["transform"] += time.perf_counter() - began
        for item in rejected[:max(0, INVALID_SAMPLE - len(report.invalid_rows))]:
            report.invalid_rows.append({"row_number": item.row_number, "errors": item.errors})
        if rejected and report.on_invalid == "fail":
            raise _InvalidRow(rejected[0])
        quarantine = rejected if report.on_invalid == "quarantine" else []
        self.phase = f"writing batch {report.batches + 1}"
        began = time.perf_counter()
        extra: dict[str, Any] = {}
        if keys:
            extra["deletions"] = keys
        if digests is not None:
            extra["sources"] = digests
        if self.target.prepare is not None:
            extra["prepared"] = prepared
        counts = self.target.write(records, quarantine, batch.state, method=self.method, **extra)
        report.timings["write"] += time.perf_counter() - began
        if not isinstance(counts, WriteCounts) or counts.total != len(records):
            raise AssertionError(f"the target reported {counts} for {len(records)} records")
        report.read += len(rows)
        report.inserted += counts.inserted
        report.updated += counts.updated
        report.unchanged += counts.unchanged + len(unchanged_keys)
        self.not_mapped += len(unchanged_keys)
        report.quarantined += len(quarantine)
        report.skipped += len(rejected) - len(quarantine)
        report.superseded += superseded
        tally = self.reasons
        for item in rejected:
            for error in item.errors[:1]:  # a row counts once, under its first reason
                entry = tally.setdefault((error["field"], error["keyword"]), [0, error["message"]])
                entry[0] += 1
        report.deleted += counts.deleted
        report.batches += 1
        self.committed = report.state = batch.state
        if report.write == "mirror":
            self._remember_keys(records, rejected)
            self.seen_keys.update(unchanged_keys)
        _assert_balanced(report)
        if deletions:
            log.info("batch %d: %d of the %d deletions the source reported removed a record (the others "
                     "were not stored here)", report.batches, counts.deleted, len(deletions))
        if superseded:
            log.info("batch %d: %d rows superseded by a later row with the same key (first: %s)",
                     report.batches, superseded, ", ".join(self.superseded_sample[:3]))
        log.info("batch %d committed: %d rows: inserted %d, updated %d, unchanged %d (%d not mapped: the same "
                 "source row as the record's), %s %d%s",
                 report.batches, len(rows), counts.inserted, counts.updated,
                 counts.unchanged + len(unchanged_keys), len(unchanged_keys),
                 "quarantined" if report.on_invalid == "quarantine" else "skipped", len(rejected),
                 "".join(f"; {r.describe()}" for r in rejected[:3]) + (" …" if len(rejected) > 3 else ""))
        self.phase = "reading the source"
        if self.progress is not None:
            self.progress(report)

    def _remember_keys(self, records: list[tuple[int, dict[str, Any]]], rejected: list[Rejected]) -> None:
        self.seen_keys.update(self.target.key_of(record) for _row, record in records)
        # a row that is still in the source but invalid now keeps its last good version
        for item in rejected:
            if isinstance(item.record, dict):
                with contextlib.suppress(Exception):
                    self.seen_keys.add(self.target.key_of(item.record))

    def _mirror(self) -> None:
        report = self.report
        if report.inserted + report.updated + report.unchanged == 0:
            log.warning("mirror: no valid record was read, so nothing is deleted "
                        "(an empty or unreadable export must not empty the dataset)")
            return
        self.phase = "deleting the records missing from the source"
        began = time.perf_counter()
        report.deleted += int(self.target.finish_mirror(self.seen_keys))
        report.timings["mirror"] += time.perf_counter() - began
        log.info("mirror: %d records missing from the source deleted", report.deleted)


def _key_mapping(mapping: Mapping | None, primary_key: Any) -> Mapping | None:
    """The part of ``mapping`` that makes the key fields (the read ahead maps only those), or the whole
    mapping when the target does not say its key fields or a key field is not made by rename alone."""
    if mapping is None or not isinstance(primary_key, (list, tuple)) or not primary_key:
        return mapping
    keys = {str(name) for name in primary_key}

    def keyed(path: str) -> bool:
        return path.split(".", 1)[0] in keys

    if any(keyed(path) for path in mapping.split):
        return mapping
    rename = {column: path for column, path in mapping.rename.items() if keyed(path)}
    if mapping.unmapped == "keep":  # key columns kept under their own names
        rename.update({name: name for name in keys if name not in mapping.rename})
    return Mapping(rename=rename, unmapped="drop",
                   computed={path: render for path, render in mapping.computed.items() if keyed(path)},
                   defaults={path: value for path, value in mapping.defaults.items() if keyed(path)},
                   constants={path: value for path, value in mapping.constants.items() if keyed(path)},
                   trim=mapping.trim, drop_empty=mapping.drop_empty, timezone=mapping.timezone,
                   value_maps={path: table for path, table in mapping.value_maps.items() if keyed(path)},
                   steps=[step for step in mapping.steps if keyed(step[0])])


def _key_column(mapping: Mapping | None) -> tuple[str, str, list[Callable[[Any], Any]]] | None:
    """(column, key field, its step functions) when a key mapping is one renamed top-level column and
    that field's own steps: the read ahead then cleans that one value instead of mapping the row."""
    if mapping is None or len(mapping.rename) != 1 or mapping.computed or mapping.constants or \
            mapping.defaults or mapping.value_maps or mapping.split or mapping.unmapped != "drop":
        return None
    (column, path), = mapping.rename.items()
    if "." in path or any(step_path != path for step_path, _keyword, _function in mapping.steps):
        return None
    return column, path, [function for _path, _keyword, function in mapping.steps]


@dataclass(eq=False)
class _Batch:
    """One batch on its way from the reader to its commit."""

    rows: list[Row]
    deletions: list[Deletion]
    state: dict[str, Any] | None  # the source position committed with it
    base: int  # the position in the read of its first row
    kept: list[Row] = field(default_factory=list)  # the rows to map (not skipped as unchanged)
    positions: list[int] = field(default_factory=list)  # their positions in the read
    digests: list[str] | None = None  # their source digests (None: the target keeps none)
    unchanged_keys: list[str] = field(default_factory=list)  # the keys of the rows skipped as unchanged
    keys: set[str] = field(default_factory=set)  # the keys of all its rows (when digests are made)
    digest_in_transform: bool = False  # whether the kept rows' digests are made with their mapping
    results: list[list[Any]] | None = None  # [record, errors, prepared, digest] per kept row, mapped here
    future: concurrent.futures.Future | None = None  # … or by a worker
    keyed: concurrent.futures.Future | None = None  # its rows' digests and keys, made by a worker
    split: concurrent.futures.Future | None = None  # … and _unchanged of it, in the lookup thread


class _Keyer:
    """A source row's target key, or None when it has no complete key: the read ahead's one-column
    path (``key_column``: that value cleaned and coerced alone) or the key fields' mapping
    (``key_mapping``); the same in the run's process and in a transform worker."""

    def __init__(self, key_mapping: Mapping | None, key_column: tuple[str, str, list[Callable[[Any], Any]]] | None,
                 key_of: Callable[[dict[str, Any]], str]):
        self.key_mapping, self.key_column, self.key_of = key_mapping, key_column, key_of

    def __call__(self, data: dict[str, Any]) -> str | None:
        if self.key_column is not None:  # one column makes the key: clean and coerce it alone
            column, path, steps = self.key_column
            value = self.key_mapping._clean(data.get(column))
            if value is _NO_VALUE_SENTINEL or value is None:
                return None
            try:
                for function in steps:
                    value = function(value)
            except Exception:  # noqa: BLE001 - the row's own mapping will report it
                return None
            return self.key({path: jsonable(value)})
        mapping = self.key_mapping
        if mapping is not None:
            record, _errors = mapping.apply_json(data)
        else:
            record = jsonable(dict(data))
        return self.key(record)

    def key(self, record: Any) -> str | None:
        """The target key of a (mapped) record, or None when it has no complete key."""
        if not isinstance(record, dict):
            return None
        try:
            key = self.key_of(record)
        except Exception:  # noqa: BLE001 - a record the target cannot key is not a duplicate of anything
            return None
        return key if key not in (None, "", "null") else None


def keys_and_digests(keyer: Callable[[dict[str, Any]], str | None], prefix: bytes,
                     datas: list[dict[str, Any]]) -> tuple[list[str], list[str | None]]:
    """Each source row's digest (made with ``prefix``) and target key (``keyer``), in order."""
    blake2b = hashlib.blake2b
    # repr keeps the types (a date and its text differ); a value whose repr is not stable (an object's
    # address) only makes the row look changed
    digests = [blake2b(prefix + repr(data).encode(), digest_size=16).hexdigest() for data in datas]
    return digests, [keyer(data) for data in datas]


def transform_rows(mapping: Mapping | None, validator: Any, datas: list[dict[str, Any]], *,
                   prepare: Callable[[dict[str, Any]], Any] | None = None,
                   prefix: bytes | None = None, columnar: ColumnarPlan | None = None) -> list[list[Any]]:
    """Map and validate source rows: ``[record, errors, prepared, digest]`` for each, the errors as a
    quarantine keeps them (the mapping's, then the schema's; for a row the mapping failed, the schema's
    view of the fields the mapping did not already name); ``prepared``: the target's
    :attr:`~connectors.base.Target.prepare` of a valid record (else None); ``digest``: the source row's
    digest made with ``prefix`` (else None). The same in the run's process and in a transform worker.
    ``columnar`` (only in a transform worker, with a target whose ``prepare`` is the canonical JSON):
    the batch's plan (:class:`connectors.columnar.ColumnarPlan`); the rows it does not vouch for, and
    all of them should it fail, are mapped here one by one."""
    if columnar is None:
        return _transform_each(mapping, validator, datas, prepare, prefix)
    try:
        made = columnar.run(datas)
    except Exception as exc:  # noqa: BLE001 - whatever polars trips on, the per-row path serves
        log.warning("columnar transform failed (%s): the batch is mapped row by row", exc)
        made = [None] * len(datas)
    rest = [index for index, result in enumerate(made) if result is None]
    others = iter(_transform_each(mapping, validator, [datas[index] for index in rest], prepare, prefix))
    blake2b = hashlib.blake2b
    out: list[list[Any]] = []
    for data, result in zip(datas, made):
        if result is None:
            out.append(next(others))
            continue
        record, text, digest = result
        row_digest = None if prefix is None else blake2b(prefix + repr(data).encode(), digest_size=16).hexdigest()
        out.append([record, [], (text, digest), row_digest])
    return out


def _transform_each(mapping: Mapping | None, validator: Any, datas: list[dict[str, Any]],
                    prepare: Callable[[dict[str, Any]], Any] | None, prefix: bytes | None) -> list[list[Any]]:
    """:func:`transform_rows` one row at a time."""
    out: list[list[Any]] = []
    blake2b = hashlib.blake2b
    for data in datas:
        if mapping is not None:
            # JSON-safe as jsonable() makes it; the mapping skips that walk when it can tell
            record, field_errors = mapping.apply_json(data)
        else:  # sources such as sql yield dates and decimals
            record, field_errors = jsonable(dict(data)), []
        # repr keeps the types (a date and its text differ); a value whose repr is not stable (an
        # object's address) only makes the row look changed
        digest = None if prefix is None else blake2b(prefix + repr(data).encode(), digest_size=16).hexdigest()
        out.append([record, [_error(e) for e in field_errors] if field_errors else [], None, digest])
    if validator is not None:
        clean = [i for i, result in enumerate(out) if not result[1]]
        _valid, invalid = validator.validate_many([out[i][0] for i in clean])
        for position, field_errors in invalid.items():
            out[clean[position]][1].extend(_error(e) for e in field_errors)
        if len(clean) < len(out):
            for position in sorted(set(range(len(out))) - set(clean)):
                record, errors = out[position][0], out[position][1]
                named = tuple(e["field"] for e in errors)
                errors.extend(_error(e) for e in validator.errors(record)
                              if not any(e.path == p or e.path.startswith(p + ".") for p in named))
    if prepare is not None:
        for result in out:
            if not result[1]:
                try:
                    result[2] = prepare(result[0])
                except Exception:  # noqa: BLE001 - not prepared: the target works it out (and says why not)
                    result[2] = None
    return out


#: a transform worker's mapping and validator (inherited from the run's process, which forked it)
_WORKER: dict[str, Any] = {}


def _start_worker(mapping: Mapping | None, validator: Any, parent: int,
                  prepare: Callable[[dict[str, Any]], Any] | None = None, prefix: bytes | None = None,
                  keyer: Callable[[dict[str, Any]], str | None] | None = None,
                  columnar: ColumnarPlan | None = None) -> None:
    """In a transform worker: keep the run's mapping, validator, the target's prepare, the source
    digests' prefix, the rows' key function and the columnar plan, and end when the run's process is
    gone (a SIGKILLed run must not leave its workers waiting forever for batches)."""
    _WORKER.update(mapping=mapping, validator=validator, prepare=prepare, prefix=prefix, keyer=keyer,
                   columnar=columnar)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _transform_in_worker(datas: list[dict[str, Any]], digests: bool) -> list[list[Any]]:
    return transform_rows(_WORKER["mapping"], _WORKER["validator"], datas, prepare=_WORKER["prepare"],
                          prefix=_WORKER["prefix"] if digests else None, columnar=_WORKER["columnar"])


def _keys_in_worker(datas: list[dict[str, Any]]) -> tuple[list[str], list[str | None]]:
    return keys_and_digests(_WORKER["keyer"], _WORKER["prefix"], datas)


def _error(error: Any) -> dict[str, str]:
    """A FieldError as the dict a quarantine keeps."""
    return {"field": error.path or "__root__", "keyword": error.keyword, "message": error.message}
