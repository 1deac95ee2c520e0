"""The ``catalog`` command line: database, demo data, users, tokens and the server.

Every command reads ``CATALOG_DATABASE_URL`` (default: SQLite under the instance folder). Errors
are printed as one line and end the command with a non-zero exit code, never a traceback.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import click
import sqlalchemy as sa
import yaml
from flask import Flask
from marshmallow import ValidationError as SchemaValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.serving import run_simple

from . import create_app
from .api.registry import ACTIONS, ActionContext
from .auth.service import change_password, create_token, create_user, get_user
from .cli_support import cli_actor
from .connections.cli import connection as connection_commands
from .datasets.models import Dataset
from .datastore import text_index, value_survey
from .db import get_db, get_session, run_migrations, utcnow
from .demo import load_demo
from .departments.models import Department
from .errors import CatalogError, Conflict, ValidationError, unavailable
from .exchange.cli import exchange as exchange_commands
from .freshness.cli import freshness as freshness_commands
from .freshness.service import notify_and_resend
from .reports.cli import report as report_commands
from .search.index import rebuild
from .sharing.access_log import audit_key, checkpoint_log, rekey_log, verify_chain, write_rekeyed_checkpoint
from .sync import quarantine as quarantine_service, service as sync_service
from .sync.models import SyncJob, SyncRun
from .sync.tasks import celery_app, dispatch, send_unsent
from .webhooks.cli import webhooks as webhooks_commands


class CatalogGroup(click.Group):
    """A click group that turns known errors into one clear line and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a reader that went away (| head) is found here, not at interpreter exit
            return result
        except BrokenPipeError:
            # the reader of our output closed it (catalog quarantine list | head): stop quietly, as
            # other command-line tools do; stdout goes to /dev/null so the exit flush cannot fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
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


@click.group(cls=CatalogGroup)
@click.version_option(package_name="catalog", message="%(version)s")
def main() -> None:
    """Government data resource catalog (政务数据资源目录)."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Create or migrate the database schema to REVISION (default: the newest)."""
    app = create_app()
    run_migrations(app, revision)
    click.echo(f"Database is at revision {revision}: {_safe_url(app.config['DATABASE_URL'])}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert the database schema to REVISION (``base`` removes everything)."""
    app = create_app()
    run_migrations(app, revision, downgrade=True)
    click.echo(f"Database reverted to {revision}")


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@main.group()
def demo() -> None:
    """Demonstration data."""


@demo.command("load")
def demo_load() -> None:
    """Load the demo departments, users and datasets (a second run adds nothing)."""
    app = create_app()
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
    app = create_app()
    with app.app_context():
        session = get_session()
        account = create_user(session, None, name=name, password=password, email=email,
                              fullname=fullname, sysadmin=sysadmin, check_auth=False)
        session.commit()
        click.echo(f"Created {'sysadmin' if account.sysadmin else 'user'} {account.name} ({account.id})")


@user.command("reset-password")
@click.argument("name")
@click.option("--password", default=None, help="the new password (default: a random one, printed once)")
def user_reset_password(name: str, password: str | None) -> None:
    """Set a new password for an account (a forgotten one), and print it when it was generated."""
    app = create_app()
    with app.app_context():
        session = get_session()
        account = get_user(session, name)
        generated = password is None
        password = password or secrets.token_urlsafe(12)
        change_password(session, None, account, new_password=password, check_auth=False)
        session.commit()
        click.echo(f"New password for {account.name}: {password}" if generated else
                   f"Password of {account.name} changed")


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
    app = create_app()
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
    app = create_app()
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
def sync() -> None:
    """Sync jobs: bring departments' systems into the DataStore."""


def load_job_file(path: str) -> dict:
    """A job definition from a YAML (or JSON) file (a source's ``path`` is relative to its connection's folder)."""
    text = Path(path).read_text(encoding="utf-8")
    try:
        definition = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ValidationError.single("file", f"{path} is not valid YAML: {error}") from None
    if not isinstance(definition, dict):
        raise ValidationError.single("file", f"{path} must hold a mapping of job settings")
    return definition


def definition_values(definition: dict) -> tuple[str, str | None, dict]:
    """Split a job file into (dataset, resource, job values)."""
    source = definition.get("source") or {}
    values = {"name": definition.get("name"), "title": definition.get("title"), "source": source.get("type"),
              "source_config": source.get("config") or {}, "stream": source.get("stream"),
              "mapping": definition.get("mapping") or {}, "mode": definition.get("mode"),
              "write": definition.get("write"), "on_invalid": definition.get("on_invalid"),
              "schedule": definition.get("schedule"), "batch_size": definition.get("batch_size"),
              "enabled": definition.get("enabled"), "target": definition.get("target")}
    if not definition.get("dataset"):
        raise ValidationError.single("dataset", "Missing value: the dataset the job fills")
    return definition["dataset"], definition.get("resource"), values


@sync.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "username", default=None, help="the account the job is created as (default: a sysadmin)")
def sync_add(file: str, username: str | None) -> None:
    """Create (or update) the sync job described in FILE (YAML)."""
    definition = load_job_file(file)
    dataset, resource, values = definition_values(definition)
    app = create_app()
    with app.app_context():
        session = get_session()
        actor = cli_actor(session, username)
        try:
            job = sync_service.get_job(session, values["name"] or "")
        except CatalogError:
            job = sync_service.create_job(session, actor, package_id=dataset, resource_id=resource, values=values)
            verb = "Created"
        else:
            sync_service.update_job(session, actor, job, values)
            verb = "Updated"
        session.commit()
        click.echo(f"{verb} sync job {job.name} ({job.source} → {job.dataset.name})")




