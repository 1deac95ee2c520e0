"""What the file sources share: opening a path with a user-facing error, naming header columns."""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from ..base import SourceError

log = logging.getLogger(__name__)


def require_file(path: str) -> Path:
    """``path`` as a readable file, or a :class:`SourceError` saying ``file not found: …``."""
    file = Path(path)
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
