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
  each row only to learn its key, and keeps ``key → position of its last occurrence`` (keys, not rows,
  are held), so a duplicate spanning batches is handled the same. Other sources (an API, a change
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

import contextlib
import datetime as dt
import hashlib
import json
import logging
import time
import traceback
from typing import Any, Callable, Iterator

from .base import (Checkpoint, Deletion, Rejected, Row, Source, SourceError, Stream, Target, TargetError,
                   TransientSourceError, WriteCounts, jsonable)
from .expressions import WorkingDay
from .mapping import _ABSENT as _NO_VALUE_SENTINEL, Mapping, MappingConfigError
from .report import FAILED, INVALID_SAMPLE, SUCCEEDED, SUCCEEDED_WITH_ERRORS, RunReport, capture_log

__all__ = ["MODES", "ON_INVALID", "WRITES", "RunReport", "preview", "run_sync"]

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
             sleep: Callable[[float], None] = time.sleep, working_day: WorkingDay | None = None) -> RunReport:
    """Run one sync of ``stream`` (``None``: the source's first stream) into ``target``; never raises
    for a failed run — the :class:`RunReport` says what happened. Bad options raise ``ValueError``.

    ``mapping`` is a :class:`Mapping` or its configuration (a malformed one fails the run);
    ``None`` passes rows on as they are. ``validator`` is a :class:`schemas.validation.RecordValidator`
    (or anything with its ``validate_many`` and ``errors``); ``None`` accepts every mapped record. ``progress`` is called
    with the report after every committed batch. ``max_invalid`` (0 to 1) is the share of invalid rows
    above which a run that read everything still ends ``failed``. ``working_day`` is the calendar a
    mapping configuration's ``date_add(..., working=True)`` counts in (default: Monday to Friday).
    """
    _check_options(mode=mode, write=write, on_invalid=on_invalid, batch_size=batch_size, retries=retries)
    if not 0 <= max_invalid <= 1:
        raise ValueError("max_invalid must be a share from 0 to 1")
    report = RunReport(source=getattr(source, "name", "") or type(source).__name__,
                       stream=stream.name if stream else "", mode=mode, write=write, on_invalid=on_invalid)
    run = _Run(source, config, stream, target, report, mapping=mapping, validator=validator,
               batch_size=batch_size, progress=progress, retries=retries, backoff=backoff,
               max_backoff=max_backoff, sleep=sleep, working_day=working_day)
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
                 working_day: WorkingDay | None = None):
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
        #: key → position (0-based, among the rows of this read) of its last occurrence; None: not read ahead
        self.last_of: dict[str, int] | None = None
        self.position = 0  # the position of the first row of the next batch
        self.key_mapping: Mapping | None = None  # what the read ahead maps rows with
        self.key_column: tuple[str, str, list[Callable[[Any], Any]]] | None = None
        #: what a source row's digest starts with (mapping, schema, target); None: no unchanged-row skip
        self.source_prefix: bytes | None = None
        self._written_rows: list[Row] = []  # set by _transform: the row of each valid record
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
        self.state = self.committed = self.report.start_state = self.report.state = start
        log.info("sync of %s started: mode %s, write %s, on_invalid %s, from %s", self.stream.name,
                 self.report.mode, self.report.write, self.report.on_invalid,
                 f"state {start}" if start else "the start")
        self.source_prefix = self._source_prefix()
        if self.dedupe or self.source_prefix is not None:
            self.key_mapping = _key_mapping(self.mapping, getattr(self.target, "primary_key", None))
            self.key_column = _key_column(self.key_mapping)
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
                        self._commit(pending, deletions)
                        pending, deletions = [], []
                    (deletions if isinstance(item, Deletion) else pending).append(item)
            except SourceError:
                self._salvage(pending, deletions)
                raise
        self._commit(pending, deletions)
        if self.not_mapped:
            log.info("%d rows were the same source rows as their stored records' (same mapping and schema): "
                     "counted unchanged without mapping or validating them", self.not_mapped)
        if self.report.write == "mirror":
            self._mirror()

    def _read_keys(self, start: dict[str, Any] | None) -> dict[str, int]:
        """One read ahead: every key's last position (rows whose key cannot be told are left out)."""
        began = time.perf_counter()
        last: dict[str, int] = {}
        position = 0
        with contextlib.closing(self._items(start)) as items:
            for item in items:
                if not isinstance(item, Row):
                    continue
                key = self._key_of_row(item)
                if key is not None:
                    last[key] = position
                position += 1
        repeated = position - len(last)
        log.info("read ahead: %d rows, %d distinct keys%s in %.2f s", position, len(last),
                 f" ({repeated} rows repeat a key: the last occurrence wins)" if repeated > 0 else "",
                 time.perf_counter() - began)
        return last

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

    def _unchanged(self, rows: list[Row]) -> tuple[list[Row], list[int], list[bytes | None], list[str]]:
        """Split off the rows a sync already wrote from identical source rows (same mapping, schema and
        target) into records that are still as written: ``(rows to map, their positions in the read,
        their digests, the keys of the rows skipped)``. A row is skipped only when its key is known,
        occurs once in the batch and (read ahead) not later in the read: the others go the whole way."""
        prefix, base, last_of = self.source_prefix, self.position, self.last_of
        digests: list[str] = []
        keys: list[str | None] = []
        seen: dict[str, int] = {}
        blake2b = hashlib.blake2b
        for index, row in enumerate(rows):
            # repr keeps the types (a date and its text differ); a value whose repr is not stable
            # (an object's address) only makes the row look changed
            digests.append(blake2b(prefix + repr(row.data).encode(), digest_size=16).hexdigest())
            key = self._key_of_row(row)
            keys.append(key)
            if key is not None:
                seen[key] = seen.get(key, 0) + 1
        candidates = {key: digests[index] for index, key in enumerate(keys)
                      if key is not None and seen[key] == 1
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
        return kept, positions, kept_digests, skipped

    def _key_of_row(self, row: Row) -> str | None:
        if self.key_column is not None:  # one column makes the key: clean and coerce it alone
            column, path, steps = self.key_column
            value = self.key_mapping._clean(row.data.get(column))
            if value is _NO_VALUE_SENTINEL or value is None:
                return None
            try:
                for function in steps:
                    value = function(value)
            except Exception:  # noqa: BLE001 - the row's own mapping will report it
                return None
            return self._key({path: jsonable(value)})
        mapping = self.key_mapping
        if mapping is not None:
            record, _errors = mapping.apply_json(row.data)
        else:
            record = jsonable(dict(row.data))
        return self._key(record)

    def _key(self, record: Any) -> str | None:
        """The target key of a (mapped) record, or None when it has no complete key."""
        if not isinstance(record, dict):
            return None
        try:
            key = self.target.key_of(record)
        except Exception:  # noqa: BLE001 - a record the target cannot key is not a duplicate of anything
            return None
        return key if key not in (None, "", "null") else None

    def _salvage(self, pending: list[Row], deletions: list[Deletion]) -> None:
        """The source failed: commit the rows read before the failure, so a rerun resumes after them."""
        try:
            self._commit(pending, deletions)
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

    def _transform(self, rows: list[Row], positions: list[int]
                   ) -> tuple[list[tuple[int, dict[str, Any]]], list[Rejected], int]:
        """Map and validate: the valid (row number, record) pairs and the rejected rows, in order, and
        how many rows an occurrence of their key later in the read supersedes (left out of both).
        ``positions``: each row's position in the read."""
        mapped: list[tuple[Row, Any, list[dict[str, str]]]] = []
        for row in rows:
            if self.mapping is not None:
                # JSON-safe as jsonable() makes it; the mapping skips that walk when it can tell
                record, field_errors = self.mapping.apply_json(row.data)
            else:  # sources such as sql yield dates and decimals
                record, field_errors = jsonable(dict(row.data)), []
            mapped.append((row, record, [_error(e) for e in field_errors]))
        superseded = self._supersede(mapped, positions) if self.dedupe else 0
        clean = [i for i, (_row, _record, errors) in enumerate(mapped) if not errors]
        if self.validator is not None:
            _valid, invalid = self.validator.validate_many([mapped[i][1] for i in clean])
            for position, field_errors in invalid.items():
                mapped[clean[position]][2].extend(_error(e) for e in field_errors)
            for position in sorted(set(range(len(mapped))) - set(clean)):
                # the mapping failed; add the schema's view of the fields it did not already name
                _row, record, errors = mapped[position]
                named = tuple(e["field"] for e in errors)
                errors.extend(_error(e) for e in self.validator.errors(record)
                              if not any(e.path == p or e.path.startswith(p + ".") for p in named))
        records: list[tuple[int, dict[str, Any]]] = []
        rejected: list[Rejected] = []
        self._written_rows = written = []  # the source row of each record, for its digest
        for row, record, errors in mapped:
            if errors:
                rejected.append(Rejected(row.row_number, jsonable(row.data), record, errors))
            else:
                records.append((row.row_number, record))
                written.append(row)
        return records, rejected, superseded

    def _supersede(self, mapped: list[Any], positions: list[int]) -> int:
        """Drop from ``mapped`` the rows whose key occurs again later in the read; how many."""
        last_of = self.last_of
        latest: dict[str, int] = {}  # key → index in this batch of its latest occurrence
        dropped: set[int] = set()
        for index, (row, record, _errors) in enumerate(mapped):
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

    def _commit(self, rows: list[Row], deletions: list[Deletion] = ()) -> None:
        """Write one batch with the current state in one target transaction, then count it."""
        if not rows and not deletions and self.state == self.committed:
            return
        report = self.report
        began = time.perf_counter()
        unchanged_keys: list[str] = []
        digests: list[bytes | None] | None = None
        if self.source_prefix is not None and rows:
            # rows made into records that are still as written: counted unchanged, not mapped again
            kept, positions, row_digests, unchanged_keys = self._unchanged(rows)
        else:
            kept, positions, row_digests = rows, list(range(self.position, self.position + len(rows))), None
        records, rejected, superseded = self._transform(kept, positions)
        if row_digests is not None:
            digest_of = {id(row): digest for row, digest in zip(kept, row_digests)}
            digests = [digest_of[id(row)] for row in self._written_rows]
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
        counts = self.target.write(records, quarantine, self.state, method=self.method, **extra)
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
        self.position += len(rows)
        tally = self.reasons
        for item in rejected:
            for error in item.errors[:1]:  # a row counts once, under its first reason
                entry = tally.setdefault((error["field"], error["keyword"]), [0, error["message"]])
                entry[0] += 1
        report.deleted += counts.deleted
        report.batches += 1
        self.committed = report.state = self.state
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
                 "quarantined" if quarantine else "skipped", len(rejected),
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


def _error(error: Any) -> dict[str, str]:
    """A FieldError as the dict a quarantine keeps."""
    return {"field": error.path or "__root__", "keyword": error.keyword, "message": error.message}
