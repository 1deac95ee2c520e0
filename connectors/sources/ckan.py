"""Another CKAN-compatible catalog's DataStore resource: our own catalog or a real CKAN site.

Two ways of reading (``use_changes``):

* **the change feed** — ``datastore_changes(resource_id, cursor, limit)``, an extension of this
  catalog. Pages of changes in commit order, a :class:`~connectors.base.Checkpoint`
  ``{"cursor": next_cursor}`` after each page, so ``mode: incremental`` reads only what changed
  since the last run. Every key appears once, at its latest change, so a read from no cursor is a
  full read of the live records. Tombstones (``_deleted: true``) are *not* yielded: the engine has
  no way to apply a deletion (see :meth:`CkanSource.read`); with ``mode: full_refresh`` and
  ``write: mirror`` the records deleted on the peer are removed by the mirror step instead.
  Row numbers are the peer's change numbers (``_seq``), so a quarantined row names the change.
* **datastore_search** — CKAN's own paging (``offset``/``limit``), sorted by ``_id`` on real CKAN
  and by primary key on this catalog (which has no ``_id``: when the peer refuses ``sort=_id`` the
  read goes on without a sort). Every read is a **full read**: the state ``{"offset": n}`` lets an
  interrupted read resume, and a complete read ends with ``{"offset": 0}`` so that the next run
  (incremental too) reads everything again. Row numbers are positions in the read (1-based).

``use_changes: auto`` (the default) asks ``datastore_changes`` for one change first; a peer that
answers HTTP 400 "Action name not known" (CKAN itself) is read with ``datastore_search``.

``_seq``, ``_key``, ``_deleted`` and ``_id`` are removed from the records. The peer's share rules
apply: the records are those the token's account may read, masked as the peer masks them.

Errors: timeouts, dropped connections, HTTP 429 and 5xx are :class:`TransientSourceError` (the
engine retries; ``Retry-After`` is honoured); 401/403 say that the token is missing or refused,
with the peer's own message; 404 says the resource is not on the peer; anything else quotes the
peer. The token travels in the ``Authorization`` header (CKAN style) and never in messages.
Requests keep to the source's :attr:`~CkanSource.outbound` policy (:mod:`connectors.outbound`; default:
public addresses only): a peer at a refused address is a :class:`SourceError`, not retried.

:class:`CkanClient` (one action call, its answer and the peer's message) is shared with the
``ckan`` target (:mod:`connectors.targets.ckan`).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any, Iterator

import requests

from ..base import Checkpoint, Deletion, Row, Source, SourceError, Stream, TransientSourceError
from ..outbound import OutboundRefused, Policy

__all__ = ["CkanClient", "CkanReply", "CkanSource", "CkanTransportError", "INTERNAL_FIELDS", "strip_internal"]

log = logging.getLogger(__name__)

#: the fields a peer adds to its records (change feed, CKAN's row id); never copied
INTERNAL_FIELDS = ("_seq", "_key", "_deleted", "_id")
#: the largest page this catalog's datastore_changes serves
MAX_PAGE = 10000
_API_SUFFIX = re.compile(r"/api(?:/3)?(?:/action)?/*$")


def strip_internal(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the peer's bookkeeping fields (:data:`INTERNAL_FIELDS`)."""
    return {k: v for k, v in record.items() if k not in INTERNAL_FIELDS}


# --- one action call -----------------------------------------------------------------------------


class CkanTransportError(Exception):
    """No HTTP answer: a timeout (``timed_out``) or a connection problem; the message says which."""

    def __init__(self, message: str, *, timed_out: bool = False):
        super().__init__(message)
        self.timed_out = timed_out


