"""Gunicorn settings for production; ``gunicorn wsgi:app`` run from this folder picks them up.

docs/OPERATIONS.md explains each choice. In short: threaded workers (``gthread``), because a sync worker
is killed by ``timeout`` while it streams a long ``/datastore/dump`` to a slow client (the dump is cut
mid-row after HTTP 200); in a ``gthread`` worker the timeout watches the worker process, not each
request, so a stream may last as long as the client reads. Every setting can be overridden with the
environment variables below or with ``GUNICORN_CMD_ARGS`` (e.g. ``--bind 0.0.0.0:8000 --workers 4``).
"""
import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", f"127.0.0.1:{os.environ.get('PORT', '8000')}")
worker_class = "gthread"
# processes x threads = requests served at once; each dump being streamed holds one thread
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# seconds a worker process may stay silent before the master restarts it (not a limit on one request)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
# seconds an idle keep-alive connection stays open; behind a proxy, keep it below the proxy's own
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# no max_requests: a worker replaced on a request count would cut the dumps it is streaming after
# graceful_timeout; a restart (deploy, SIGHUP) does the same, so deploy when no long dump is running
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
errorlog = "-"
# proxies in front set X-Forwarded-*: CATALOG_PROXY_COUNT tells the app how many to trust
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