def print_run(run) -> None:
    """A run's summary table."""
    click.echo(f"Run {run.id}: {run.status}" + (f" — {run.error_message}" if run.error_message else ""))
    for name in ("read", "inserted", "updated", "unchanged", "quarantined", "skipped", "superseded", "deleted"):
        click.echo(f"  {name:<12}{run.counts.get(name, 0):>10}")
    if run.finished and run.started:
        click.echo(f"  {'seconds':<12}{(run.finished - run.started).total_seconds():>10.1f}")


@sync.command("run")
@click.argument("job")
def sync_run(job: str) -> None:
    """Run JOB now, with a progress line, and print the summary (exit 1 when the run failed)."""
    app = create_app()
    started = time.perf_counter()

    def progress(report) -> None:
        rate = report.read / max(time.perf_counter() - started, 1e-9)
        click.echo(f"\r  read {report.read:>10,}  rate {rate:>9,.0f}/s  rejected "
                   f"{report.quarantined + report.skipped:>7,}", nl=False, err=True)

    with app.app_context():
        try:
            run = sync_service.run_job(get_db(app), job, trigger="cli", progress=progress)
        except Conflict as error:  # already running: say so plainly, not as "invalid input"
            _fail("; ".join(message for messages in error.errors.values() for message in messages))
    click.echo("", err=True)
    print_run(run)
    if run.status == "failed":  # succeeded_with_errors: the valid rows were written, the quarantine holds the others
        sys.exit(1)


@sync.command("preview")
@click.argument("job")
@click.option("--rows", default=20, show_default=True, help="how many of the source's first rows to map")
@click.option("--as", "username", default=None, help="the account previewing (default: a sysadmin)")
def sync_preview(job: str, rows: int, username: str | None) -> None:
    """Map and validate the first rows of JOB's source without writing anything (试运行): each field's
    value and its errors side by side. Exits 1 when a row is invalid."""
    app = create_app()
    with app.app_context():
        session = get_session()
        found = sync_service.get_job(session, job)
        shown = sync_service.preview_job(session, cli_actor(session, username), found, rows=rows)
        invalid = 0
        for row in shown:
            invalid += not row["valid"]
            click.echo(f"row {row['row_number']}: {'ok' if row['valid'] else 'INVALID'}")
            width = max((len(f["field"]) for f in row["fields"]), default=0)
            for entry in row["fields"]:
                value = "—" if entry["value"] is None else json.dumps(entry["value"], ensure_ascii=False)
                problems = f"   ✗ {'; '.join(entry['errors'])}" if entry["errors"] else ""
                click.echo(f"  {entry['field']:<{width}}  {value}{problems}")
        click.echo(f"{len(shown)} rows mapped, {invalid} invalid; nothing was written")
    if invalid:
        sys.exit(1)