@dataclass
class CkanReply:
    """One HTTP answer of the Action API: status, decoded envelope (``None`` when not JSON), where."""

    status: int
    body: Any
    url: str
    text: str
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        """HTTP 200 with ``success: true``."""
        return self.status == 200 and isinstance(self.body, dict) and self.body.get("success") is True

    @property
    def result(self) -> Any:
        """The envelope's ``result``."""
        return self.body.get("result") if isinstance(self.body, dict) else None

    @property
    def error(self) -> dict[str, Any]:
        """The envelope's ``error`` object (``{}`` when there is none)."""
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return error if isinstance(error, dict) else {}

    def field_messages(self) -> dict[str, list[str]]:
        """A validation error's ``{field: [messages]}`` (``message`` and ``__type`` left out)."""
        messages: dict[str, list[str]] = {}
        for name, value in self.error.items():
            if name in ("__type", "message"):
                continue
            values = value if isinstance(value, list) else [value]
            messages[name] = [v if isinstance(v, str) else json.dumps(v, ensure_ascii=False) for v in values]
        return messages

    def message(self) -> str:
        """The peer's own words: the error's message, else its field messages, else the body's start."""
        error = self.error
        text = error.get("message")
        if isinstance(text, str) and text.strip():
            return text.strip()
        fields = self.field_messages()
        if fields:
            return "; ".join(f"{name}: {' '.join(msgs)}" for name, msgs in fields.items())
        snippet = " ".join(self.text.split())[:200]
        return snippet or f"HTTP {self.status} without a body"


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None  # an HTTP date: the caller's backoff will do


class CkanClient:
    """Calls a CKAN-compatible Action API (``<url>/api/3/action/<name>``) with POSTed JSON.

    ``url`` is the site (``https://data.example.gov.cn``); a URL that already ends in ``/api/3/action``
    works too. ``token`` goes in the ``Authorization`` header, as CKAN expects it. Requests keep to
    ``outbound`` (default: public addresses only); a refused address raises
    :class:`~connectors.outbound.OutboundRefused` from :meth:`call`.
    """

    #: the policy of clients given none (public addresses only)
    outbound: Policy = Policy()

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 30,
                 session: requests.Session | None = None, outbound: Policy | None = None):
        self.site = _API_SUFFIX.sub("", url.rstrip("/"))
        self.timeout = timeout
        self.session = session or (outbound or self.outbound).session()
        self.session.headers.update({"Accept": "application/json", "User-Agent": "catalog-connectors/ckan"})
        if token:
            self.session.headers["Authorization"] = token
        self.has_token = bool(token)

    def action_url(self, name: str) -> str:
        """The URL of action ``name``."""
        return f"{self.site}/api/3/action/{name}"

    def call(self, name: str, data: dict[str, Any]) -> CkanReply:
        """POST ``data`` to action ``name``; raise :class:`CkanTransportError` when nothing answered
        (:class:`~connectors.outbound.OutboundRefused` when the policy refused the address)."""
        url = self.action_url(name)
        try:
            response = self.session.post(url, json=data, timeout=self.timeout)
        except OutboundRefused:
            raise
        except requests.Timeout as exc:
            raise CkanTransportError(f"{url}: no answer within {self.timeout} s", timed_out=True) from exc
        except requests.ConnectionError as exc:
            raise CkanTransportError(f"{url}: cannot connect ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise CkanTransportError(f"{url}: request failed: {exc}") from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        return CkanReply(response.status_code, body, url, response.text if body is None else "",
                         _retry_after(response))

    def close(self) -> None:
        """Release the connection pool."""
        self.session.close()


# --- the source ----------------------------------------------------------------------------------


