"""The CKAN Action API endpoint: parse the request, authenticate, run the action, wrap the result.

This module is the only place that maps domain errors to HTTP status codes and CKAN's envelope.
"""
from __future__ import annotations

import json
import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from marshmallow import Schema, ValidationError as SchemaValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..auth import rules
from ..auth.service import authenticate_headers
from ..db import get_session
from ..errors import (OUTAGES, BadRequest, CatalogError, Conflict, NotAuthorized, NotFound, Unavailable,
                      ValidationError, unavailable)
from ..messages import translate, translate_errors
from .openapi import build_spec
from .registry import ACTIONS, ActionContext

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)

_ERROR_TYPES = {
    ValidationError: (409, "Validation Error"),
    NotAuthorized: (403, "Authorization Error"),
    NotFound: (404, "Not Found Error"),
    BadRequest: (400, "Bad Request"),
    Unavailable: (503, "Service Unavailable"),
}


def _help_url(name: str) -> str:
    """The help link in the called path's version, as CKAN gives it (``/api/3/action/…`` under ``/api/3/``)."""
    version = "3/" if request.path.startswith("/api/3/") else ""
    return f"{request.url_root}api/{version}action/help_show?name={name}"


def envelope_error(name: str, error: CatalogError, status: int | None = None) -> Response:
    """CKAN's error envelope for a domain error: stable English ``__type`` and field names, messages in the
    request's language (Accept-Language; English when it names none)."""
    for cls, (code, label) in _ERROR_TYPES.items():
        if isinstance(error, cls):
            break
    else:  # pragma: no cover - every CatalogError subclass is listed
        code, label = 400, "Bad Request"
    body: dict[str, Any] = {"__type": label}
    if isinstance(error, ValidationError):
        body.update(translate_errors(error.errors))
    else:
        body["message"] = translate(error.message)
    response = jsonify({"help": _help_url(name), "success": False, "error": body})
    response.status_code = status or code
    if isinstance(error, Unavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def outage_response(name: str, error: Unavailable) -> Response:
    """A dependency is down: one log line per outage (not a traceback per request), and a 503 envelope."""
    OUTAGES.failed(error.dependency, error.cause, log)
    return envelope_error(name, error)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Marshmallow's nested error dict as CKAN-style ``{"field.0.sub": [messages]}``."""
    flat: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            flat.update(_flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        flat[prefix or "__root__"] = list(messages)
    else:
        flat[prefix or "__root__"] = [str(messages)]
    return flat


def _depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests deeper than ``limit`` levels (checked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((v, level + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, level + 1) for v in item)
    return False


#: Characters no text column takes: NUL (PostgreSQL text cannot store it) and the UTF-16 surrogates, which a
#: JSON body can smuggle in as a lone ``\ud800`` escape and which no UTF-8 encoder (driver, RE2, file) accepts.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _unstorable_path(value: Any, path: str = "") -> tuple[str, str] | None:
    """The path of the first key or string holding a character no database stores, and what is wrong."""
    stack = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if (found := _UNSTORABLE.search(item)) is not None:
                return where or "__root__", _unstorable_message(found.group())
        elif isinstance(item, dict):
            for key, sub in item.items():
                if isinstance(key, str) and (found := _UNSTORABLE.search(key)) is not None:
                    return where or "__root__", "a key " + _unstorable_message(found.group())
                stack.append((sub, f"{where}.{key}" if where else str(key)))
        elif isinstance(item, list):
            stack.extend((sub, f"{where}.{i}" if where else str(i)) for i, sub in enumerate(item))
    return None


def _unstorable_message(char: str) -> str:
    if char == "\x00":
        return "must not contain the NUL character (\\u0000)"
    return (f"must not contain a lone surrogate (\\u{ord(char):04x}): text must be valid Unicode, "
            "a surrogate only comes in a pair that encodes one character")


#: one instance of each action's parameter schema: a load keeps no state on the instance, and making one
#: cost more than the load itself (0.32 against 0.08 ms for datastore_search's on the loaded machine)
_PARAMS: dict[type[Schema], Schema] = {}


def _params_schema(params: type[Schema]) -> Schema:
    schema = _PARAMS.get(params)
    if schema is None:
        schema = _PARAMS[params] = params()
    return schema


def _request_data() -> dict[str, Any]:
    """The action's input: query parameters (GET), a JSON body, or a form with files (POST)."""
    if request.method == "GET":
        return {k: (v[0] if len(v) == 1 else v) for k, v in request.args.to_dict(flat=False).items()}
    if request.mimetype in ("multipart/form-data", "application/x-www-form-urlencoded"):
        data = {k: (v[0] if len(v) == 1 else v) for k, v in request.form.to_dict(flat=False).items()}
        return data
    limit = current_app.config["MAX_JSON_BYTES"]
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    raw = request.get_data(cache=False)
    if len(raw) > limit:
        raise RequestEntityTooLarge()
    if not raw.strip():
        return {}
    depth = current_app.config["MAX_JSON_DEPTH"]
    try:
        data = json.loads(raw)
    except RecursionError:
        raise BadRequest(f"The request body nests deeper than {depth} levels") from None
    except ValueError as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}"[:300]) from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object of parameters")
    if _depth(data, depth):
        raise BadRequest(f"The request body nests deeper than {depth} levels")
    return data


@bp.route("/api/3/action/<name>", methods=["GET", "POST"])
@bp.route("/api/action/<name>", methods=["GET", "POST"])
def call_action(name: str) -> Response:
    """Run one action and answer with CKAN's envelope."""
    spec = ACTIONS.get(name)
    if spec is None:
        return envelope_error(name, BadRequest(f"Action name not known: {name}"))
    if request.method == "GET" and not spec.read_only:
        response = envelope_error(name, BadRequest(f"{name} changes data: call it with POST"), 405)
        response.headers["Allow"] = "POST"
        return response
    session = get_session()
    try:
        data = _request_data()
        unstorable = _unstorable_path(data)
        if unstorable is not None:
            raise ValidationError.single(*unstorable)
        actor, token = authenticate_headers(session, request.headers)
        rules.require(rules.can_use_token_for(token, read_only=spec.read_only),
                      "This API token is read-only; use a token with write scope")
        if spec.params is not None:
            try:
                data = _params_schema(spec.params).load(data)
            except SchemaValidationError as error:
                raise ValidationError(_flatten(error.messages)) from None
        ctx = ActionContext(session=session, actor=actor, token=token, config=current_app.config,
                            files=dict(request.files) if request.files else {})
        result = spec.func(ctx, data)
        session.commit()
    except Unavailable as error:
        _quiet_rollback(session)
        return outage_response(name, error)
    except CatalogError as error:
        session.rollback()
        return envelope_error(name, error)
    except StaleDataError:
        session.rollback()
        return envelope_error(name, Conflict.single(
            "revision", "The object was changed by someone else at the same time; reload and retry"))
    except IntegrityError as error:
        session.rollback()
        log.info("integrity error in %s: %s", name, error.orig)
        return envelope_error(name, Conflict.single(
            "__root__", "The change clashes with existing data (a name or code already in use?)"))
    except RequestEntityTooLarge:
        session.rollback()
        return envelope_error(name, BadRequest("The request body is larger than the limit"), 413)
    except HTTPException as error:
        session.rollback()
        return envelope_error(name, BadRequest(error.description or error.name), error.code or 400)
    except Exception as error:
        down = unavailable(error)
        if down is None:
            raise
        _quiet_rollback(session)
        return outage_response(name, down)
    if not g.get("dependency_down"):  # status_show answers 200 while reporting an outage
        OUTAGES.answered("database", log)
    return jsonify({"help": _help_url(name), "success": True, "result": result})


def _quiet_rollback(session) -> None:
    """Roll back a session whose connection may be gone (the rollback itself then fails too)."""
    try:
        session.rollback()
    except Exception:  # noqa: BLE001 - the dependency is down; the 503 says so
        session.invalidate()


@bp.route("/api/3")
@bp.route("/api")
def api_version() -> Response:
    """The API version, as CKAN answers it."""
    return jsonify({"version": 3})


@bp.route("/api/3/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3 description of every action."""
    return jsonify(build_spec(current_app))


@bp.app_errorhandler(413)
def too_large(_error) -> Response:
    """Bodies over the size limit get the envelope too (Werkzeug raises before the view runs)."""
    name = (request.view_args or {}).get("name", "")
    return envelope_error(name, BadRequest("The request body is larger than the limit"), 413)


@bp.errorhandler(Exception)
def unexpected(error: Exception) -> Response:
    """A bug: log the traceback, answer with the envelope and no internals."""
    if isinstance(error, HTTPException):
        return envelope_error("", BadRequest(error.description or error.name), error.code or 400)
    down = unavailable(error)
    if down is not None:
        return outage_response((request.view_args or {}).get("name", ""), down)
    log.exception("unexpected error in the action API")
    message = translate("An unexpected error occurred; it has been logged")
    response = jsonify({"success": False, "error": {"__type": "Internal Server Error", "message": message}})
    response.status_code = 500
    return response
