"""``catalog exchange``: the compilation sheet out and in, and DCAT harvesting, from the command line."""
from __future__ import annotations

import sys

import click

from .. import create_app
from ..auth.service import get_user
from ..cli_support import cli_actor
from ..db import get_session
from .harvest import harvest
from .xlsx import export_workbook, import_workbook


@click.group("exchange")
def exchange() -> None:
    """Catalog exchange: .xlsx compilation sheet, DCAT-AP harvesting."""


@exchange.command("export-xlsx")
@click.argument("file", type=click.Path(dir_okay=False, writable=True))
@click.option("--organization", default=None, help="only this department's datasets")
@click.option("--user", "username", default=None,
              help="export what this account may read (default: a sysadmin, i.e. everything)")
def export_xlsx(file: str, organization: str | None, username: str | None) -> None:
    """Write the catalog compilation sheet (编制表) to FILE."""
    app = create_app()
    with app.app_context():
        session = get_session()
        count = export_workbook(session, cli_actor(session, username), file, organization=organization)
    click.echo(f"Exported {count} datasets to {file}")


@exchange.command("import-xlsx")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--user", "username", required=True, help="the account the datasets are registered as")
@click.option("--dry-run", is_flag=True, help="check every row and keep nothing")
def import_xlsx(file: str, username: str, dry_run: bool) -> None:
    """Register or update datasets from the compilation sheet FILE (exit 1 when a row failed)."""
    app = create_app()
    with app.app_context():
        session = get_session()
        report = import_workbook(session, get_user(session, username), file, dry_run=dry_run)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    _print_report(report, verb="would be" if dry_run else "")
    if report.failed or report.errors:
        sys.exit(1)


def _print_report(report, *, verb: str) -> None:
    for warning in report.warnings:
        click.echo(f"Warning: {warning}", err=True)
    for error in report.errors:
        click.echo(f"  {error.describe()}", err=True)
    prefix = f"{verb} " if verb else ""
    click.echo(f"{prefix}created {report.created}, {prefix}updated {report.updated}, "
               f"unchanged {report.unchanged}, failed {report.failed}")


@exchange.command("harvest")
@click.argument("location")
@click.option("--organization", required=True, help="the department the datasets go to")
@click.option("--user", "username", required=True, help="the account the datasets are registered as")
@click.option("--token", default=None, help="an API token of the other catalog")
@click.option("--dry-run", is_flag=True, help="check every dataset and keep nothing")
def harvest_cmd(location: str, organization: str, username: str, token: str | None, dry_run: bool) -> None:
    """Harvest the DCAT-AP export at LOCATION (URL or file) into a department (exit 1 on errors)."""
    app = create_app()
    with app.app_context():
        session = get_session()
        report = harvest(session, get_user(session, username), location, organization=organization,
                         token=token, dry_run=dry_run)
        if dry_run:
            session.rollback()
        else:
            session.commit()
    for error in report.errors:
        click.echo(f"  row {error['row']} ({error['identifier'] or error['uri']}), {error['field']}: "
                   f"{error['message']}", err=True)
    if report.fatal:
        click.echo(f"Stopped: {report.fatal}", err=True)
    prefix = "would be " if dry_run else ""
    click.echo(f"{prefix}created {report.created}, {prefix}updated {report.updated}, "
               f"unchanged {report.unchanged}, failed {report.failed}")
    if report.failed or report.fatal:
        sys.exit(1)
