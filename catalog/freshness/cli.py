"""``catalog freshness report``: the department ranking as a table aligned for Chinese text."""
from __future__ import annotations

import unicodedata
from typing import Any

import click

from .. import create_app
from ..db import get_session
from .service import department_report, grace_setting

COLUMNS = (("rank", "排名 Rank", ">"), ("title", "部门 Department", "<"), ("total", "资源数 Datasets", ">"),
           ("fresh", "按时 Fresh", ">"), ("due", "待更新 Due", ">"), ("overdue", "逾期 Overdue", ">"),
           ("share_on_time", "按时率 On time", ">"))


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal: wide and full-width characters (CJK) take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 0 if unicodedata.combining(ch) else 1
               for ch in text)


def pad(text: str, width: int, align: str) -> str:
    """``text`` padded with spaces to ``width`` display columns."""
    fill = " " * max(0, width - display_width(text))
    return fill + text if align == ">" else text + fill


def cell(key: str, row: dict[str, Any]) -> str:
    """One report value as printed."""
    value = row[key]
    if key == "share_on_time":
        return "—" if value is None else f"{value * 100:.1f}%"
    if key == "rank":
        return "—" if value is None else str(value)
    if key == "title":
        return f"{value} ({row['name']})" if value and value != row["name"] else row["name"]
    return str(value)


def format_table(rows: list[dict[str, Any]]) -> list[str]:
    """The report's lines: header, rule, one line per department."""
    cells = [[cell(key, row) for key, _label, _align in COLUMNS] for row in rows]
    widths = [max([display_width(label)] + [display_width(line[i]) for line in cells])
              for i, (_key, label, _align) in enumerate(COLUMNS)]
    lines = ["  ".join(pad(label, widths[i], align) for i, (_k, label, align) in enumerate(COLUMNS)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for line in cells:
        lines.append("  ".join(pad(text, widths[i], COLUMNS[i][2]) for i, text in enumerate(line)).rstrip())
    return lines


@click.group("freshness")
def freshness() -> None:
    """Freshness of datasets against their update cycles."""


@freshness.command("report")
@click.option("--public", is_flag=True, help="count public datasets only (as an anonymous visitor sees them)")
def report(public: bool) -> None:
    """Per department: datasets fresh, due and overdue, the share on time and the rank."""
    app = create_app()
    with app.app_context():
        try:
            grace = grace_setting(app.config)
        except ValueError as error:
            raise click.UsageError(str(error)) from None
        rows = department_report(get_session(), grace=grace, everything=not public)
    for line in format_table(rows):
        click.echo(line)
