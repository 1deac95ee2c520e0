"""A paginated JSON API: records at a configured path of each response, page after page.

Pagination styles (``pagination.style``):

* ``none``   — one request;
* ``page``   — ``?page=1&page_size=100``, then 2, 3… until a page holds fewer than ``page_size``
  records; state ``{"page": n}`` is the next page to read (after a partial last page, that page
  itself, so records appended to it are read next time);
* ``offset`` — ``?offset=0&limit=100``…; state ``{"offset": n}``, the number of records consumed;
* ``cursor`` — ``?cursor=<token>`` with the next token at ``next_cursor_path`` of the response;
  it ends when the token is missing, repeats, or a page is empty; state ``{"cursor": token}``.

A checkpoint follows every page. Timeouts, connection errors, HTTP 429 and 5xx are
:class:`TransientSourceError` (the engine retries; ``Retry-After`` is honoured); any other 4xx,
a body that is not JSON or records missing at the path are :class:`SourceError`. The token is sent
in ``token_header`` (default ``Authorization``, CKAN style: the bare token; set ``token_prefix``
to ``"Bearer "`` for OAuth-style APIs) and never appears in messages.

Requests go through the source's :attr:`~HttpJsonSource.outbound` policy (:mod:`connectors.outbound`;
default: public addresses only): a URL or a redirect to a refused address is a :class:`SourceError`.
"""
from __future__ import annotations

import logging
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests

from ..base import Checkpoint, Row, Source, SourceError, Stream, TransientSourceError
from ..outbound import OutboundRefused, Policy

__all__ = ["HttpJsonSource", "at_path"]

log = logging.getLogger(__name__)

_SECRET_WORDS = ("token", "key", "secret", "password", "signature")