class CkanSource(Source):
    """One DataStore resource of a CKAN-compatible peer; one stream named after the resource id."""

    name = "ckan"
    #: where this source may send requests (the catalog sets its own, with the operator's allowlist)
    outbound: Policy = Policy()

    def spec(self) -> dict[str, Any]:
        """url, resource_id, token, page_size, use_changes, timeout."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["url", "resource_id"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "pattern": "^https?://",
                        "description": "the peer catalog's site, e.g. https://data.example.gov.cn"},
                "resource_id": {"type": "string", "minLength": 1,
                                "description": "the peer's DataStore resource"},
                "token": {"type": "string", "minLength": 1,
                          "description": "an API token of the peer, sent as Authorization"},
                "page_size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1000},
                "use_changes": {"enum": ["auto", True, False], "default": "auto",
                                "description": "read datastore_changes (true), datastore_search (false), "
                                               "or the change feed when the peer has one (auto)"},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 30},
            },
        }

    def check(self, config: dict[str, Any]) -> None:
        """The schema, and a URL whose host is an address the :attr:`outbound` policy refuses."""
        super().check(config)
        problem = self.outbound.refusal_for_url(config["url"])
        if problem:
            raise SourceError(f"url: {problem}")

    # --- discover ------------------------------------------------------------------------------

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """One stream named after the resource: fields and primary key from ``datastore_info``
        (CKAN without it: the fields of an empty ``datastore_search``)."""
        client = self._client(config)
        try:
            resource_id = config["resource_id"]
            reply = self._call(client, config, "datastore_info", {"id": resource_id}, fallible=True)
            if reply is not None:
                info = reply.result or {}
                return [Stream(name=resource_id, fields=_field_names(info),
                               primary_key=_primary_key(info))]
            result = self._call(client, config, "datastore_search",
                                {"resource_id": resource_id, "limit": 0}).result or {}
            return [Stream(name=resource_id, fields=_field_names(result))]
        finally:
            client.close()

    # --- read ----------------------------------------------------------------------------------

    def read(self, config: dict[str, Any], stream: Stream | None,
             state: dict[str, Any] | None) -> Iterator[Row | Deletion | Checkpoint]:
        """The peer's records after ``state``, through the change feed or datastore_search.

        The change feed's tombstones (``_deleted: true`` with the key fields) are yielded as
        :class:`Deletion` values, so an incremental run removes what the peer deleted. A
        datastore_search read sees no deletions: use ``write: mirror`` with it.
        """
        client = self._client(config)
        state = state or {}
        try:
            if self._uses_changes(client, config):
                if state and "cursor" not in state:
                    log.warning("the saved state %s is not a change-feed cursor; reading the feed from "
                                "the start", state)
                yield from self._changes(client, config, state.get("cursor"))
            else:
                if state and "offset" not in state:
                    log.warning("the saved state %s is not a datastore_search offset; reading from "
                                "the start", state)
                yield from self._search(client, config, int(state.get("offset") or 0))
        finally:
            client.close()

    def _uses_changes(self, client: CkanClient, config: dict[str, Any]) -> bool:
        choice = config.get("use_changes", "auto")
        if choice is not True and choice is not False:
            reply = self._call(client, config, "datastore_changes",
                               {"resource_id": config["resource_id"], "limit": 1}, fallible=True)
            choice = reply is not None
            log.info("the peer %s datastore_changes: reading %s", "offers" if choice else "does not offer",
                     "the change feed" if choice else "with datastore_search (a full read)")
        return bool(choice)

    def _changes(self, client: CkanClient, config: dict[str, Any],
                 cursor: str | None) -> Iterator[Row | Deletion | Checkpoint]:
        size = config.get("page_size", 1000)
        while True:
            params: dict[str, Any] = {"resource_id": config["resource_id"], "limit": size}
            if cursor:
                params["cursor"] = cursor
            reply = self._call(client, config, "datastore_changes", params, stale_cursor=bool(cursor))
            if reply is None:
                # the peer's table was deleted and created again: its changes are numbered anew
                log.warning("the peer no longer knows the saved cursor (its DataStore table was created "
                            "again): reading its change feed from the start")
                cursor = None
                yield Checkpoint({"cursor": None})
                continue
            result = reply.result
            changes = result.get("changes") if isinstance(result, dict) else None
            if not isinstance(changes, list) or not all(isinstance(c, dict) for c in changes):
                raise SourceError(f"{client.action_url('datastore_changes')}: the answer has no list of changes")
            for number, change in enumerate(changes, start=1):
                seq = change.get("_seq")
                item = Deletion if change.get("_deleted") is True else Row
                yield item(strip_internal(change), seq if isinstance(seq, int) else number)
            following = result.get("next_cursor") or cursor
            yield Checkpoint({"cursor": following})
            if not result.get("has_more") or not changes or following == cursor:
                break
            cursor = following

    def _search(self, client: CkanClient, config: dict[str, Any], offset: int) -> Iterator[Row | Checkpoint]:
        size = config.get("page_size", 1000)
        sort: str | None = "_id"  # real CKAN: its row id keeps pages stable
        while True:
            params: dict[str, Any] = {"resource_id": config["resource_id"], "limit": size, "offset": offset,
                                      "include_total": False}
            if sort:
                params["sort"] = sort
            reply = self._call(client, config, "datastore_search", params, unknown_sort=sort is not None)
            if reply is None:  # the peer has no _id (this catalog): it sorts by primary key by default
                sort = None
                continue
            records = reply.result.get("records") if isinstance(reply.result, dict) else None
            if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
                raise SourceError(f"{reply.url}: the answer has no list of records (records_format objects)")
            for number, record in enumerate(records, start=offset + 1):
                yield Row(strip_internal(record), number)
            offset += len(records)
            if len(records) < size:
                # complete: the next run reads everything again (datastore_search is a full read)
                yield Checkpoint({"offset": 0})
                return
            yield Checkpoint({"offset": offset})

    # --- calls and their errors ----------------------------------------------------------------

    def _client(self, config: dict[str, Any]) -> CkanClient:
        return CkanClient(config["url"], config.get("token"), timeout=config.get("timeout", 30),
                          outbound=self.outbound)

    def _call(self, client: CkanClient, config: dict[str, Any], name: str, data: dict[str, Any], *,
              fallible: bool = False, unknown_sort: bool = False,
              stale_cursor: bool = False) -> CkanReply | None:
        """The successful answer of one call, or the error the module docstring lists.

        ``fallible``: ``None`` when the peer does not know the action (HTTP 400). ``unknown_sort``:
        ``None`` when the peer refuses the sort field (HTTP 409 naming ``sort``). ``stale_cursor``:
        ``None`` when the peer refuses the cursor as one of an earlier table (HTTP 409 naming ``cursor``).
        """
        try:
            reply = client.call(name, data)
        except OutboundRefused as exc:
            raise SourceError(f"{client.action_url(name)}: {exc}") from None
        except CkanTransportError as exc:
            raise TransientSourceError(str(exc)) from exc
        if reply.ok:
            return reply
        status, peer = reply.status, reply.message()
        if status == 429 or status >= 500:
            raise TransientSourceError(f"HTTP {status} from {reply.url}: {peer}", retry_after=reply.retry_after)
        if status in (401, 403):
            if client.has_token:
                raise SourceError(f"the peer refused the token (HTTP {status} from {reply.url}): {peer}")
            raise SourceError(f"the peer needs an API token: no token is configured "
                              f"(HTTP {status} from {reply.url}): {peer}")
        if status == 404:
            raise SourceError(f"resource not found on the peer: {config['resource_id']} "
                              f"(HTTP 404 from {reply.url}: {peer})")
        if fallible and status == 400:
            log.info("%s: HTTP 400: %s", reply.url, peer)
            return None
        if unknown_sort and status == 409 and "sort" in reply.error:
            return None
        if stale_cursor and status == 409 and "earlier DataStore table" in json.dumps(
                reply.error.get("cursor"), ensure_ascii=False):
            return None
        if status == 400 and "action name not known" in peer.lower():
            raise SourceError(f"the peer does not offer {name} ({reply.url}: {peer}); "
                              "set use_changes to false or auto")
        if reply.body is None:
            raise SourceError(f"{reply.url} did not answer JSON (HTTP {status}): {peer}")
        raise SourceError(f"the peer refused {name} (HTTP {status} from {reply.url}): {peer}")


def _field_names(info: dict[str, Any]) -> list[str]:
    """Field names of a datastore_info / datastore_search answer, without ``_id`` and the like."""
    fields = info.get("fields")
    if isinstance(fields, list):
        names = [f.get("id") for f in fields if isinstance(f, dict)]
    elif isinstance(info.get("schema"), dict):  # CKAN before 2.10: {"schema": {name: type}}
        names = list(info["schema"])
    else:
        names = []
    return [n for n in names if isinstance(n, str) and n not in INTERNAL_FIELDS and n != "_full_text"]


def _primary_key(info: dict[str, Any]) -> list[str]:
    """The primary key this catalog's datastore_info states (real CKAN states none)."""
    key = info.get("primary_key")
    if isinstance(key, str):
        return [key]
    if isinstance(key, list) and all(isinstance(k, str) for k in key):
        return list(key)
    return []
