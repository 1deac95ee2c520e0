"""Push records into another CKAN-compatible catalog's DataStore resource (``datastore_upsert``).

:class:`RemoteCkanTarget` is a :class:`~connectors.base.Target` for :func:`connectors.run_sync`::

    target = RemoteCkanTarget("https://data.peer.gov.cn", "3f2c…", token, ["petition_number"],
                              "/var/lib/catalog/sync/petitions-to-city.json")
    run_sync(source, config, None, target, mode="incremental")

What "one transaction" means here: the peer commits each batch's ``datastore_upsert`` on its own
(all records or none); the source state is written to the local JSON file ``state_store`` only
*after* the peer answered success. A crash between the two re-sends that batch on the next run,
which an upsert absorbs (the records come back ``unchanged``) — so use ``write: upsert``; with
``append`` (``method: insert``) a re-sent batch is refused as a duplicate (:class:`TargetError`).
Rows rejected by mapping or validation cannot go to the peer's quarantine: they are appended to a
local JSON-lines file beside the state file (``<state_store>.rejected.jsonl``), one object per row.

Counts: this catalog answers ``{inserted, updated, unchanged}``; real CKAN answers without counts,
so a successful ``upsert`` there counts every record as **updated** (it cannot tell inserted from
changed from unchanged) and a successful ``insert`` counts every record as inserted.

Errors: HTTP 429, 5xx, timeouts and dropped connections are retried ``retries`` times with
exponential backoff, then end the run as a :class:`TargetError`; 401/403 (token missing or
refused) and 404 (resource not on the peer) are :class:`TargetError` at once, with the peer's
message; 409 becomes a :class:`TargetError` listing the peer's field messages, with the peer's
``records.<i>`` indexes turned into the run's row numbers.

Requests keep to ``outbound`` (:mod:`connectors.outbound`; default: public addresses only): a peer at
a refused address is a :class:`TargetError` at once, not retried.

``finish_mirror`` lists the peer's keys with ``datastore_search`` (only the key fields) and removes
those the read did not contain with ``datastore_delete`` and ``filters`` on the key field, in chunks
(one call per record for a composite key). It never sends empty filters: to CKAN and to this
catalog those mean "the whole table".
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Callable

from ..base import Rejected, Target, TargetError, WriteCounts, jsonable
from ..outbound import OutboundRefused, Policy
from ..sources.ckan import CkanClient, CkanReply, CkanTransportError

__all__ = ["RemoteCkanTarget"]

log = logging.getLogger(__name__)

_RECORD_FIELD = re.compile(r"^records\.(\d+)(?:\.(.+))?$")


class RemoteCkanTarget(Target):
    """A DataStore resource of a CKAN-compatible peer, with the sync state in a local JSON file.

    ``key_fields`` is the peer table's primary key (a name or a list); it decides :meth:`key_of` and
    what :meth:`finish_mirror` deletes by. ``force=True`` sends CKAN's ``force`` flag (needed to write
    a resource CKAN considers read-only, e.g. one filled by DataPusher).
    """

    def __init__(self, url: str, resource_id: str, token: str | None, key_fields: list[str] | str | None,
                 state_store: str | os.PathLike[str], *, timeout: float = 60, page_size: int = 1000,
                 delete_chunk: int = 500, retries: int = 3, backoff: float = 1.0, max_backoff: float = 60.0,
                 force: bool = False, sleep: Callable[[float], None] = time.sleep,
                 outbound: Policy | None = None):
        self.url = url
        self.resource_id = resource_id
        self.key_fields = [key_fields] if isinstance(key_fields, str) else list(key_fields or [])
        self.state_store = Path(state_store)
        self.rejected_store = self.state_store.with_name(self.state_store.name + ".rejected.jsonl")
        self.page_size, self.delete_chunk = page_size, delete_chunk
        self.retries, self.backoff, self.max_backoff, self.sleep = retries, backoff, max_backoff, sleep
        self.force = force
        self.client = CkanClient(url, token, timeout=timeout, outbound=outbound)

    # --- the contract --------------------------------------------------------------------------

    def state(self) -> dict[str, Any] | None:
        """The state saved after the last successful write (``None`` before the first)."""
        try:
            text = self.state_store.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise TargetError(f"cannot read the sync state file {self.state_store}: {exc.strerror or exc}") from exc
        try:
            saved = json.loads(text)
        except ValueError as exc:
            raise TargetError(f"the sync state file {self.state_store} is not JSON ({exc}); "
                              "remove it to start from the beginning") from None
        if not isinstance(saved, dict):
            raise TargetError(f"the sync state file {self.state_store} does not hold a JSON object")
        if saved.get("resource_id") not in (None, self.resource_id):
            log.warning("the state file %s belongs to resource %s, not %s: starting from no state",
                        self.state_store, saved.get("resource_id"), self.resource_id)
            return None
        state = saved.get("state")
        return state if isinstance(state, dict) else None

    def key_of(self, record: dict[str, Any]) -> str:
        """The record's key as the DataStore stores it: the value, or JSON for numbers and composite keys."""
        if not self.key_fields:
            raise TargetError("the remote target has no key_fields: give the peer table's primary key")
        values = [record.get(name) for name in self.key_fields]
        if len(values) == 1:
            value = values[0]
            return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return json.dumps(values, ensure_ascii=False, separators=(",", ":"))

    def write(self, records: list[tuple[int, dict[str, Any]]], rejected: list[Rejected],
              state: dict[str, Any] | None, *, method: str = "upsert",
              deletions: list[dict[str, Any]] = ()) -> WriteCounts:
        """Send the records in one ``datastore_upsert`` and the deletions with ``datastore_delete``;
        on success keep the rejected rows and the state.

        Not one transaction, as a peer offers none: the state is saved last, so a failure part way
        makes the next run send the batch again (upserts and deletions are idempotent)."""
        counts = WriteCounts()
        if records:
            remote_method = "insert" if method == "append" else "upsert"
            data: dict[str, Any] = {"resource_id": self.resource_id, "method": remote_method,
                                    "records": [record for _row, record in records]}
            if self.force:
                data["force"] = True
            reply = self._call("datastore_upsert", data, rows=[row for row, _record in records])
            counts = self._counts(reply, len(records), remote_method)
        if deletions:
            counts = WriteCounts(counts.inserted, counts.updated, counts.unchanged,
                                 deleted=self._delete_keys(deletions))
        if rejected:
            self._keep_rejected(rejected)
        if state is not None:
            self._save_state(state)
        return counts

    def finish_mirror(self, seen_keys: set[str]) -> int:
        """Delete the peer's records whose key the complete read did not contain; return how many."""
        if not self.key_fields:
            raise TargetError("write: mirror needs the remote target's key_fields")
        missing = [record for record in self._remote_keys() if self.key_of(record) not in seen_keys]
        return self._delete_keys(missing)

    def _delete_keys(self, missing: list[dict[str, Any]]) -> int:
        """Delete the peer's records with these keys (chunks of filters on a single key field)."""
        if not self.key_fields:
            raise TargetError("deleting records on the peer needs the remote target's key_fields")
        missing = [r for r in missing if all(r.get(name) not in (None, "") for name in self.key_fields)]
        deleted = 0
        if len(self.key_fields) == 1:
            name = self.key_fields[0]
            for start in range(0, len(missing), self.delete_chunk):
                values = [record.get(name) for record in missing[start:start + self.delete_chunk]]
                deleted += self._delete({name: values}, len(values))
        else:
            for record in missing:
                deleted += self._delete({name: record.get(name) for name in self.key_fields}, 1)
        return deleted

    def close(self) -> None:
        """Release the HTTP connections."""
        self.client.close()

    # --- helpers -------------------------------------------------------------------------------

    def _counts(self, reply: CkanReply, sent: int, remote_method: str) -> WriteCounts:
        result = reply.result if isinstance(reply.result, dict) else {}
        if all(isinstance(result.get(k), int) for k in ("inserted", "updated", "unchanged")):
            counts = WriteCounts(result["inserted"], result["updated"], result["unchanged"])
            if counts.total != sent:
                raise TargetError(f"the peer wrote {counts.total} of the {sent} records sent "
                                  f"({result.get('quarantined', 0)} quarantined, {result.get('skipped', 0)} "
                                  "skipped there)")
            return counts
        # real CKAN: no counts in the answer
        return WriteCounts(inserted=sent) if remote_method == "insert" else WriteCounts(updated=sent)

    def _delete(self, filters: dict[str, Any], expected: int) -> int:
        if not filters or any(v in (None, []) for v in filters.values()):
            raise TargetError(f"refusing to call datastore_delete with empty filters {filters}")
        data: dict[str, Any] = {"resource_id": self.resource_id, "filters": filters}
        if self.force:
            data["force"] = True
        reply = self._call("datastore_delete", data)
        result = reply.result if isinstance(reply.result, dict) else {}
        count = result.get("deleted")
        return count if isinstance(count, int) and not isinstance(count, bool) else expected

    def _remote_keys(self) -> list[dict[str, Any]]:
        """Every record of the peer table, key fields only (collected before anything is deleted)."""
        found: list[dict[str, Any]] = []
        offset, sort = 0, "_id"
        while True:
            data: dict[str, Any] = {"resource_id": self.resource_id, "fields": list(self.key_fields),
                                    "limit": self.page_size, "offset": offset, "include_total": False}
            if sort:
                data["sort"] = sort
            reply = self._call("datastore_search", data, unknown_sort=sort is not None)
            if reply is None:  # this catalog has no _id and sorts by primary key anyway
                sort = None
                continue
            records = (reply.result or {}).get("records") or []
            found.extend(r for r in records if isinstance(r, dict))
            offset += len(records)
            if len(records) < self.page_size:
                return found

    def _keep_rejected(self, rejected: list[Rejected]) -> None:
        self.rejected_store.parent.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.timezone.utc).isoformat()
        with self.rejected_store.open("a", encoding="utf-8") as handle:
            for item in rejected:
                handle.write(json.dumps({"row_number": item.row_number, "raw": jsonable(item.raw),
                                         "record": jsonable(item.record), "errors": item.errors,
                                         "resource_id": self.resource_id, "kept_at": now},
                                        ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def _save_state(self, state: dict[str, Any]) -> None:
        """Replace the state file atomically (a crash leaves the old one or the new one, never half)."""
        self.state_store.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.state_store.with_name(self.state_store.name + ".tmp")
        document = {"url": self.client.site, "resource_id": self.resource_id, "state": state,
                    "saved_at": dt.datetime.now(dt.timezone.utc).isoformat()}
        with temporary.open("w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.state_store)

    def _call(self, name: str, data: dict[str, Any], *, rows: list[int] | None = None,
              unknown_sort: bool = False) -> CkanReply | None:
        """The successful answer, after retrying transient failures; otherwise a :class:`TargetError`."""
        attempt = 0
        while True:
            try:
                reply = self.client.call(name, data)
            except OutboundRefused as exc:
                raise TargetError(f"{name}: {exc}") from None
            except CkanTransportError as exc:
                problem, hint = str(exc), None
            else:
                if reply.ok:
                    return reply
                if unknown_sort and reply.status == 409 and "sort" in reply.error:
                    return None
                if reply.status != 429 and reply.status < 500:
                    raise self._error(name, reply, rows)
                problem, hint = f"HTTP {reply.status} from {reply.url}: {reply.message()}", reply.retry_after
            attempt += 1
            if attempt > self.retries:
                raise TargetError(f"{name} failed: {problem} (still failing after {self.retries} retries); "
                                  "nothing of this batch is recorded as written")
            delay = min(self.max_backoff, max(self.backoff * 2 ** (attempt - 1), hint or 0.0))
            log.warning("%s; retry %d of %d in %.1f s", problem, attempt, self.retries, delay)
            self.sleep(delay)

    def _error(self, name: str, reply: CkanReply, rows: list[int] | None) -> TargetError:
        status, peer = reply.status, reply.message()
        if status in (401, 403):
            if self.client.has_token:
                return TargetError(f"the peer refused the token (HTTP {status} from {reply.url}): {peer}")
            return TargetError(f"the peer needs an API token: none is configured (HTTP {status}): {peer}")
        if status == 404:
            return TargetError(f"resource not found on the peer: {self.resource_id} (HTTP 404 from {reply.url}: {peer})")
        if status == 409:
            fields = reply.field_messages()
            if fields:
                return TargetError(f"the peer refused the {name} (HTTP 409): " + "; ".join(
                    f"{_where(field, rows)}: {' '.join(messages)}" for field, messages in fields.items()))
        return TargetError(f"the peer refused the {name} (HTTP {status} from {reply.url}): {peer}")


def _where(field: str, rows: list[int] | None) -> str:
    """``records.3.petitioner.name`` as ``row 12 petitioner.name`` (row numbers of the run)."""
    match = _RECORD_FIELD.match(field)
    if not match or rows is None or int(match.group(1)) >= len(rows):
        return field
    place = f"row {rows[int(match.group(1))]}"
    return f"{place} {match.group(2)}" if match.group(2) else place
