"""Excel workbooks (.xlsx), streamed with openpyxl in read-only mode.

Cells come as typed values: text, numbers, booleans; date cells as ISO text (``2026-01-03``, or
``2026-01-03T10:05:00`` when the cell has a time of day); formulas as their last computed value.
Row numbers are the sheet's row numbers.
"""
from __future__ import annotations

import datetime as dt
import logging
import zipfile
from pathlib import Path
from typing import Any, Iterator

from ..base import Checkpoint, Row, Source, SourceError, Stream
from ._files import ROOT_PROPERTY, column_names, require_file, row_dict

__all__ = ["XlsxSource"]

log = logging.getLogger(__name__)


def _cell(value: Any) -> Any:
    """A cell value as the mapping receives it: dates and times as ISO text."""
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):  # a duration cell
        return value.total_seconds()
    return value


class XlsxSource(Source):
    """One sheet of an .xlsx workbook; the streams are the sheets."""

    name = "xlsx"
    rereadable = True

    def spec(self) -> dict[str, Any]:
        """path (required; relative to root when root is given), root, sheet (name; the first sheet
        when absent), header_row (default 1)."""
        return {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["path"],
            "additionalProperties": False,
            "properties": {
                "path": {"type": "string", "minLength": 1},
                "root": ROOT_PROPERTY,
                "sheet": {"type": "string", "minLength": 1},
                "header_row": {"type": "integer", "minimum": 1, "default": 1,
                               "description": "the sheet row holding the column names; rows above "
                                              "it are skipped"},
            },
        }

    def check(self, config: dict[str, Any]) -> None:
        """The config fits the spec and the file exists."""
        super().check(config)
        require_file(config["path"], config.get("root"))

    def discover(self, config: dict[str, Any]) -> list[Stream]:
        """One stream per sheet, with the column names of its header row."""
        workbook = self._open(config)
        try:
            streams = []
            for sheet in workbook.worksheets:
                sheet.reset_dimensions()
                header = next(sheet.iter_rows(min_row=config.get("header_row", 1), values_only=True,
                                              max_row=config.get("header_row", 1)), ())
                streams.append(Stream(name=sheet.title, fields=column_names(header, sheet.title)))
            return streams
        finally:
            workbook.close()

    def read(self, config: dict[str, Any], stream: Stream,
             state: dict[str, Any] | None) -> Iterator[Row | Checkpoint]:
        """The rows below the header of the configured sheet (or the stream's, or the first)."""
        workbook = self._open(config)
        try:
            name = config.get("sheet") or (stream.name if stream and stream.name in workbook.sheetnames else None)
            if name is not None and name not in workbook.sheetnames:
                raise SourceError(f"{Path(config['path']).name} has no sheet {name!r}; its sheets are: "
                                  + ", ".join(workbook.sheetnames))
            sheet = workbook[name] if name else workbook.worksheets[0]
            sheet.reset_dimensions()  # exporters often write a wrong dimension; read what is there
            header_row = config.get("header_row", 1)
            rows = sheet.iter_rows(min_row=header_row, values_only=True)
            names = column_names(next(rows, ()), sheet.title)
            for number, values in enumerate(rows, start=header_row + 1):
                data = row_dict(names, [_cell(v) for v in values])
                if data is not None:
                    yield Row(data, number)
        finally:
            workbook.close()

    def _open(self, config: dict[str, Any]):
        import openpyxl  # loaded on first use

        path = require_file(config["path"], config.get("root"))
        try:
            return openpyxl.load_workbook(path, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise SourceError(f"{path.name} is not a readable .xlsx workbook ({exc}); "
                              "an old .xls file must first be saved as .xlsx") from exc
