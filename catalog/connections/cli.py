"""``catalog connection add|list|remove``: the sysadmin registers where sync jobs may read from."""
from __future__ import annotations

import click
import sqlalchemy as sa

from .. import create_app
from ..cli_support import cli_actor
from ..db import get_session
from ..departments.models import Department
from ..errors import NotFound, ValidationError
from . import service
from .models import Connection


@click.group("connection")
def connection() -> None:
    """Connections (数据源): the folders, databases and HTTP services sync jobs read."""


@connection.command("add")
@click.argument("name")
@click.option("--kind", type=click.Choice(["folder", "database", "http"]), required=True)
@click.option("--path", help="folder: the absolute folder the jobs' files are in")
@click.option("--url", help="database: a SQLAlchemy URL; http: the base URL")
@click.option("--token", help="http: a token sent with every request (stored sealed)")
@click.option("--token-header", help="http: the header the token goes in (default Authorization)")
@click.option("--token-prefix", help="http: text before the token, e.g. 'Bearer '")
@click.option("--header", "headers", multiple=True, help="http: NAME=VALUE, sent with every request (sealed)")
@click.option("--allow-superuser", is_flag=True, help="database: accept a PostgreSQL superuser login")
@click.option("--organization", "organizations", multiple=True, help="a department whose jobs may use it")
@click.option("--title")
@click.option("--description")
@click.option("--as", "username", default=None, help="the sysadmin account (default: the first one)")
def add(name: str, kind: str, path: str | None, url: str | None, token: str | None, token_header: str | None,
        token_prefix: str | None, headers: tuple[str, ...], allow_superuser: bool, organizations: tuple[str, ...],
        title: str | None, description: str | None, username: str | None) -> None:
    """Register connection NAME, or change it when it exists."""
    config: dict = {"path": path} if kind == "folder" else {"url": url}
    if kind == "database" and allow_superuser:
        config["allow_superuser"] = True
    if kind == "http":
        extra = {"token": token, "token_header": token_header, "token_prefix": token_prefix}
        config.update({k: v for k, v in extra.items() if v is not None})
        if headers:
            pairs = [h.partition("=") for h in headers]
            if any(not sep or not key for key, sep, _value in pairs):
                raise ValidationError.single("--header", "give headers as NAME=VALUE")
            config["headers"] = {key: value for key, _sep, value in pairs}
    app = create_app()
    with app.app_context():
        session = get_session()
        actor = cli_actor(session, username)
        try:
            existing = service.get_connection(session, name)
        except NotFound:
            existing = None
        if existing is None:
            service.create_connection(session, actor, name=name, kind=kind, config=config, title=title,
                                      description=description, organizations=list(organizations))
            verb = "Registered"
        else:
            service.update_connection(session, actor, existing, {
                "kind": kind, "config": config, "title": title, "description": description,
                "organizations": list(organizations) or None})
            verb = "Updated"
        session.commit()
        click.echo(f"{verb} connection {name} ({kind})")


@connection.command("list")
def list_() -> None:
    """The connections, their kinds and the departments that may use them."""
    app = create_app()
    with app.app_context():
        session = get_session()
        names = dict(session.execute(sa.select(Department.id, Department.name)).all())
        for item in session.scalars(sa.select(Connection).order_by(Connection.name)):
            departments = ", ".join(names.get(d, d) for d in item.organizations or []) or "(no department)"
            click.echo(f"{item.name:<28}{item.kind:<10}{departments}")


@connection.command("remove")
@click.argument("name")
@click.option("--as", "username", default=None, help="the sysadmin account (default: the first one)")
def remove(name: str, username: str | None) -> None:
    """Remove connection NAME (refused while a sync job uses it)."""
    app = create_app()
    with app.app_context():
        session = get_session()
        service.delete_connection(session, cli_actor(session, username), service.get_connection(session, name))
        session.commit()
        click.echo(f"Removed connection {name}")
