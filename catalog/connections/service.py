"""Connections: register, change and remove them (sysadmins), list them, and turn a job's reference
to one into the concrete configuration its ``connectors`` source reads with.

A job's ``source_config`` names a ``connection`` and what to read inside it (a ``path`` relative to a
folder, a ``table`` or ``query`` of a database, a relative ``path`` or ``resource_id`` of an HTTP
service); the folder, URL and credentials come only from the connection (:data:`OWNED`). The
catalog's own database, instance folder, storage and key files are never readable (policy.py),
checked when a connection or job is defined and again each time a run starts; file paths are
resolved again by the source when it opens the file (``connectors/sources/_files.py``).
"""
from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import jsonschema
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from connectors.base import SourceError
from connectors.outbound import Policy
from connectors.sources._files import confined, relative_path_problem

from ..auth import rules
from ..auth.models import User
from ..db import utcnow
from ..departments.service import get_department
from ..errors import NotAuthorized, NotFound, ValidationError
from ..sync import secrets
from ..sync.models import SyncJob
from .models import KINDS, Connection
from .policy import Protected

NAME_RE = re.compile(r"^[a-z0-9_-]{2,100}$")

#: the configuration of each kind of connection
KIND_SPECS: dict[str, dict[str, Any]] = {
    "folder": {"type": "object", "required": ["path"], "additionalProperties": False, "properties": {
        "path": {"type": "string", "minLength": 1, "description": "an absolute folder of the server"}}},
    "database": {"type": "object", "required": ["url"], "additionalProperties": False, "properties": {
        "url": {"type": "string", "minLength": 1, "description": "a SQLAlchemy URL"},
        "allow_superuser": {"type": "boolean", "description": "PostgreSQL: accept a superuser login"}}},
    "http": {"type": "object", "required": ["url"], "additionalProperties": False, "properties": {
        "url": {"type": "string", "pattern": "^https?://[^/?#]+", "description": "the base URL"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "token": {"type": "string", "minLength": 1},
        "token_header": {"type": "string", "minLength": 1},
        "token_prefix": {"type": "string"}}},
}
#: the kinds of connection each source reads
SOURCE_KINDS: dict[str, tuple[str, ...]] = {
    "csv": ("folder",), "xlsx": ("folder",), "dcat": ("folder", "http"), "sql": ("database",),
    "http_json": ("http",), "ckan": ("http",),
}
#: source settings only a connection gives; a job that names one is refused
OWNED = ("root", "url", "token", "headers", "token_header", "token_prefix", "allow_superuser")
#: what ``***`` in an update stands for: the stored value, unchanged
KEEP = "***"


# --- reading -----------------------------------------------------------------------------------------


def get_connection(session: Session, id_or_name: str) -> Connection:
    """The connection with this id or name, or :class:`NotFound`."""
    connection = session.scalar(sa.select(Connection).where(
        sa.or_(Connection.id == id_or_name, Connection.name == id_or_name)))
    if connection is None:
        raise NotFound(f"Connection not found: {id_or_name}")
    return connection


def show_connection(session: Session, actor: User | None, id_or_name: str) -> Connection:
    """A connection the actor may see (sysadmins: all; members: those open to their departments)."""
    connection = get_connection(session, id_or_name)
    rules.require(rules.can_see_connection(session, actor, connection),
                  f"Connection {connection.name} is not open to your departments")
    return connection


def list_connections(session: Session, actor: User | None) -> list[Connection]:
    """The connections the actor may see, by name."""
    rules.require(actor is not None, "Log in to see the connections your department's jobs can use")
    return [c for c in session.scalars(sa.select(Connection).order_by(Connection.name))
            if rules.can_see_connection(session, actor, c)]


def clear_config(session: Session, connection: Connection, secret_key: str | None = None) -> dict[str, Any]:
    """A connection's configuration with its credentials in clear (to check or to run a job)."""
    key = session.info["secret_key"] if secret_key is None else secret_key
    return secrets.unseal(connection.config or {}, key, "config")


# --- defining ----------------------------------------------------------------------------------------


def _organization_ids(session: Session, organizations: Any) -> list[str]:
    if not isinstance(organizations, list) or not all(isinstance(o, str) for o in organizations):
        raise ValidationError.single("organizations", "must be a list of department names or ids")
    ids = []
    for index, name in enumerate(organizations):
        try:
            ids.append(get_department(session, name).id)
        except NotFound:
            raise ValidationError.single(f"organizations.{index}", f"no department {name!r}") from None
    return list(dict.fromkeys(ids))


def _check(session: Session, name: Any, kind: Any, config: Any) -> None:
    errors: dict[str, list[str]] = {}
    if not isinstance(name, str) or not NAME_RE.match(name):
        errors["name"] = ["must be 2 to 100 lower-case letters, digits, - or _"]
    if kind not in KINDS:
        errors["kind"] = ["must be one of: " + ", ".join(KINDS)]
        raise ValidationError(errors)
    problems = {f"config.{'.'.join(map(str, e.absolute_path))}".rstrip("."): e.message
                for e in jsonschema.Draft202012Validator(KIND_SPECS[kind]).iter_errors(config)}
    for field, message in problems.items():
        errors.setdefault(field, []).append(message)
    if not problems:
        protected = Protected.from_info(session.info)
        if kind == "folder":
            folder = Path(config["path"])
            if not folder.is_absolute():
                errors["config.path"] = ["must be an absolute folder of the server"]
            elif not folder.is_dir():
                errors["config.path"] = [f"not a folder: {folder}"]
            else:
                problem = protected.path_problem(folder, folder=True)
                if problem:
                    errors["config.path"] = [f"this folder cannot be a source: {problem}"]
        elif kind == "database":
            problem = protected.database_problem(config["url"])
            try:
                make_url(config["url"])
            except (sa.exc.ArgumentError, ValueError) as error:
                errors["config.url"] = [f"not a database URL: {error}"]
            if problem:
                errors["config.url"] = [f"this database cannot be a source: {problem}"]
            elif config["url"].startswith("sqlite") and "file:" in config["url"]:
                errors["config.url"] = ["give a SQLite file as sqlite:///<absolute path>, not a file: URI"]
        elif kind == "http":
            try:
                parts = urlsplit(config["url"])
                parts.port  # noqa: B018 - raises ValueError for a port that is not a number
            except ValueError as error:
                raise ValidationError.single("config.url", f"not a URL: {error}") from None
            refused = (session.info.get("outbound") or Policy()).refusal_for_url(config["url"])
            if parts.query or parts.fragment:
                errors["config.url"] = ["a base URL has no ?query or #fragment: jobs give params"]
            elif refused:  # where the server may send requests (connectors/outbound.py)
                errors["config.url"] = [refused]
    if errors:
        raise ValidationError(errors)


def _sealed(config: dict[str, Any], secret_key: str) -> dict[str, Any]:
    """The config as stored: credentials sealed (every header value counts as one)."""
    config = dict(config)
    if config.get("headers"):
        config["headers"] = {k: secrets.seal({"secret": v}, secret_key)["secret"] for k, v in config["headers"].items()}
    return secrets.seal(config, secret_key)


def create_connection(session: Session, actor: User | None, *, name: str, kind: str, config: dict[str, Any],
                      title: str | None = None, description: str | None = None,
                      organizations: list[str] | None = None) -> Connection:
    """Register a connection (sysadmins only)."""
    rules.require(rules.can_manage_connections(actor), "Only sysadmins register connections")
    _check(session, name, kind, config)
    if session.scalar(sa.select(Connection.id).where(Connection.name == name)):
        raise ValidationError.single("name", f"A connection named {name} exists already")
    connection = Connection(name=name, kind=kind, title=title, description=description,
                            config=_sealed(config, session.info["secret_key"]),
                            organizations=_organization_ids(session, organizations or []),
                            creator_user_id=actor.id if actor else None)
    session.add(connection)
    session.flush()
    return connection


def update_connection(session: Session, actor: User | None, connection: Connection,
                      changes: dict[str, Any]) -> Connection:
    """Change a connection's title, description, departments or configuration (sysadmins only).

    The name and kind stay (jobs name the connection). In ``config``, a value ``***`` keeps the
    stored one, so a configuration read back from ``connection_show`` can be sent again.
    """
    rules.require(rules.can_manage_connections(actor), "Only sysadmins change connections")
    for field in ("name", "kind"):
        if changes.get(field) not in (None, getattr(connection, field)):
            raise ValidationError.single(field, f"a connection's {field} cannot change; create another one")
    if changes.get("config") is not None:
        stored = clear_config(session, connection)
        config = copy.deepcopy(changes["config"])
        if isinstance(config, dict):
            for key, value in list(config.items()):
                if value == KEEP and key in stored:
                    config[key] = stored[key]
                elif isinstance(value, dict) and isinstance(stored.get(key), dict):
                    config[key] = {k: stored[key].get(k, v) if v == KEEP else v for k, v in value.items()}
        _check(session, connection.name, connection.kind, config)
        connection.config = _sealed(config, session.info["secret_key"])
    if changes.get("organizations") is not None:
        connection.organizations = _organization_ids(session, changes["organizations"])
    for field in ("title", "description"):
        if field in changes and changes[field] is not None:
            setattr(connection, field, changes[field])
    connection.modified = utcnow()
    return connection


def jobs_using(session: Session, connection: Connection) -> list[str]:
    """The names of the sync jobs that read this connection."""
    return sorted(name for name, config in session.execute(sa.select(SyncJob.name, SyncJob.source_config))
                  if isinstance(config, dict) and config.get("connection") == connection.name)


def delete_connection(session: Session, actor: User | None, connection: Connection) -> None:
    """Remove a connection no job uses (sysadmins only)."""
    rules.require(rules.can_manage_connections(actor), "Only sysadmins remove connections")
    using = jobs_using(session, connection)
    if using:
        raise ValidationError.single("id", f"connection {connection.name} is used by sync jobs "
                                           f"{', '.join(using)}: change or delete them first")
    session.delete(connection)


# --- resolving a job's source ------------------------------------------------------------------------


def _relative_url_problem(path: str) -> str | None:
    if not isinstance(path, str) or not path:
        return "must be a path relative to the connection's URL"
    decoded = unquote(path)
    if "://" in decoded or decoded.startswith(("/", "\\")) or any(c in decoded for c in "?#\\"):
        return f"{path!r} must be a path relative to the connection's URL (no scheme, leading /, ? or #)"
    if ".." in decoded.split("/"):
        return f"{path!r} climbs out of the connection's URL with '..'"
    return None


def source_config(session: Session, *, source: str, job_config: dict[str, Any], department_id: str,
                  secret_key: str | None = None) -> dict[str, Any]:
    """The concrete ``connectors`` configuration of a job's ``source_config``; ValidationError naming
    the ``source_config`` field at fault, NotAuthorized when the connection is not open to the
    job's department. Call it when the job is defined and again when it runs."""
    if source not in SOURCE_KINDS:  # every source that reads the server's files or network reads a connection
        raise ValidationError.single("source", "must be one of: " + ", ".join(SOURCE_KINDS))
    errors: dict[str, list[str]] = {}
    for key in job_config:
        if key in OWNED:
            errors[f"source_config.{key}"] = [
                f"{key} is set by the connection, not the job: name a connection (connection_list) and "
                "the file, table or resource inside it"]
    name = job_config.get("connection")
    if not isinstance(name, str) or not name:
        errors["source_config.connection"] = [
            "Missing value: name the connection to read (connection_list shows those open to your department)"]
    if errors:
        raise ValidationError(errors)
    try:
        connection = get_connection(session, name)
    except NotFound:
        raise ValidationError.single("source_config.connection", f"no connection named {name!r}") from None
    if not rules.can_use_connection(connection, department_id):
        raise NotAuthorized(f"Connection {connection.name} is not open to this dataset's department")
    if connection.kind not in SOURCE_KINDS[source]:
        raise ValidationError.single("source_config.connection", f"connection {name} is a {connection.kind}; the "
                                     f"{source} source reads a {' or '.join(SOURCE_KINDS[source])} connection")
    place = clear_config(session, connection, secret_key)
    protected = Protected.from_info(session.info)
    inside = {k: v for k, v in job_config.items() if k != "connection"}
    if connection.kind == "folder":
        return _in_folder(place, inside, protected)
    if connection.kind == "database":
        problem = protected.database_problem(place["url"])
        if problem:
            raise ValidationError.single("source_config.connection", f"connection {name} cannot be read: {problem}")
        return {**inside, "url": place["url"], **({"allow_superuser": True} if place.get("allow_superuser") else {})}
    return _over_http(source, place, inside)


def _in_folder(place: dict[str, Any], inside: dict[str, Any], protected: Protected) -> dict[str, Any]:
    path = inside.get("path")
    problem = relative_path_problem(path) if path is not None else "Missing value: the file inside the folder"
    if problem:
        raise ValidationError.single("source_config.path", problem)
    problem = protected.path_problem(place["path"], folder=True)
    if problem is None:
        try:
            problem = protected.path_problem(confined(place["path"], path))
        except SourceError as error:
            problem = str(error)
    if problem:
        raise ValidationError.single("source_config.path", f"{path} cannot be read: {problem}")
    return {**inside, "root": place["path"]}


def _over_http(source: str, place: dict[str, Any], inside: dict[str, Any]) -> dict[str, Any]:
    base = place["url"]
    config = dict(inside)
    path = config.pop("path", None)
    if path is not None:
        if source == "ckan":
            raise ValidationError.single("source_config.path", "the ckan source reads the connection's "
                                                               "catalog: give resource_id")
        problem = _relative_url_problem(path)
        if problem:
            raise ValidationError.single("source_config.path", problem)
    config["url"] = base if not path else base.rstrip("/") + "/" + path
    if place.get("token"):
        config["token"] = place["token"]
    if source == "http_json":
        for key in ("headers", "token_header", "token_prefix"):
            if key in place:
                config[key] = place[key]
    return config