@sync.command("list")
def sync_list() -> None:
    """The sync jobs with their last run."""
    app = create_app()
    with app.app_context():
        session = get_session()
        for job in session.scalars(sa.select(SyncJob).order_by(SyncJob.name)):
            last = session.scalar(sa.select(SyncRun).where(SyncRun.job_id == job.id).order_by(SyncRun.started.desc()).limit(1))
            status = f"{last.status} {last.counts}" if last else "never run"
            click.echo(f"{job.name:<30} {job.source:<10} {job.dataset.name:<30} {status}")


@sync.command("scheduler")
@click.option("--once", is_flag=True, help="start the due jobs once and exit")
@click.option("--interval", type=click.IntRange(5, 3600), default=60, show_default=True, help="seconds between checks")
def sync_scheduler(once: bool, interval: int) -> None:
    """Start due jobs: in-process, or on Celery workers when CATALOG_BROKER_URL is set.

    Each tick: close runs whose worker is lost (no heartbeat), expire runs no worker took, send the queued
    runs whose message has not reached the broker, then dispatch the due jobs. While the database or the
    broker is down it says so once, retries with a growing wait (up to 5 minutes), and says when it is back.
    """
    app = create_app()
    down: str | None = None  # the dependency of the current outage, if any
    streak = 0
    while True:
        try:
            with app.app_context():
                _scheduler_tick(app)
        except Exception as error:  # noqa: BLE001 - an outage is reported once; anything else is a bug
            outage = unavailable(error)
            if outage is None:
                raise
            streak += 1
            if outage.dependency != down:
                click.echo(f"Warning: the {outage.dependency} cannot be reached ({outage.cause}); the scheduler "
                           "keeps trying, with a growing wait", err=True)
                down = outage.dependency
            if once:
                sys.exit(1)
            time.sleep(min(interval * 2 ** min(streak - 1, 10), max(interval, 300)))
            continue
        if down is not None:
            click.echo(f"The {down} answers again; scheduling resumed", err=True)
            down, streak = None, 0
        if once:
            return
        time.sleep(interval)


def _scheduler_tick(app: Flask) -> None:
    database = get_db(app)
    with database.session() as session:
        lost = sync_service.close_lost_runs(session, utcnow(), app.config["SYNC_HEARTBEAT_TIMEOUT"])
        expired = sync_service.expire_queued_runs(session, utcnow(), app.config["SYNC_QUEUE_TIMEOUT"])
        session.commit()
    if lost:
        click.echo(f"{lost} running run(s) gave no heartbeat for {app.config['SYNC_HEARTBEAT_TIMEOUT']} s: "
                   "marked failed, worker lost", err=True)
    if expired:
        click.echo(f"{expired} queued run(s) waited too long for a worker: marked expired", err=True)
    if app.config.get("BROKER_URL"):
        for run_id in send_unsent(app):
            click.echo(f"sent queued run {run_id} to the workers")
    with database.session() as session:
        due = [job.id for job in sync_service.due_jobs(session, utcnow())]
    for job_id in due:
        click.echo(dispatch(app, job_id))
    notify_and_resend(app)  # freshness.overdue notifications; webhook deliveries waiting to be sent
    with database.session() as session:  # q's text index, behind the writes (a bulk load, a first sync)
        text_index.catch_up_lagging(session)
    with database.session() as session:  # the common values of tables loaded since (filter totals kept)
        value_survey.look_over_lagging(session)


@main.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 64), default=1, show_default=True)
def worker(concurrency: int) -> None:
    """A Celery worker that runs sync jobs (needs CATALOG_BROKER_URL)."""
    app = create_app()
    celery = celery_app(app)
    celery.worker_main(["worker", "--loglevel=INFO", f"--concurrency={concurrency}", "--pool=prefork"])


