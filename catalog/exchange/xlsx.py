"""The catalog compilation sheet (编制表) as an .xlsx workbook: export the readable catalog, import it back.

Sheet ``信息资源`` has one row per data resource with the core metadata headed by the profile's Chinese
labels (see :mod:`.layout`); sheet ``信息项`` has one row per data item, keyed by the resource's code
and URL name. An import applies every valid row (each in its own savepoint) and reports the others
by sheet, row, column label and message; nothing already accepted is lost by a bad row.
"""
from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import asdict, dataclass, field
from typing import IO, Any, Iterator

import sqlalchemy as sa
from openpyxl import Workbook, load_workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from connectors.coerce import CoercionError, to_boolean, to_date, to_integer, to_string

from ..auth import rules
from ..auth.models import User
from ..datasets import service as datasets
from ..datasets.models import Dataset
from ..departments.models import Department
from ..departments.service import get_department
from ..errors import NotAuthorized, NotFound, ValidationError
from . import layout
from .layout import DATASETS_SHEET, ITEMS_SHEET, Column

#: how many rows at the top of a sheet may stand above the heading row (a title, a note)
HEADER_SEARCH_ROWS = 10
#: datasets loaded per query while exporting
EXPORT_CHUNK = 500


# --- export --------------------------------------------------------------------------------------


def readable_datasets(session: Session, actor: User | None, *, organization: str | None = None):
    """The query of the datasets the actor may read (optionally one department's), in sheet order."""
    query = (sa.select(Dataset).join(Department, Department.id == Dataset.owner_org)
             .where(rules.readable_datasets_clause(session, actor, Dataset.__table__)))
    if organization:
        department = get_department(session, organization)
        query = query.where(Dataset.owner_org == department.id)
    return query.order_by(Department.name, Dataset.name).options(
        selectinload(Dataset.tags), selectinload(Dataset.organization))


def _header(ws, columns: tuple[Column, ...]) -> None:
    bold, fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    cells = []
    for index, column in enumerate(columns, start=1):
        ws.column_dimensions[get_column_letter(index)].width = max(10, min(40, len(column.label) * 2 + 4))
        cell = WriteOnlyCell(ws, value=column.label)
        cell.font, cell.fill = bold, fill
        cell.alignment = Alignment(wrap_text=True, vertical="center")
        cells.append(cell)
    ws.freeze_panes = "A2"
    ws.append(cells)


def _dataset_cells(dataset: Dataset, columns: tuple[Column, ...]) -> list[Any]:
    department = dataset.organization
    provider = {layout.PROVIDER_NAME: department.name, layout.PROVIDER_TITLE: department.title,
                layout.PROVIDER_CODE: department.code}
    cells = []
    for column in columns:
        if column.kind == "provider":
            value = provider[column.path]
        elif column.kind == "tags":
            value = [tag.name for tag in dataset.tags]
        elif column.path.startswith("share_method."):
            value = (dataset.share_method or {}).get(column.path.split(".", 1)[1])
        else:
            value = getattr(dataset, column.path)
            if isinstance(value, dt.date):
                value = value.isoformat()
        cells.append(column.show(value))
    return cells


def export_workbook(session: Session, actor: User | None, out: str | IO[bytes], *,
                    organization: str | None = None) -> int:
    """Write the compilation sheet of the datasets the actor may read to ``out``; return how many."""
    columns, item_cols = layout.dataset_columns(), layout.item_columns()
    query = readable_datasets(session, actor, organization=organization)  # an unknown department fails here
    workbook = Workbook(write_only=True)
    sheet, items_sheet = workbook.create_sheet(DATASETS_SHEET), workbook.create_sheet(ITEMS_SHEET)
    _header(sheet, columns)
    _header(items_sheet, item_cols)
    count = 0
    for dataset in session.scalars(query.execution_options(yield_per=EXPORT_CHUNK)):
        count += 1
        sheet.append(_dataset_cells(dataset, columns))
        for position, item in enumerate(dataset.items or [], start=1):
            values = {"resource_code": dataset.resource_code, "name": dataset.name, "title": dataset.title,
                      "position": position, **{f"items.{k}": v for k, v in item.items()}}
            items_sheet.append([column.show(values.get(column.path)) for column in item_cols])
    workbook.save(out)
    return count