def at_path(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` of a JSON document (``""``: the document); KeyError if absent."""
    node = document
    for part in filter(None, path.split(".")):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(path)
    return node


def _safe(url: str) -> str:
    """The URL with secret-looking query values masked, for messages."""
    parts = urlsplit(url)
    query = [(k, "***" if any(w in k.lower() for w in _SECRET_WORDS) else v) for k, v in parse_qsl(parts.query)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _retry_after(response: requests.Response) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "")))
    except ValueError:
        return None  # an HTTP date: the engine's backoff will do


class HttpJsonSource(Source):
    """A JSON API over HTTP(S); one stream named by the config (default "records")."""

    name = "http_json"
    #: where this source may send requests (the catalog sets its own, with the operator's allowlist)
    outbound: Policy = Policy()

    def spec(self) -> dict[str, Any]:
        """url, params, headers, token, records_path, pagination, timeout, max_pages."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["url"],
            "additionalProperties": False,
            "properties": {
                "url": {"type": "string", "pattern": "^https?://"},
                "stream": {"type": "string", "minLength": 1, "default": "records"},
                "params": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]}},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "token": {"type": "string"},
                "token_header": {"type": "string", "minLength": 1, "default": "Authorization"},
                "token_prefix": {"type": "string", "default": ""},
                "records_path": {"type": "string", "default": "",
                                 "description": "dotted path of the record list, e.g. result.records"},
                "timeout": {"type": "number", "exclusiveMinimum": 0, "default": 30},
                "max_pages": {"type": "integer", "minimum": 1, "default": 100000},
                "primary_key": {"type": "array", "items": {"type": "string"}},
                "pagination": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "style": {"enum": ["none", "page", "offset", "cursor"], "default": "none"},
                        "page_size": {"type": "integer", "minimum": 1, "default": 100},
                        "page_param": {"type": "string", "default": "page"},
                        "size_param": {"type": "string", "default": "page_size"},
                        "first_page": {"type": "integer", "minimum": 0, "default": 1},
                        "offset_param": {"type": "string", "default": "offset"},
                        "limit_param": {"type": "string", "default": "limit"},
                        "cursor_param": {"type": "string", "default": "cursor"},
                        "next_cursor_path": {"type": "string", "default": "next"},
                    },
                },
            },
        }

    def check(self, config: dict[str, Any]) -> None:
        """The schema, and a URL whose host is an address the :attr:`outbound` policy refuses."""
        super().check(config)
        problem = self.outbound.refusal_for_url(config["url"])
        if problem:
            raise SourceError(f"url: {problem}")

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """One stream; its fields are the keys of the first record of the first page."""
        first = next((item for item in self.read(config, None, None) if isinstance(item, Row)), None)
        return [Stream(name=config.get("stream", "records"), fields=list(first.data) if first else [],
                       primary_key=list(config.get("primary_key", [])))]

    def read(self, config: dict[str, Any], stream: Stream | None,
             state: dict[str, Any] | None) -> Iterator[Row | Checkpoint]:
        """The records of every page from ``state`` on, a checkpoint after each page."""
        paging = {"style": "none", "page_size": 100, "page_param": "page", "size_param": "page_size",
                  "first_page": 1, "offset_param": "offset", "limit_param": "limit",
                  "cursor_param": "cursor", "next_cursor_path": "next", **config.get("pagination", {})}
        state = state or {}
        session = self.outbound.session()
        session.headers.update({"Accept": "application/json", **config.get("headers", {})})
        if config.get("token"):
            session.headers[config.get("token_header", "Authorization")] = \
                config.get("token_prefix", "") + config["token"]
        try:
            yield from getattr(self, f"_{paging['style']}")(session, config, paging, state)
        finally:
            session.close()

    # --- the pagination styles ---------------------------------------------------------------

    def _none(self, session, config, paging, state) -> Iterator[Row | Checkpoint]:
        records, _body = self._fetch(session, config, {})
        yield from (Row(data, number) for number, data in enumerate(records, start=1))

    def _page(self, session, config, paging, state) -> Iterator[Row | Checkpoint]:
        size, first = paging["page_size"], paging["first_page"]
        page = int(state.get("page", first))
        for _ in self._page_budget(config):
            records, _body = self._fetch(session, config, {paging["page_param"]: page, paging["size_param"]: size})
            start = (page - first) * size
            yield from (Row(data, start + i) for i, data in enumerate(records, start=1))
            full = len(records) >= size
            yield Checkpoint({"page": page + 1 if full else page})
            if not full:
                return
            page += 1

    def _offset(self, session, config, paging, state) -> Iterator[Row | Checkpoint]:
        size, offset = paging["page_size"], int(state.get("offset", 0))
        for _ in self._page_budget(config):
            records, _body = self._fetch(session, config, {paging["offset_param"]: offset,
                                                           paging["limit_param"]: size})
            yield from (Row(data, offset + i) for i, data in enumerate(records, start=1))
            offset += len(records)
            yield Checkpoint({"offset": offset})
            if len(records) < size:
                return

    def _cursor(self, session, config, paging, state) -> Iterator[Row | Checkpoint]:
        token, number = state.get("cursor"), 0
        for _ in self._page_budget(config):
            params = {paging["cursor_param"]: token} if token not in (None, "") else {}
            records, body = self._fetch(session, config, params)
            for data in records:
                number += 1
                yield Row(data, number)
            try:
                following = at_path(body, paging["next_cursor_path"])
            except KeyError:
                following = None
            if following in (None, "") or following == token or not records:
                yield Checkpoint({"cursor": token if following in (None, "") else following})
                return
            token = following
            yield Checkpoint({"cursor": token})

    def _page_budget(self, config: dict[str, Any]) -> "_Budget":
        return _Budget(config.get("max_pages", 100000))

    # --- one request -------------------------------------------------------------------------

    def _fetch(self, session: requests.Session, config: dict[str, Any],
               paging: dict[str, Any]) -> tuple[list[dict[str, Any]], Any]:
        """(records, body) of one page; raises the errors the module docstring lists."""
        url, timeout = config["url"], config.get("timeout", 30)
        params = {**config.get("params", {}), **paging}
        try:
            response = session.get(url, params=params, timeout=timeout)
        except OutboundRefused as exc:
            raise SourceError(f"{_safe(url)}: {exc}") from None
        except requests.Timeout as exc:
            raise TransientSourceError(f"{_safe(url)}: no answer within {timeout} s") from exc
        except requests.ConnectionError as exc:
            raise TransientSourceError(f"{_safe(url)}: cannot connect ({type(exc).__name__})") from exc
        except requests.RequestException as exc:
            raise SourceError(f"{_safe(url)}: request failed: {exc}") from exc
        where = _safe(response.url)
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSourceError(f"HTTP {response.status_code} from {where}",
                                       retry_after=_retry_after(response))
        if response.status_code in (401, 403):
            raise SourceError(f"HTTP {response.status_code} from {where}: the API refused the request; "
                              "check the token and its rights")
        if response.status_code >= 400:
            raise SourceError(f"HTTP {response.status_code} from {where}: {response.text.strip()[:200]}")
        try:
            body = response.json()
        except ValueError:
            raise SourceError(f"{where} did not answer JSON (Content-Type "
                              f"{response.headers.get('Content-Type', 'unknown')})") from None
        path = config.get("records_path", "")
        try:
            records = at_path(body, path)
        except KeyError:
            raise SourceError(f"{where}: the response has no {path!r} (records_path)") from None
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            raise SourceError(f"{where}: {path or 'the response'} is not a list of JSON objects")
        return records, body


class _Budget:
    """range(max_pages) that fails instead of silently stopping when pages keep coming."""

    def __init__(self, limit: int):
        self.limit = limit

    def __iter__(self) -> Iterator[int]:
        yield from range(self.limit)
        raise SourceError(f"more than {self.limit} pages: check the pagination settings (max_pages)")
