"""Security headers on every response and the session cookie's flags."""
from __future__ import annotations

import pytest
from flask import session

from catalog.security import CONTENT_SECURITY_POLICY

EXPECTED = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def assert_hardened(response):
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, name


def test_policy_forbids_inline_scripts_plugins_and_framing():
    directives = dict(part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert directives["base-uri"] == "'self'"


@pytest.mark.parametrize("path", ["/api/3/action/status_show", "/api/3/action/package_list",
                                  "/api/3/openapi.json", "/api/3"])
def test_api_responses_carry_the_headers(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert_hardened(response)


def test_api_errors_carry_the_headers(client):
    assert_hardened(client.get("/api/3/action/package_show", query_string={"id": "nothing-here"}))
    assert_hardened(client.post("/api/3/action/package_explode"))
    assert_hardened(client.get("/api/3/action/status_show", headers={"Authorization": "not-a-token"}))


def test_html_pages_carry_the_headers(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert_hardened(response)
    assert_hardened(client.get("/no/such/page"))


def test_the_landing_page_has_no_inline_script(client):
    page = client.get("/").get_data(as_text=True)
    assert "<script" not in page and "onclick=" not in page and "javascript:" not in page


def test_no_hsts_on_a_plain_http_site(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def _session_cookie(app) -> str:
    app.add_url_rule("/_test/session", "test_session", lambda: session.update(seen=1) or "ok")
    response = app.test_client().get("/_test/session")
    return next(value for value in response.headers.getlist("Set-Cookie") if value.startswith("session="))


def test_session_cookie_is_httponly_and_samesite_lax_on_http(standalone_app):
    cookie = _session_cookie(standalone_app())
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_https_site_gets_secure_cookies_and_hsts(standalone_app):
    app = standalone_app(SITE_URL="https://data.ningshan.gov.cn")
    assert "Secure" in _session_cookie(app)
    response = app.test_client().get("/api/3")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert_hardened(response)


def test_secure_cookie_can_be_forced_behind_a_tls_terminating_proxy(standalone_app):
    app = standalone_app(SITE_URL="http://catalog.internal", SESSION_COOKIE_SECURE=True)
    assert "Secure" in _session_cookie(app)


def test_cookie_flag_and_limits_are_read_from_the_environment(monkeypatch, standalone_app):
    monkeypatch.setenv("CATALOG_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("CATALOG_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("CATALOG_RATELIMIT_API", "5 per second")
    monkeypatch.setenv("CATALOG_PROXY_COUNT", "2")
    app = standalone_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["RATELIMIT_ENABLED"] is False
    assert app.config["RATELIMIT_API"] == "5 per second"
    assert app.config["PROXY_COUNT"] == 2
