"""Configuration defaults and the environment variables that override them.

Nothing here is read at import time: :func:`load` is called by ``create_app``.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from connectors.outbound import Policy

#: the lifetime in days of a new API token when neither the request nor CATALOG_TOKEN_DEFAULT_DAYS says
#: (also create_token's, for callers without an app: tests, scripts)
DEFAULT_TOKEN_DAYS = 365

#: Settings with their defaults. Each can be overridden by ``CATALOG_<NAME>`` in the environment.
DEFAULTS = {
    "DATABASE_URL": None,  # default: sqlite:///<instance>/catalog.db
    "SECRET_KEY": None,  # default: generated once and kept in <instance>/secret_key
    "SITE_TITLE": "政务数据资源目录",
    "SITE_URL": "http://127.0.0.1:5000",
    "STORAGE_PATH": None,  # default: <instance>/storage (uploaded resource files)
    "MAX_CONTENT_LENGTH": 50 * 1024 * 1024,  # uploads; JSON bodies have their own limit
    "MAX_JSON_BYTES": 5 * 1024 * 1024,
    "MAX_JSON_DEPTH": 32,
    "TOKEN_DEFAULT_DAYS": DEFAULT_TOKEN_DAYS,
    # plain-word package_search answered from a replica of the catalogue following the change log (PostgreSQL;
    # catalog/search/memory.py): 250 MB of arrays at 300,000 datasets in <instance>/search-replica, memory-mapped
    # and shared by the host's workers
    "SEARCH_MEMORY_INDEX": True,
    "DATASTORE_MAX_RECORDS": 10000,  # records per datastore_upsert call
    "DATASTORE_TOTAL_ESTIMATION_THRESHOLD": 10000,  # datastore_search counts matches exactly up to this, estimates above
    "BROKER_URL": None,  # Redis URL: sync runs go to Celery workers (`catalog worker`)
    "SYNC_QUEUE_TIMEOUT": 3600,  # seconds a dispatched run may wait for a worker before it is failed
    "SYNC_HEARTBEAT": 10,  # seconds between two heartbeats of a running sync run
    "SYNC_HEARTBEAT_TIMEOUT": 60,  # a running run silent this long is closed failed, "worker lost" (scheduler)
    "SYNC_RUN_IN_REQUEST": False,  # sync_job_run waits for the run inside the request (tests); default: queued
    "SYNC_FINAL_WRITE_RETRY": 600,  # seconds a finished run keeps retrying to record its end while the database is down
    "SHARE_DEADLINE_DAYS": 10,  # working days a provider has to answer a share request
    "SHARE_EXTENSION_MAX_DAYS": 10,  # most working days one extension of a share request may add (authority decides)
    "SHARE_DELIVERY_DAYS": 20,  # working days from approval until the data must reach the requester
    "SHARE_DESTRUCTION_DAYS": 10,  # working days after a grant ends to record the data's destruction
    "USAGE_RECORD_RETENTION_YEARS": 3,  # use records cannot be deleted before they are this old
    "HOLIDAYS": "",  # comma-separated ISO dates excluded from working days
    "WORKDAYS": "",  # comma-separated weekend dates that are working days (调休)
    # Catalog review (编目审核, decree 809 arts. 13, 16-17; docs/SHARING_RULES.md)
    "CATALOG_REVIEW": True,  # false: departments publish directly, without the data authority's review
    "CATALOG_REVIEW_DAYS": 2,  # working days the data authority has to review a submitted dataset or revision
    "OBJECTION_DAYS": 10,  # working days a provider has to settle a correction request (art. 26)
    "DEMAND_DAYS": 10,  # working days a source department has to answer an assigned demand (art. 20)
    "AUTHORITY_DEPARTMENT": None,  # name or id of the data authority's department (besides sysadmins): rules.is_authority
    # The quarterly ranking (catalog/reports; docs/SHARING_RULES.md, art. 38): criterion=weight, and the
    # score of each satisfaction grade (满意 / 基本满意 / 不满意) out of 100
    "REPORT_WEIGHTS": "share_requests=20,objections=10,freshness=15,petitions=20,service_cases=20,satisfaction=15",
    "REPORT_SATISFACTION_WEIGHTS": "satisfied=100,basically_satisfied=60,dissatisfied=0",
    "SQL_ECHO": False,
    # Hardening (catalog/security.py; docs/SECURITY.md)
    "REDIS_URL": None,  # rate-limit counters shared by every worker; default: in this process's memory
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_API": "600 per minute",  # Action API calls per API token
    "RATELIMIT_API_ANONYMOUS": "3000 per minute",  # per client address: everyone behind one NAT shares it
    "RATELIMIT_LOGIN": "10 per minute;50 per hour",  # failed logins on /user/login per client address
    "PROXY_COUNT": 0,  # reverse proxies in front whose X-Forwarded-For / -Proto are trusted
    "SESSION_COOKIE_SECURE": None,  # default: true when SITE_URL is https
    # Freshness and change notifications (docs/FRESHNESS.md)
    "FRESHNESS_GRACE": "10%",  # before overdue: a share of the update cycle (10%) or a duration (2d, 6h, 30m)
    "WEBHOOK_MAX_ATTEMPTS": 8,  # tries per delivery before it is marked failed
    "WEBHOOK_RETRY_DELAY": 5,  # seconds before the first retry; doubled for each later one
    "WEBHOOK_RETRY_MAX_DELAY": 3600,  # longest wait between two tries, in seconds
    "WEBHOOK_TIMEOUT": 10,  # seconds to wait for a receiver's answer
    "WEBHOOK_DISPATCH": "auto",  # auto: after commit (Celery or a thread); manual: `catalog webhooks deliver`
    # Outbound requests (sync sources and targets, harvesting, webhooks): public addresses only, plus these
    "OUTBOUND_ALLOW": "",  # comma-separated hosts, addresses or ranges, each with an optional :port
    # Access log chain (docs/SECURITY.md, "Access log")
    "AUDIT_KEY": None,  # keys the chain's HMACs; default: derived from SECRET_KEY. Never stored in the database
    "AUDIT_CHECKPOINT_PATH": None,  # default: <instance>/audit-checkpoint.json (outside the database)
}

_INT_SETTINGS = {"MAX_CONTENT_LENGTH", "MAX_JSON_BYTES", "MAX_JSON_DEPTH", "TOKEN_DEFAULT_DAYS",
                 "DATASTORE_MAX_RECORDS", "DATASTORE_TOTAL_ESTIMATION_THRESHOLD", "SHARE_DEADLINE_DAYS", "OBJECTION_DAYS", "DEMAND_DAYS", "SHARE_EXTENSION_MAX_DAYS", "SHARE_DELIVERY_DAYS",
                 "SHARE_DESTRUCTION_DAYS", "USAGE_RECORD_RETENTION_YEARS", "CATALOG_REVIEW_DAYS", "PROXY_COUNT", "SYNC_QUEUE_TIMEOUT", "SYNC_HEARTBEAT", "SYNC_HEARTBEAT_TIMEOUT",
                 "SYNC_FINAL_WRITE_RETRY",
                 "WEBHOOK_MAX_ATTEMPTS", "WEBHOOK_TIMEOUT"}
_BOOL_SETTINGS = {"CATALOG_REVIEW", "SYNC_RUN_IN_REQUEST", "SQL_ECHO", "RATELIMIT_ENABLED", "SESSION_COOKIE_SECURE",
                  "SEARCH_MEMORY_INDEX"}


def from_environment(environ: dict[str, str] | None = None) -> dict:
    """Return the settings given as ``CATALOG_*`` environment variables, converted to their types."""
    environ = os.environ if environ is None else environ
    found = {}
    for name in DEFAULTS:
        raw = environ.get(f"CATALOG_{name}")
        if raw is None or raw == "":
            continue
        if name in _INT_SETTINGS:
            found[name] = int(raw)
        elif name in _BOOL_SETTINGS:
            found[name] = raw.strip().lower() in ("1", "true", "yes", "on")
        else:
            found[name] = raw
    return found


def outbound_policy(config: dict) -> Policy:
    """Where server-side requests may go: public addresses, and what ``OUTBOUND_ALLOW`` lists."""
    return Policy.parse(config.get("OUTBOUND_ALLOW") or "", setting="CATALOG_OUTBOUND_ALLOW")


#: the longest life of an API token, in days (10 years; docs/SECURITY.md, "API tokens")
MAX_TOKEN_DAYS = 3650


def check(config: dict) -> None:
    """Refuse settings that would weaken a rule, naming the setting: the app does not start with them."""
    days = config.get("TOKEN_DEFAULT_DAYS")
    if not (isinstance(days, int) and 1 <= days <= MAX_TOKEN_DAYS):   # a token that never expires, or one born expired
        raise ValueError(f"CATALOG_TOKEN_DEFAULT_DAYS: the lifetime of a new API token is 1 to {MAX_TOKEN_DAYS} days, "
                         f"not {days!r}")


def finalize(config: dict, instance_path: str) -> None:
    """Fill in the defaults that depend on the instance folder (database file, secret key)."""
    try:
        outbound_policy(config)
    except ValueError as error:  # a typo in the allowlist must stop the start, not widen or narrow it
        raise ValueError(f"CATALOG_OUTBOUND_ALLOW: {error}") from None
    instance = Path(instance_path)
    if not config.get("DATABASE_URL"):
        instance.mkdir(parents=True, exist_ok=True)
        config["DATABASE_URL"] = f"sqlite:///{instance / 'catalog.db'}"
    if not config.get("STORAGE_PATH"):
        config["STORAGE_PATH"] = str(instance / "storage")
    if not config.get("AUDIT_CHECKPOINT_PATH"):
        config["AUDIT_CHECKPOINT_PATH"] = str(instance / "audit-checkpoint.json")
    if not config.get("SECRET_KEY"):
        instance.mkdir(parents=True, exist_ok=True)
        key_file = instance / "secret_key"
        if not key_file.exists():
            key_file.write_text(secrets.token_hex(32))
            key_file.chmod(0o600)
        config["SECRET_KEY"] = key_file.read_text().strip()