# --- import report -------------------------------------------------------------------------------


@dataclass
class RowError:
    """One problem: where (sheet, row, column heading) and what."""

    sheet: str
    row: int | None
    column: str | None
    message: str

    def describe(self) -> str:
        """``信息资源 row 7, 共享类型: …``."""
        where = self.sheet + (f" row {self.row}" if self.row else "")
        return f"{where}, {self.column}: {self.message}" if self.column else f"{where}: {self.message}"


@dataclass
class ImportReport:
    """What an import did: counts, one entry per dataset row, and every error."""

    dry_run: bool = False
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-able data (the catalog_import result)."""
        data = asdict(self)
        data["errors"] = [asdict(e) for e in self.errors]
        return data


# --- reading cells -------------------------------------------------------------------------------


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _split(text: str) -> list[str]:
    for separator in layout.LIST_SEPARATORS[1:]:
        text = text.replace(separator, layout.LIST_SEPARATORS[0])
    return [part.strip() for part in text.split(layout.LIST_SEPARATORS[0]) if part.strip()]


def parse_cell(column: Column, value: Any) -> Any:
    """The stored value of one cell (``None`` for a blank one); ``ValueError`` says what is wrong."""
    if _is_blank(value):
        return None
    if column.kind == "enum":
        found = column.aliases.get(layout.fold(to_string(value)))
        if found is None:
            raise ValueError(f"{to_string(value)!r} is not one of: {', '.join(column.labels.values())}")
        return found
    if column.kind == "date":
        return to_date(value)
    if column.kind == "boolean":
        return to_boolean(value)
    if column.kind == "integer":
        return to_integer(value)
    text = to_string(value).strip()
    if column.kind in ("list", "tags"):
        return _split(text)
    return text


@dataclass
class _SheetRow:
    number: int
    cells: dict[str, Any]  # column path → parsed value (columns present in the sheet only)
    errors: list[RowError]


def _find_header(rows: list[tuple], known: dict[str, Column]) -> tuple[int, dict[int, Column], list[str]]:
    for number, row in enumerate(rows, start=1):
        found = {i: known[layout.fold(str(v))] for i, v in enumerate(row)
                 if not _is_blank(v) and layout.fold(str(v)) in known}
        if len(found) >= 2:
            unknown = [str(v).strip() for i, v in enumerate(row) if not _is_blank(v) and i not in found]
            return number, found, unknown
    return 0, {}, []


def _read_sheet(ws, columns: tuple[Column, ...], report: ImportReport) -> tuple[list[_SheetRow], set[str]]:
    """The sheet's data rows with their parsed cells, and the column paths it has."""
    rows = ws.iter_rows(values_only=True)
    top = [row for _, row in zip(range(HEADER_SEARCH_ROWS), rows)]
    header_row, header, unknown = _find_header(top, layout.lookup(columns))
    if not header:
        raise ValidationError.single(
            "upload", f"sheet {ws.title}: no heading row found in the first {HEADER_SEARCH_ROWS} rows "
                      f"(expected headings such as {', '.join(c.label for c in columns[:3])})")
    if unknown:
        report.warnings.append(f"sheet {ws.title}: columns ignored (unknown headings): {', '.join(unknown)}")
    seen: dict[str, int] = {}
    for index, column in header.items():
        if column.path in seen:
            raise ValidationError.single("upload", f"sheet {ws.title}: the column {column.label} appears twice")
        seen[column.path] = index

    def data_rows() -> Iterator[tuple[int, tuple]]:
        for number, row in enumerate(top, start=1):
            if number > header_row:
                yield number, row
        yield from enumerate(rows, start=len(top) + 1)

    parsed = []
    for number, row in data_rows():
        if all(_is_blank(v) for v in row):
            continue
        cells, errors = {}, []
        for index, column in header.items():
            value = row[index] if index < len(row) else None
            try:
                cells[column.path] = parse_cell(column, value)
            except (ValueError, CoercionError) as error:
                errors.append(RowError(ws.title, number, column.label, str(error)))
        parsed.append(_SheetRow(number, cells, errors))
    return parsed, set(seen)