@main.group()
def quarantine() -> None:
    """Rows refused by validation."""


@quarantine.command("list")
@click.option("--job", default=None, help="only rows from this job's runs")
def quarantine_list_cmd(job: str | None) -> None:
    """Open quarantined rows: id, row number and errors."""
    app = create_app()
    with app.app_context():
        session = get_session()
        job_id = sync_service.get_job(session, job).id if job else None
        for entry in quarantine_service.list_entries(session, cli_actor(session, None), resource_id=None, job_id=job_id,
                                    status="open", offset=0, limit=10000):
            errors = "; ".join(f"{e['field']}: {e['message']}" for e in entry.errors)
            click.echo(f"{entry.id}  row {entry.row_number}  {errors}")


@quarantine.command("show")
@click.argument("entry_id")
def quarantine_show_cmd(entry_id: str) -> None:
    """One quarantined row: raw values and errors."""
    app = create_app()
    with app.app_context():
        session = get_session()
        entry = quarantine_service.get_entry(session, cli_actor(session, None), entry_id)
        click.echo(json.dumps({"row": entry.row_number, "source": entry.source, "raw": entry.raw,
                               "errors": entry.errors, "status": entry.status}, ensure_ascii=False, indent=2))


@quarantine.command("retry")
@click.argument("entry_id")
@click.option("--record", "record_json", default=None, help="the fixed record as JSON (default: as kept)")
def quarantine_retry_cmd(entry_id: str, record_json: str | None) -> None:
    """Write a fixed quarantined record into the DataStore."""
    app = create_app()
    with app.app_context():
        session = get_session()
        actor = cli_actor(session, None)
        record = json.loads(record_json) if record_json else None
        quarantine_service.retry(session, actor, quarantine_service.get_entry(session, actor, entry_id), record=record)
        session.commit()
        click.echo(f"Retried {entry_id}: written")


@quarantine.command("discard")
@click.argument("entry_id")
@click.option("--reason", required=True)
def quarantine_discard_cmd(entry_id: str, reason: str) -> None:
    """Close a quarantined row without writing it."""
    app = create_app()
    with app.app_context():
        session = get_session()
        actor = cli_actor(session, None)
        quarantine_service.discard(session, actor, quarantine_service.get_entry(session, actor, entry_id), reason=reason)
        session.commit()
        click.echo(f"Discarded {entry_id}")


@main.group()
def audit() -> None:
    """The access log."""


@audit.command("verify")
def audit_verify() -> None:
    """Check the access log against the audit key and the checkpoint, then move the checkpoint on
    (exit 1 naming the first entry edited, deleted or inserted, or the newest entries missing)."""
    app = create_app()
    with app.app_context():
        ok, _checked, message = verify_chain(get_session(), advance=True)
    if not ok:
        _fail(f"access log tampered: {message}")
    click.echo(f"Access log verified: {message}")


@audit.command("checkpoint")
@click.option("--start", is_flag=True,
              help="begin a new checkpoint from the log as it is (after an incident was looked into)")
def audit_checkpoint(start: bool) -> None:
    """Verify the access log and write its checkpoint (outside the database) at the newest entry."""
    app = create_app()
    with app.app_context():
        checked, message = checkpoint_log(get_session(), start=start)
    click.echo(f"Access log: {checked} entries verified, {message}")


@audit.command("rekey")
@click.option("--old-key", "old_keys", multiple=True, envvar="CATALOG_AUDIT_OLD_KEY",
              help="a former CATALOG_AUDIT_KEY, or a former SECRET_KEY when no audit key was set")
def audit_rekey(old_keys: tuple[str, ...]) -> None:
    """Check every entry under the key (or the plain SHA-256 of before migration 0010) it was written
    with, then sign the whole log with the configured audit key and write a new checkpoint."""
    app = create_app()
    with app.app_context():
        session = get_session()
        _count, message, (seq, mac) = rekey_log(session, old_keys=[audit_key(k) for k in old_keys])
        session.commit()
        written = write_rekeyed_checkpoint(seq, mac)
    click.echo(f"Access log re-keyed: {message}; {written}")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=None, help="default: $PORT or 5000")
