"""Hardening: rate limits on the Action API, security headers and cookie flags on every response.

What an operator configures is described in docs/SECURITY.md ("Hardening").
"""
from __future__ import annotations

import math
import time

from flask import Flask, Response, current_app, jsonify, request, url_for
from flask_limiter import Limiter, RateLimitExceeded, RequestLimit
from limits import parse_many
from limits.storage import MemoryStorage
from werkzeug.middleware.proxy_fix import ProxyFix

from .auth.passwords import token_digest
from .auth.service import token_secret_from
from .web.common import too_many_login_attempts

#: Scripts, styles and images from this site only; no plugins, no framing, no <base> hijacking.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; object-src 'none'; "
                           "frame-ancestors 'none'; base-uri 'self'")

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def init_app(app: Flask) -> None:
    """Trust the configured proxies, limit the API's request rate, set headers and cookie flags."""
    if app.config["PROXY_COUNT"]:
        hops = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
    _init_rate_limits(app)
    _init_cookies(app)
    app.after_request(add_security_headers)


def rate_limit_key() -> str:
    """Whose budget a request spends: its token's SHA-256 digest (never the secret), else its address.

    The digest is the one stored in ``api_token.token_hash``, so an operator can tell which token a
    counter belongs to. Whether the token is valid is not checked here: an invalid one is refused
    (403) before any action runs.
    """
    secret = token_secret_from(request.headers)
    if secret is not None:
        return f"token:{token_digest(secret)}"
    return f"ip:{request.remote_addr or 'unknown'}"


def _api_limit() -> str:
    """The budget that applies to this request: per token, or per client address when anonymous."""
    name = "RATELIMIT_API" if token_secret_from(request.headers) is not None else "RATELIMIT_API_ANONYMOUS"
    return current_app.config[name]


def _address() -> str:
    return f"ip:{request.remote_addr or 'unknown'}"


def _login_rate_limited(limit: RequestLimit) -> Response:
    """The login page's answer to too many password attempts from one address."""
    return too_many_login_attempts(max(1, math.ceil(limit.window[0] - time.time())))


def _rate_limited(limit: RequestLimit) -> Response:
    """CKAN's error envelope for a caller over its budget, with the seconds to wait."""
    retry_after = max(1, math.ceil(limit.window[0] - time.time()))
    who = "this API token" if token_secret_from(request.headers) is not None else "your address"
    name = (request.view_args or {}).get("name") or "help_show"
    response = jsonify({
        "help": url_for("api.call_action", name="help_show", _external=True) + f"?name={name}",
        "success": False,
        "error": {"__type": "Rate Limit Error",
                  "message": f"Too many requests: {who} may make {limit.limit}; "
                             f"retry after {retry_after} seconds"},
    })
    response.status_code = 429
    response.headers["Retry-After"] = str(retry_after)
    return response


def _too_many_requests(error: RateLimitExceeded) -> Response:
    """Answer with the envelope built when the limit was breached (registered by status code so that
    it wins over the API blueprint's catch-all handler)."""
    return error.get_response()


class InProcessCounters(MemoryStorage):
    """limits' in-memory counters, without a thread per request.

    ``MemoryStorage`` sweeps expired counters in a timer thread that it starts again on every count once the
    last one has ended, i.e. on every request more than 10 ms after the one before: 2-5 ms a request on the
    loaded 2-core machine (cProfile of key lookups, docs/PERFORMANCE.md). A counter past its window is reset
    when it is next read whatever sweeps (``MemoryStorage.get``), so here the sweep only frees memory, and
    runs in the request at most once a second.
    """

    STORAGE_SCHEME = ["catalog-memory"]
    #: seconds between two sweeps
    SWEEP_EVERY = 1.0
    _swept = 0.0

    def _MemoryStorage__schedule_expiry(self) -> None:  # replaces MemoryStorage's private scheduler
        now = time.monotonic()
        if now - self._swept >= self.SWEEP_EVERY:
            self._swept = now
            self._MemoryStorage__expire_events()


def _init_rate_limits(app: Flask) -> None:
    """One shared budget per token or address for every API route; counters in Redis when configured."""
    for name in ("RATELIMIT_API", "RATELIMIT_API_ANONYMOUS", "RATELIMIT_LOGIN"):
        # Flask-Limiter would only log a limit it cannot parse and then not limit at all.
        try:
            parse_many(app.config[name])
        except ValueError as error:
            raise ValueError(f"CATALOG_{name} is not a rate limit such as '600 per minute': "
                             f"{error}") from None
    redis_url = app.config["REDIS_URL"]
    limiter = Limiter(
        rate_limit_key,
        storage_uri=redis_url or "catalog-memory://",
        strategy="fixed-window",
        key_prefix="catalog",
        on_breach=_rate_limited,
        # A Redis outage must not take the catalog down: count in memory until it is back.
        in_memory_fallback_enabled=bool(redis_url),
        swallow_errors=True,
        enabled=app.config["RATELIMIT_ENABLED"],
    )
    limiter.init_app(app)
    api_bp = app.blueprints["api"]
    limiter.shared_limit(_api_limit, scope="api")(api_bp)
    # Password guessing: failed logins (the form answers 401) per client address; once over the budget
    # every login POST from that address waits, a right password included.
    login = app.view_functions.get("web.login")
    if login is not None:
        app.view_functions["web.login"] = limiter.limit(
            lambda: current_app.config["RATELIMIT_LOGIN"], key_func=_address, methods=["POST"],
            deduct_when=lambda response: response.status_code == 401, on_breach=_login_rate_limited)(login)
    app.register_error_handler(429, _too_many_requests)
    app.extensions["catalog.limiter"] = limiter


def _init_cookies(app: Flask) -> None:
    """Session cookies: not readable by scripts, not sent on cross-site posts, HTTPS-only on HTTPS sites."""
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = app.config["SITE_URL"].lower().startswith("https://")


def add_security_headers(response: Response) -> Response:
    """Add the security headers (and HSTS on an HTTPS site) unless the view already set them."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["SITE_URL"].lower().startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response
