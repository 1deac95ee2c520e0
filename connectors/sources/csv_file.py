"""CSV files as department systems export them: UTF-8 (with or without BOM) or GB18030/GBK,
CRLF line ends, quoted newlines, title lines above the header.

The encoding is found without being told: a byte order mark decides; otherwise the whole file is
decoded strictly as UTF-8, then as GB18030 (a superset of GBK and GB2312, so it also reads their
files); charset-normalizer is the last resort. ``encoding`` in the config overrides the detection.
Row numbers are physical line numbers of each record's first line, as a text editor shows them.
"""
from __future__ import annotations

import codecs
import csv
import logging
from pathlib import Path
from typing import Any, Iterator

from ..base import Checkpoint, Row, Source, SourceError, Stream
from ._files import ROOT_PROPERTY, column_names, require_file, row_dict

__all__ = ["CsvSource", "detect_encoding"]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


def _decodes(path: Path, encoding: str) -> bool:
    """Whether the whole file decodes strictly in ``encoding`` (read in chunks, never all at once)."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    try:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


#: the last files' detected encodings by (path, size, modification time, inode): a run opens its file
#: several times (check, discover, the read ahead for repeated keys, the read) but decodes it to
#: detect the encoding once; a file rewritten in between has another size, time or inode
_DETECTED: dict[tuple[str, int, int, int], str] = {}
_DETECTED_MAX = 64


def detect_encoding(path: str | Path) -> str:
    """The Python codec name to read ``path`` with: utf-8-sig, utf-16, utf-8, gb18030 or a guess."""
    path = Path(path)
    status = path.stat()
    identity = (str(path.resolve()), status.st_size, status.st_mtime_ns, status.st_ino)
    known = _DETECTED.get(identity)
    if known is None:
        known = _detect(path)
        if len(_DETECTED) >= _DETECTED_MAX:
            _DETECTED.pop(next(iter(_DETECTED)))
        _DETECTED[identity] = known
    return known


def _detect(path: Path) -> str:
    with path.open("rb") as file:
        head = file.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text" export
    for encoding in ("utf-8", "gb18030"):
        if _decodes(path, encoding):
            return encoding
    from charset_normalizer import from_path  # rare: neither UTF-8 nor GB18030

    best = from_path(path).best()
    if best is None:
        raise SourceError(f"cannot tell the text encoding of {path}: it is neither UTF-8 nor GB18030; "
                          "set the encoding option")
    return best.encoding


class CsvSource(Source):
    """A CSV file; one stream named after the file."""

    name = "csv"
    rereadable = True

    def spec(self) -> dict[str, Any]:
        """path (required; relative to root when root is given), root, encoding (auto), delimiter,
        quotechar, header_row, columns."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "root": ROOT_PROPERTY,
                "encoding": {"type": "string", "minLength": 1,
                             "description": "a codec name; detected when absent"},
                "delimiter": {"type": "string", "minLength": 1, "maxLength": 1, "default": ","},
                "quotechar": {"type": "string", "minLength": 1, "maxLength": 1, "default": '"'},
                "header_row": {"type": "integer", "minimum": 0, "default": 1,
                               "description": "the row holding the column names (rows above it are "
                                              "skipped); 0: no header"},
                "columns": {"type": "array", "items": {"type": "string"},
                            "description": "column names when header_row is 0"},
            },
        }

    def check(self, config: dict[str, Any]) -> None:
        """The config fits the spec, the file exists and the encoding is known."""
        super().check(config)
        require_file(config["path"], config.get("root"))
        if config.get("encoding"):
            try:
                codecs.lookup(config["encoding"])
            except LookupError:
                raise SourceError(f"unknown encoding {config['encoding']!r}") from None

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """One stream: the file, with its header's column names."""
        with _CsvReader(config) as (_records, names, _encoding):
            pass
        return [Stream(name=Path(config["path"]).stem, fields=names)]

    def read(self, config: dict[str, Any], stream: Stream,
             state: dict[str, Any] | None) -> Iterator[Row | Checkpoint]:
        """The data rows after the header; blank rows are left out. A file has no incremental state."""
        with _CsvReader(config) as (records, _names, encoding):
            log.info("%s: reading as %s", Path(config["path"]).name, encoding)
            yield from records


class _CsvReader:
    """Opens the file, finds the header and yields rows; a context manager so the file is closed."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.path = require_file(config["path"], config.get("root"))
        self.file = None

    def __enter__(self):
        config, path = self.config, self.path
        encoding = config.get("encoding") or detect_encoding(path)
        log.debug("%s: reading as %s", path.name, encoding)
        self.file = path.open("r", encoding=encoding, newline="", errors="strict")
        try:
            self.reader = csv.reader(self.file, delimiter=config.get("delimiter", ","),
                                     quotechar=config.get("quotechar", '"'))
            header_row = config.get("header_row", 1)
            names = list(config.get("columns") or [])
            for _ in range(header_row):  # rows above the header are titles and notes
                cells = self._next()
                if cells is None:
                    raise SourceError(f"{path.name}: the file ends before its header row {header_row}")
                names = column_names(cells[1], path.name)
        except BaseException:
            self.file.close()
            raise
        self.names = names
        return self._rows(), names, encoding

    def __exit__(self, *exc_info) -> None:
        if self.file is not None:
            self.file.close()

    def _next(self) -> tuple[int, list[str]] | None:
        """(first line number, cells) of the next record, or None at the end."""
        first_line = self.reader.line_num + 1
        try:
            return first_line, next(self.reader)
        except StopIteration:
            return None
        except csv.Error as exc:
            raise SourceError(f"{self.path.name}, line {first_line}: not valid CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise SourceError(f"{self.path.name}, near line {first_line}: the text is not "
                              f"{self.file.encoding}: {exc.reason}; set the encoding option") from exc

    def _rows(self) -> Iterator[Row]:
        names = self.names
        while (record := self._next()) is not None:
            line, cells = record
            if not names:  # no header and no column names: column_1, column_2, ...
                names = [f"column_{i}" for i in range(1, len(cells) + 1)]
            data = row_dict(names, cells)
            if data is not None:
                yield Row(data, line)