@click.option("--threads/--no-threads", default=True, help="serve requests in threads")
def serve(host: str, port: int | None, threads: bool) -> None:
    """Serve the catalog over HTTP (for production use gunicorn wsgi:app)."""
    port = port or int(os.environ.get("PORT", "5000"))
    app = create_app()
    click.echo(f"Serving {app.config['SITE_TITLE']} on http://{host}:{port}/ (Ctrl+C to stop)")
    run_simple(host, port, app, threaded=threads, use_reloader=False, use_debugger=False)




# --- departments and datasets from files: a whole set-up can be scripted -------------------------


def _definition_file(path: str) -> dict:
    """A YAML or JSON file holding one object (JSON is YAML: one loader reads both)."""
    try:
        definition = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ValidationError.single("file", f"{path} is not valid YAML or JSON: {error}") from None
    if not isinstance(definition, dict):
        raise ValidationError.single("file", f"{path} must hold an object of fields")
    return definition


def _flat_errors(messages, prefix: str = "") -> dict[str, list[str]]:
    if isinstance(messages, dict):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            flat.update(_flat_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "__root__": list(messages)}
    return {prefix or "__root__": [str(messages)]}


def _call_action(name: str, data: dict, username: str | None):
    """Run the API action ``name`` as ``username`` (default: a sysadmin) with the API's own parameter
    checks and rules, and commit; its result."""
    app = create_app()
    with app.app_context():
        spec = ACTIONS[name]
        session = get_session()
        actor = cli_actor(session, username)
        if spec.params is not None:
            try:
                data = spec.params().load(data)
            except SchemaValidationError as error:
                raise ValidationError(_flat_errors(error.messages)) from None
        result = spec.func(ActionContext(session=session, actor=actor, config=app.config), data)
        session.commit()
        return result


@main.group()
def department() -> None:
    """Departments (organizations), as organization_create makes them."""


@department.command("create")
@click.argument("name", required=False)
@click.option("--title", default=None)
@click.option("--code", default=None, help="the unified social credit code")
@click.option("--description", default=None)
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False),
              help="a YAML or JSON file with organization_create's fields (instead of NAME and options)")
@click.option("--as", "username", default=None, help="the account creating it (default: a sysadmin)")
def department_create(name: str | None, title: str | None, code: str | None, description: str | None,
                      path: str | None, username: str | None) -> None:
    """Register a department: catalog department create NAME --title 宁陕县民政局, or --file dept.yml."""
    data = _definition_file(path) if path else {}
    data.update({k: v for k, v in {"name": name, "title": title, "code": code,
                                   "description": description}.items() if v is not None})
    if not data.get("name"):
        raise ValidationError.single("name", "Missing value: give NAME or a file with a name")
    made = _call_action("organization_create", data, username)
    click.echo(f"Created department {made['name']} ({made['title']}) {made['id']}")


@department.command("list")
def department_list() -> None:
    """Every department: name, title, code."""
    app = create_app()
    with app.app_context():
        for found in get_session().scalars(sa.select(Department).order_by(Department.name)):
            click.echo(f"{found.name}\t{found.title}\t{found.code or ''}")


@main.group()
def dataset() -> None:
    """Datasets, as package_create makes them."""


@dataset.command("create")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--as", "username", default=None, help="the account creating it (default: a sysadmin)")
def dataset_create(file: str, username: str | None) -> None:
    """Register the dataset described in FILE (YAML or JSON, package_create's fields: name, title,
    owner_org, record_schema, share_type, update_cycle, resources, …)."""
    made = _call_action("package_create", _definition_file(file), username)
    click.echo(f"Created dataset {made['name']} in {made.get('organization', {}).get('name', made.get('owner_org'))} "
               f"{made['id']}" + (f" (record schema {made['record_schema']})" if made.get("record_schema") else ""))


for _group in (exchange_commands, freshness_commands, webhooks_commands, connection_commands, report_commands):
    main.add_command(_group)

if __name__ == "__main__":  # python -m catalog.cli
    main()
