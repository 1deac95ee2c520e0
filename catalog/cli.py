"""The ``catalog`` command line: database, demo data, users, tokens and the server.

Every command reads ``CATALOG_DATABASE_URL`` (default: SQLite under the instance folder). Errors
are printed as one line and end the command with a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from flask import Flask
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from .errors import CatalogError, ValidationError


class CatalogGroup(click.Group):
    """A click group that turns known errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ValidationError as error:
            details = "; ".join(f"{field}: {', '.join(msgs)}" for field, msgs in error.errors.items())
            _fail(f"invalid input: {details}")
        except CatalogError as error:
            _fail(error.message)
        except OperationalError as error:
            _fail(f"database error: {str(error.orig).strip().splitlines()[0]}")
        except SQLAlchemyError as error:
            _fail(f"database error: {str(error).splitlines()[0]}")
        except OSError as error:
            _fail(str(error))


def _fail(message: str) -> None:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


def _app() -> Flask:
    from . import create_app

    return create_app()


@click.group(cls=CatalogGroup)
@click.version_option(package_name="catalog", message="%(version)s")
def main() -> None:
    """Government data resource catalog (政务数据资源目录)."""


@main.group()
def db() -> None:
    """Database schema."""


def run_migrations(app: Flask, revision: str = "head", *, downgrade: bool = False) -> None:
    """Apply (or revert) Alembic migrations on the app's database."""
    from alembic import command
    from alembic.config import Config

    from .db import get_db

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    with get_db(app).engine.begin() as connection:
        config.attributes["connection"] = connection
        if downgrade:
            command.downgrade(config, revision)
        else:
            command.upgrade(config, revision)


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema to REVISION (default: the newest)."""
    app = _app()
    run_migrations(app, revision)
    click.echo(f"Database is at revision {revision}: {_safe_url(app.config['DATABASE_URL'])}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert the database schema to REVISION (``base`` removes everything)."""
    app = _app()
    run_migrations(app, revision, downgrade=True)
    click.echo(f"Database reverted to {revision}")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@main.group()
def demo() -> None:
    """Demonstration data."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo departments, users and datasets (a second run adds nothing)."""
    from .demo import load_demo

    app = _app()
    with app.app_context():
        report = load_demo(app)
    for line in report:
        click.echo(line)


@main.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.argument("name")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="at least 8 characters (asked for when omitted)")
@click.option("--email", default=None)
@click.option("--fullname", default=None)
@click.option("--sysadmin", is_flag=True, help="make the account a sysadmin (county data authority)")
def user_create(name: str, password: str, email: str | None, fullname: str | None, sysadmin: bool) -> None:
    """Create a user account."""
    from .auth.service import create_user
    from .db import get_session

    app = _app()
    with app.app_context():
        session = get_session()
        account = create_user(session, None, name=name, password=password, email=email,
                              fullname=fullname, sysadmin=sysadmin, check_auth=False)
        session.commit()
        click.echo(f"Created {'sysadmin' if account.sysadmin else 'user'} {account.name} ({account.id})")


@main.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("username")
@click.option("--name", default="cli", help="a label for the token")
@click.option("--scope", type=click.Choice(["read", "write"]), default="write")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None,
              help="lifetime in days (default: the configured TOKEN_DEFAULT_DAYS)")
def token_create(username: str, name: str, scope: str, expires_days: int | None) -> None:
    """Create an API token for USERNAME and print only the token."""
    from .auth.service import create_token, get_user
    from .db import get_session

    app = _app()
    with app.app_context():
        session = get_session()
        account = get_user(session, username)
        _token, secret = create_token(session, None, user=account, name=name, scope=scope,
                                      expires_in_days=expires_days or app.config["TOKEN_DEFAULT_DAYS"],
                                      check_auth=False)
        session.commit()
        click.echo(secret)


@main.group()
def search() -> None:
    """The full-text search index."""


@search.command("rebuild")
@click.option("--batch-size", type=click.IntRange(1, 10000), default=500, show_default=True)
def search_rebuild(batch_size: int) -> None:
    """Re-index every dataset (after changing the analyzer or restoring a backup)."""
    import time

    import sqlalchemy as sa

    from .datasets.models import Dataset
    from .db import get_session
    from .search.index import rebuild

    app = _app()
    with app.app_context():
        session = get_session()
        total = session.scalar(sa.select(sa.func.count()).select_from(Dataset).where(Dataset.state != "deleted"))
        started = time.perf_counter()
        with click.progressbar(length=total, label="Indexing datasets", show_pos=True) as bar:
            done = rebuild(session, batch_size=batch_size, progress=bar.update)
        session.commit()
        elapsed = time.perf_counter() - started
        click.echo(f"Indexed {done} datasets in {elapsed:.1f} s ({done / elapsed if elapsed else 0:.0f}/s)")


@main.group()
def audit() -> None:
    """The access log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check that no access log entry was edited, deleted or inserted (exit 1 when one was)."""
    from .db import get_session
    from .sharing.access_log import verify_chain

    app = _app()
    with app.app_context():
        ok, _checked, message = verify_chain(get_session())
    if not ok:
        _fail(f"access log tampered: {message}")
    click.echo(f"Access log verified: {message}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="default: $PORT or 5000")
@click.option("--threads/--no-threads", default=True, help="serve requests in threads")
def serve(host: str, port: int | None, threads: bool) -> None:
    """Serve the catalog over HTTP (for production use gunicorn wsgi:app)."""
    from werkzeug.serving import run_simple

    port = port or int(os.environ.get("PORT", "5000"))
    app = _app()
    click.echo(f"Serving {app.config['SITE_TITLE']} on http://{host}:{port}/ (Ctrl+C to stop)")
    run_simple(host, port, app, threaded=threads, use_reloader=False, use_debugger=False)




if __name__ == "__main__":  # python -m catalog.cli
    main()
