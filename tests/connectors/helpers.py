"""Test doubles and helpers for the sync engine: an in-memory target and a checked ``sync`` call."""
from __future__ import annotations

import copy
import json
from typing import Any

from connectors import Rejected, Target, TargetError, WriteCounts, run_sync
from connectors.report import OUTCOMES, RunReport


class SimulatedCrash(RuntimeError):
    """The target 'crashed' before committing a batch."""


class MemoryTarget(Target):
    """A target in memory with the DataStore's contract: each write commits all or nothing.

    ``crash_after=N`` makes the (N+1)-th write raise :class:`SimulatedCrash` before anything of it is
    applied. ``log`` records every committed change as (operation, key), so a test can prove that a
    rerun inserted nothing twice.
    """

    def __init__(self, primary_key: list[str], *, crash_after: int | None = None):
        self.primary_key = list(primary_key)
        self.crash_after = crash_after
        self.records: dict[str, dict[str, Any]] = {}
        self.rejected: list[Rejected] = []
        self.committed_state: dict[str, Any] | None = None
        self.writes = 0
        self.methods: list[str] = []
        self.log: list[tuple[str, str]] = []

    def state(self) -> dict[str, Any] | None:
        return copy.deepcopy(self.committed_state)

    def key_of(self, record: dict[str, Any]) -> str:
        # as the DataStore keys records: the value itself, or JSON for numbers and composite keys
        values = [record[name] for name in self.primary_key]
        if len(values) == 1:
            return values[0] if isinstance(values[0], str) else json.dumps(values[0])
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    def write(self, records, rejected, state, *, method="upsert", deletions=()) -> WriteCounts:
        if self.crash_after is not None and self.writes >= self.crash_after:
            raise SimulatedCrash(f"simulated crash before committing batch {self.writes + 1}")
        staged, changes = dict(self.records), []
        inserted = updated = unchanged = 0
        for row_number, record in records:
            key = self.key_of(record)
            if key in staged:
                if method == "append":
                    raise TargetError(f"row {row_number}: a record with key {key} already exists")
                if staged[key] == record:
                    unchanged += 1
                    continue
                updated += 1
                changes.append(("update", key))
            else:
                inserted += 1
                changes.append(("insert", key))
            staged[key] = copy.deepcopy(record)
        deleted = 0
        for record in deletions:  # after the records, as the contract says
            key = self.key_of(record)
            if staged.pop(key, None) is not None:
                deleted += 1
                changes.append(("delete", key))
        # commit: everything at once
        self.records = staged
        self.rejected.extend(rejected)
        if state is not None:
            self.committed_state = copy.deepcopy(state)
        self.writes += 1
        self.methods.append(method)
        self.log.extend(changes)
        return WriteCounts(inserted, updated, unchanged, deleted)

    def finish_mirror(self, seen_keys: set[str]) -> int:
        missing = set(self.records) - seen_keys
        for key in missing:
            del self.records[key]
            self.log.append(("delete", key))
        return len(missing)

    def inserted_keys(self) -> list[str]:
        """Every key ever inserted, in order (a key inserted twice would appear twice)."""
        return [key for operation, key in self.log if operation == "insert"]


def assert_balanced(report: RunReport) -> None:
    """The invariant every run keeps: read = inserted + updated + unchanged + quarantined + skipped."""
    assert report.read == sum(getattr(report, name) for name in OUTCOMES), report.counts()


def sync(source, config, target, *, stream=None, **options: Any) -> RunReport:
    """run_sync with an instant sleep, checking the count invariant of the report."""
    options.setdefault("sleep", lambda seconds: None)
    report = run_sync(source, config, stream, target, **options)
    assert_balanced(report)
    assert report.status in ("succeeded", "succeeded_with_errors", "failed")
    if report.status == "succeeded":
        assert report.error_message is None and report.quarantined + report.skipped == 0
    elif report.status == "succeeded_with_errors":  # says how many rows were invalid, and why
        assert report.quarantined + report.skipped and report.error_message and report.top_reasons
    else:
        assert report.error_message and report.error_detail
    return report
