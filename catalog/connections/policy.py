"""What can never be a sync source: the catalog's own database, its instance folder, storage and key files.

The places come from the app's settings (``catalog.db.Database.protected``: ``DATABASE_URL``,
the instance folder, ``STORAGE_PATH`` and every ``*_FILE`` setting) and are compared by real path,
symbolic links resolved, both when a connection or job is defined and when a run opens the source.
"""
from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url

_LOOPBACK = {"", "localhost", "127.0.0.1", "::1", "0.0.0.0"}
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "mariadb": 3306}


def _real(path: str | os.PathLike) -> Path:
    return Path(os.path.realpath(os.path.expanduser(str(path))))


def _addresses(host: str) -> frozenset[str]:
    """The addresses a database host name stands for; every loopback address and socket path as one."""
    if not host or host.startswith("/") or host in _LOOPBACK:
        return frozenset({"loopback"})
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, None)}
    except (OSError, UnicodeError, ValueError):
        return frozenset({host.lower()})
    return frozenset("loopback" if ipaddress.ip_address(a.split("%")[0]).is_loopback else a for a in found)


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def _within(path: Path, place: Path) -> bool:
    return path == place or place in path.parents


def sqlite_file(url: str | sa.URL) -> Path | None:
    """The real path of a SQLite URL's file (None for other databases and in-memory ones)."""
    parsed = make_url(url) if isinstance(url, str) else url
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    database = parsed.database
    if database.startswith("file:"):
        database = database[len("file:"):].split("?", 1)[0]
    return _real(database)


@dataclass(frozen=True)
class Protected:
    """The catalog's own places; :meth:`path_problem` and :meth:`database_problem` say why one is refused."""

    database_url: str | None
    paths: tuple[Path, ...]
    #: the SQLite database file, if the catalog's database is one
    database_file: Path | None = None

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> "Protected":
        """The places carried by a session's ``info`` (or a :class:`catalog.db.Database`'s ``protected``)."""
        protected = info.get("protected") or {}
        url = protected.get("database_url")
        paths = [_real(p) for p in protected.get("paths") or [] if isinstance(p, str) and p]
        own = sqlite_file(url) if url else None
        if own is not None:
            paths.append(own)
        return cls(database_url=url, paths=tuple(paths), database_file=own)

    def path_problem(self, path: str | os.PathLike, *, folder: bool = False) -> str | None:
        """Why ``path`` (a file read, or with ``folder`` a connection's folder) must not be a source."""
        real = _real(path)
        own = self.database_file
        # the database file's journals (-wal, -shm, -journal) are the database too
        journal = own is not None and real.parent == own.parent and real.name.startswith(own.name + "-")
        for place in self.paths:
            if journal or _within(real, place):  # (the database file itself is one of the paths)
                return "it is one of the catalog's own files (database, instance folder, storage or keys)"
            if folder and _within(place, real):
                return "it contains the catalog's own files (database, instance folder, storage or keys)"
        if not folder and real.is_file() and _identity(real) in self._key_files():
            return "it is a hard link to one of the catalog's own files (database or keys)"
        return None

    def _key_files(self) -> set[tuple[int, int]]:
        """(device, inode) of the files a hard link could reach: the database file and its journals, the
        files directly in the instance and storage folders (secret_key, demo-credentials.txt) and the
        ``*_FILE`` settings. Files deeper in storage are not listed (walking it on every check costs too much)."""
        found = set()
        for place in self.paths:
            try:
                candidates = [place] if place.is_file() else (list(place.iterdir()) if place.is_dir() else [])
                if self.database_file is not None and place == self.database_file:
                    candidates += list(place.parent.glob(place.name + "-*"))
                found |= {_identity(c) for c in candidates if c.is_file()}
            except OSError:  # a place this process cannot list cannot be read through a link either
                continue
        return found

    def database_problem(self, url: str) -> str | None:
        """Why the database at ``url`` must not be a source: it is the catalog's own database."""
        try:
            theirs = make_url(url)
        except (sa.exc.ArgumentError, ValueError):
            return None  # not a URL: the connection's own check says so
        file = sqlite_file(theirs)
        if file is not None:
            problem = self.path_problem(file)
            return problem and f"the SQLite file is not allowed: {problem}"
        if not self.database_url:
            return None
        ours = make_url(self.database_url)
        backend = theirs.get_backend_name()
        if backend != ours.get_backend_name():
            return None

        def place(u: sa.URL) -> tuple[int | None, str | None]:
            return u.port or _DEFAULT_PORTS.get(backend), u.database

        def hosts(u: sa.URL) -> frozenset[str]:
            host = u.host or u.query.get("host") or ""
            return _addresses(host if isinstance(host, str) else host[0])

        if place(theirs) == place(ours) and hosts(theirs) & hosts(ours):
            return "it is the catalog's own database"
        return None
