"""``catalog report quarterly --quarter 2026Q4 [--xlsx FILE]``: the ranking printed, and saved as .xlsx."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import click

from .. import create_app
from ..db import get_session
from ..errors import ValidationError
from ..freshness.cli import display_width, pad
from . import service, xlsx
from .rules import Quarter

SHORT = {"share_requests": "共享 Req", "objections": "异议 Obj", "freshness": "更新 Fresh", "petitions": "信访 Pet",
         "service_cases": "办件 Svc", "satisfaction": "满意 Sat"}


def cell(criterion: str, figure: dict[str, Any]) -> str:
    """A figure as printed: the rate in percent (satisfaction: its score), — without cases."""
    if criterion == "satisfaction":
        return "—" if figure["score"] is None else f"{figure['score']:.1f}"
    return "—" if figure["rate"] is None else f"{figure['rate'] * 100:.1f}%"


def table(rows: list[dict[str, Any]], criteria: list[str], heading: str) -> list[str]:
    """One ranking as lines aligned for Chinese text."""
    columns = [("排名 Rank", ">"), (heading, "<"), ("得分 Score", ">")] + [(SHORT[c], ">") for c in criteria]
    cells = [[str(r["rank"]) if r["rank"] is not None else "—", r["title"],
              "—" if r["score"] is None else f"{r['score']:.2f}"] + [cell(c, r["figures"][c]) for c in criteria]
             for r in rows]
    widths = [max([display_width(label)] + [display_width(line[i]) for line in cells])
              for i, (label, _align) in enumerate(columns)]
    lines = ["  ".join(pad(label, widths[i], align) for i, (label, align) in enumerate(columns)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(pad(text, widths[i], columns[i][1]) for i, text in enumerate(line)).rstrip() for line in cells]
    return lines


@click.group("report")
def report() -> None:
    """Reports for the county: the quarterly ranking of departments and towns."""


@report.command("quarterly")
@click.option("--quarter", "quarter_text", required=True, help="the quarter, e.g. 2026Q4")
@click.option("--as-of", "as_of", default=None, help="judge the cases on this day (YYYY-MM-DD; default: today)")
@click.option("--xlsx", "xlsx_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="also save the report as an .xlsx workbook for the joint meeting (联席会议)")
def quarterly(quarter_text: str, as_of: str | None, xlsx_path: str | None) -> None:
    """Rank every department and town for a quarter; print it and optionally save it as .xlsx."""
    try:
        quarter = Quarter.parse(quarter_text)
        day = dt.date.fromisoformat(as_of) if as_of else None
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    app = create_app()
    with app.app_context():
        try:
            result = service.performance_report(get_session(), None, app.config, quarter=quarter, as_of=day,
                                                check=False)
        except ValidationError as error:
            raise click.UsageError("; ".join(f"{k}: {' '.join(v)}" for k, v in error.errors.items())) from None
        site_url = app.config.get("SITE_URL")
    click.echo(f"{result['quarter']} ({result['from']} – {result['to']}), as of {result['as_of']}")
    click.echo("weights: " + ", ".join(f"{k} {v:g}" for k, v in result["weights"].items())
               + "; satisfaction: " + ", ".join(f"{k} {v:g}" for k, v in result["satisfaction_weights"].items()))
    click.echo("")
    for line in table(result["departments"], result["criteria"], "部门 Department"):
        click.echo(line)
    click.echo("")
    for line in table(result["towns"], result["town_criteria"], "乡镇 Town"):
        click.echo(line)
    for note in result["notes"]:
        click.echo("note: " + note["en"])
    if xlsx_path:
        Path(xlsx_path).write_bytes(xlsx.workbook(result, site_url=site_url))
        click.echo(f"saved {xlsx_path}")