# --- import --------------------------------------------------------------------------------------


def _open(source: str | IO[bytes]):
    try:
        return load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise ValidationError.single("upload", f"not a readable .xlsx workbook: {error}") from None


class _Importer:
    """One import run over an opened workbook."""

    def __init__(self, session: Session, actor: User | None, report: ImportReport):
        self.session, self.actor, self.report = session, actor, report
        self.columns = {c.path: c for c in layout.dataset_columns()}
        self.item_cols = {c.path: c for c in layout.item_columns()}
        self.departments: dict[tuple[str, str], Department | None] = {}
        self.items_present = False  # without a 信息项 sheet, stored items are kept
        self.items_sheet = ITEMS_SHEET
        self.item_rows: dict[str, list[_SheetRow]] = {}
        self.item_rows_claimed: set[int] = set()

    def label(self, path: str) -> str:
        column = self.columns.get(path)
        return column.label if column else layout.profile_label(path)

    # items ------------------------------------------------------------------------------------

    def read_items(self, ws) -> None:
        """Group the item rows by the dataset they name."""
        rows, _present = _read_sheet(ws, layout.item_columns(), self.report)
        self.items_present = True
        for row in rows:
            key = row.cells.get("name") or row.cells.get("resource_code")
            if not key:
                self.report.errors.append(RowError(
                    ws.title, row.number, self.item_cols["resource_code"].label,
                    f"name the data resource: give its {self.item_cols['resource_code'].label} "
                    f"or {self.item_cols['name'].label}"))
                continue
            for k in {row.cells.get("name"), row.cells.get("resource_code")} - {None}:
                self.item_rows.setdefault(k, []).append(row)
        self.items_sheet = ws.title

    def items_of(self, name: str | None, code: str | None) -> tuple[list[dict[str, Any]], list[_SheetRow]]:
        """The items given for a dataset (sorted by 序号, then row) and their rows."""
        chosen = self.item_rows.get(name or "") or self.item_rows.get(code or "") or []
        unique = list({row.number: row for row in chosen}.values())
        unique.sort(key=lambda r: (r.cells.get("position") is None, r.cells.get("position") or 0, r.number))
        items = []
        for row in unique:
            self.item_rows_claimed.add(row.number)
            item = {path.split(".", 1)[1]: value for path, value in row.cells.items()
                    if path.startswith("items.") and value is not None}
            items.append(item)
        return items, unique

    # one dataset row --------------------------------------------------------------------------

    def department(self, cells: dict[str, Any]) -> Department | None | str:
        """The department the row names (``None``: none named; a str: the column of an unknown one).

        The URL name wins over the code, the code over the title (titles need not be unique).
        """
        for path, attribute in ((layout.PROVIDER_NAME, Department.name), (layout.PROVIDER_CODE, Department.code),
                                (layout.PROVIDER_TITLE, Department.title)):
            value = cells.get(path)
            if value:
                if (path, value) not in self.departments:
                    found = self.session.scalars(sa.select(Department).where(
                        attribute == value, Department.state == "active").limit(2)).all()
                    self.departments[(path, value)] = found[0] if len(found) == 1 else None
                return self.departments[(path, value)] or path
        return None

    def apply(self, sheet: str, row: _SheetRow, present: set[str], seen: dict[str, dict[str, int]],
              dry_run: bool) -> str:
        """Create, update or leave one dataset; return the outcome (or ``failed``)."""
        cells = row.cells
        errors = list(row.errors)
        name, code = cells.get("name"), cells.get("resource_code")
        for path, value in (("name", name), ("resource_code", code)):
            if value and value in seen[path]:
                errors.append(RowError(sheet, row.number, self.label(path),
                                       f"duplicate: row {seen[path][value]} already has {value}"))
            elif value:
                seen[path][value] = row.number
        if not name and not code:
            errors.append(RowError(sheet, row.number, self.label("name"),
                                   f"Missing value: give the {self.label('name')} or the "
                                   f"{self.label('resource_code')}"))
        item_rows: list[_SheetRow] = []
        items = None
        if self.items_present:
            items, item_rows = self.items_of(name, code)
            bad = [r.number for r in item_rows if r.errors]
            if bad:
                errors.append(RowError(sheet, row.number, self.label("items"),
                                       f"not applied: its data items in sheet {self.items_sheet} have errors "
                                       f"(rows {', '.join(map(str, bad))})"))
        department = self.department(cells)
        if isinstance(department, str):
            errors.append(RowError(sheet, row.number, self.label(department),
                                   f"no department {cells[department]!r}"))
        if errors:
            return self._failed(errors)
        existing = self._existing(name, code)
        if existing is not None and not rules.can_read_dataset(self.session, self.actor, owner_org=existing.owner_org,
                                                               private=existing.private, state=existing.state):
            existing = None  # a dataset the caller cannot read is answered for as a missing one, dry run or not
        values, tags = self._values(cells, present, existing, items)
        if not values.get("name"):
            values["name"] = "r-" + code.replace("/", "-")
        if department is not None:
            values["owner_org"] = department.id
        elif existing is None:
            return self._failed([RowError(sheet, row.number, self.label(layout.PROVIDER_TITLE),
                                          "Missing value: the providing department (its title, code or "
                                          f"{self.label(layout.PROVIDER_NAME)})")])
        if existing is not None and not rules.can_edit_datasets_of(self.session, self.actor, existing.owner_org):
            # before the comparison: "unchanged" would tell a reader what a dataset it cannot write holds
            return self._failed([RowError(sheet, row.number, self.label(layout.PROVIDER_TITLE),
                                          f"You cannot edit dataset {existing.name}")])
        if existing is not None and self._unchanged(existing, values, tags):
            return "unchanged"
        savepoint = self.session.begin_nested()
        try:
            if existing is None:
                datasets.create_dataset(self.session, self.actor, values=values, tags=tags)
            else:
                datasets.update_dataset(self.session, self.actor, existing, values=values, tags=tags)
            self.session.flush()
        except ValidationError as error:
            savepoint.rollback()
            return self._failed(list(self._field_errors(sheet, row, item_rows, error.errors)))
        except (NotAuthorized, NotFound) as error:
            savepoint.rollback()
            column = self.label(layout.PROVIDER_TITLE)
            return self._failed([RowError(sheet, row.number, column, error.message)])
        except IntegrityError:
            savepoint.rollback()
            return self._failed([RowError(sheet, row.number, None,
                                          "clashes with existing data (a name or code already in use)")])
        if dry_run:
            savepoint.rollback()
        else:
            savepoint.commit()
        return "created" if existing is None else "updated"

    def _failed(self, errors: list[RowError]) -> str:
        self.report.errors.extend(errors)
        return "failed"

    def _existing(self, name: str | None, code: str | None) -> Dataset | None:
        if name:
            return self.session.scalar(sa.select(Dataset).where(Dataset.name == name))
        return self.session.scalar(sa.select(Dataset).where(Dataset.resource_code == code))

    def _values(self, cells: dict[str, Any], present: set[str], existing: Dataset | None,
                items: list[dict[str, Any]] | None) -> tuple[dict[str, Any], list[str] | None]:
        values = {k: v for k, v in datasets.metadata_of(existing).items()
                  if k in datasets.METADATA_FIELDS} if existing is not None else {}
        for path, value in cells.items():
            if path in datasets.METADATA_FIELDS and not (path == "name" and value is None):
                values[path] = value  # a blank URL name keeps the matched dataset's name
        if {"share_method.channel", "share_method.type"} & present:
            method = dict(values.get("share_method") or {})
            for part in ("channel", "type"):
                if f"share_method.{part}" in present:
                    method[part] = cells.get(f"share_method.{part}")
            method = {k: v for k, v in method.items() if v is not None}
            values["share_method"] = method or None
        if items is not None:
            values["items"] = items
        if existing is None:
            values = {k: v for k, v in values.items() if v is not None}
        tags = cells.get("tags") if "tags" in present else None
        if tags is None and "tags" in present:
            tags = []
        return values, tags

    def _unchanged(self, existing: Dataset, values: dict[str, Any], tags: list[str] | None) -> bool:
        before = datasets.metadata_of(existing)
        if values.get("owner_org", existing.owner_org) != existing.owner_org:
            return False
        if tags is not None and sorted(set(tags)) != before["tags"]:
            return False
        merged = {**datasets.DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
        return all(merged.get(f) == before.get(f) for f in datasets.METADATA_FIELDS)

    def _field_errors(self, sheet: str, row: _SheetRow, item_rows: list[_SheetRow],
                      errors: dict[str, list[str]]) -> Iterator[RowError]:
        for path, messages in errors.items():
            parts = path.split(".")
            if parts[0] == "items" and len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(item_rows):
                item_row = item_rows[int(parts[1])]
                column = self.item_cols.get(".".join(["items", *parts[2:3]]))
                for message in messages:
                    yield RowError(self.items_sheet, item_row.number, column.label if column else None, message)
                continue
            if path == "owner_org":
                label = self.label(layout.PROVIDER_TITLE)
            elif parts[0] == "share_method" and len(parts) == 1:
                label = self.label("share_method.channel")
            elif parts[0] == "tags":
                label = self.label("tags")
            elif path == "__root__":
                label = None
            else:
                label = self.label(".".join(parts[:2]) if ".".join(parts[:2]) in self.columns else parts[0])
            for message in messages:
                yield RowError(sheet, row.number, label, message)


def import_workbook(session: Session, actor: User | None, source: str | IO[bytes], *,
                    dry_run: bool = False) -> ImportReport:
    """Register or update datasets from a compilation sheet; every valid row is applied.

    With ``dry_run`` every row is checked (the profile, uniqueness, permissions) and nothing is kept.
    The caller commits.
    """
    report = ImportReport(dry_run=dry_run)
    workbook = _open(source)
    try:
        names = workbook.sheetnames
        sheet = workbook[DATASETS_SHEET] if DATASETS_SHEET in names else workbook[names[0]]
        importer = _Importer(session, actor, report)
        if ITEMS_SHEET in names and ITEMS_SHEET != sheet.title:
            importer.read_items(workbook[ITEMS_SHEET])
        rows, present = _read_sheet(sheet, layout.dataset_columns(), report)
        if not {"name", "resource_code"} & present:
            raise ValidationError.single("upload", f"sheet {sheet.title} needs a column "
                                                   f"{importer.label('name')} or {importer.label('resource_code')}")
        seen: dict[str, dict[str, int]] = {"name": {}, "resource_code": {}}
        for row in rows:
            outcome = importer.apply(sheet.title, row, present, seen, dry_run)
            setattr(report, outcome, getattr(report, outcome) + 1)
            report.rows.append({"sheet": sheet.title, "row": row.number,
                                "name": row.cells.get("name") or row.cells.get("resource_code"),
                                "outcome": outcome})
        if importer.items_present:
            for key, item_rows in importer.item_rows.items():
                for item_row in item_rows:
                    if item_row.number not in importer.item_rows_claimed:
                        importer.item_rows_claimed.add(item_row.number)
                        report.errors.append(RowError(
                            importer.items_sheet, item_row.number, importer.item_cols["resource_code"].label,
                            f"no data resource {key!r} in sheet {sheet.title}"))
                    report.errors.extend(e for e in item_row.errors if e not in report.errors)
    finally:
        workbook.close()
    report.errors.sort(key=lambda e: (e.sheet != sheet.title, e.sheet, e.row or 0))
    return report
