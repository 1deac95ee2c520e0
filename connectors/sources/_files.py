"""What the file sources share: opening a path (confined to a folder) with a user-facing error,
naming header columns.

Confinement: when a source's config names a ``root`` folder, its ``path`` is relative to it and is
resolved (symbolic links followed) each time the file is opened, so a link planted in the folder
after the job was defined still cannot lead outside it. Which folders may be roots is the caller's
policy (the catalog's connections); this module only keeps a path inside the root it is given.
"""
from __future__ import annotations

import logging
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from ..base import SourceError

log = logging.getLogger(__name__)


#: the ``root`` property file sources add to their spec
ROOT_PROPERTY = {"type": "string", "minLength": 1,
                 "description": "the folder ``path`` is relative to and must stay inside (symbolic links "
                                "are resolved when the file is opened)"}


def relative_path_problem(path: str) -> str | None:
    """Why ``path`` cannot be a path relative to a folder (absolute, ``..``, empty), or None."""
    if not isinstance(path, str) or not path.strip():
        return "must be a file name relative to the connection's folder"
    if "\x00" in path:
        return "must not contain NUL characters"
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or path.startswith("~"):
        return f"{path!r} is absolute: give a path relative to the connection's folder"
    if ".." in pure.parts:
        return f"{path!r} climbs out of the folder with '..': give a path inside the connection's folder"
    return None


def confined(root: str, path: str) -> Path:
    """``path`` inside the folder ``root``, fully resolved; :class:`SourceError` when it leaves the folder."""
    problem = relative_path_problem(path)
    if problem:
        raise SourceError(f"path {problem}")
    try:
        base = Path(root).resolve(strict=True)
    except (OSError, RuntimeError) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise SourceError(f"the connection's folder cannot be opened: {reason}") from None
    target = (base / path).resolve()  # follows every symbolic link, however many
    if target != base and base not in target.parents:
        raise SourceError(f"path {path!r} leads outside the connection's folder (through a symbolic link)")
    return target


def require_file(path: str, root: str | None = None) -> Path:
    """``path`` as a readable file, or a :class:`SourceError` saying ``file not found: …``.

    With ``root``, ``path`` is relative to that folder and must stay inside it once resolved
    (:func:`confined`); the file returned is then the resolved one, so what is checked is what is read.
    """
    file = confined(root, path) if root is not None else Path(path)
    if not file.exists():
        raise SourceError(f"file not found: {path}")
    if not file.is_file():
        raise SourceError(f"not a file: {path}")
    try:
        with file.open("rb"):
            pass
    except OSError as exc:
        raise SourceError(f"cannot open {path}: {exc.strerror or exc}") from exc
    return file


def column_names(cells: Sequence[Any], where: str) -> list[str]:
    """Header names: trimmed, ``column_<n>`` for empty cells, ``name_2`` for a repeated name."""
    names: list[str] = []
    seen: set[str] = set()
    for position, cell in enumerate(cells, start=1):
        name = "" if cell is None else str(cell).strip().strip("\ufeff\u200b").strip()
        name = name or f"column_{position}"
        if name in seen:
            renamed, n = name, 2
            while renamed in seen:
                renamed, n = f"{name}_{n}", n + 1
            log.warning("%s: column %d repeats the header %r; it is read as %r", where, position, name, renamed)
            name = renamed
        seen.add(name)
        names.append(name)
    return names


def row_dict(names: list[str], values: Sequence[Any]) -> dict[str, Any] | None:
    """The row as {column: value}; values beyond the header are ``column_<n>``; ``None`` for a blank row."""
    if all(v is None or (isinstance(v, str) and not v.strip()) for v in values):
        return None
    row = dict(zip(names, values))
    for position in range(len(names), len(values)):
        if values[position] not in (None, ""):
            row[f"column_{position + 1}"] = values[position]
    return row
