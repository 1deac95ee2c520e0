"""Server-side request forgery: the attacks of issue 12, finding 2, against the outbound policy.

The "internal service" is a real HTTP server on 127.0.0.1 that answers every request with a secret and
counts what it was asked. The attacks run on an app built WITHOUT ``OUTBOUND_ALLOW`` (the production
default; the rest of the suite allows 127.0.0.1 for its loopback servers), on both databases:

* a webhook to the internal service, made by an account of no department: refused by webhook_create;
  a *name* that resolves to loopback (``localhost``) passes creation and is refused when the delivery is
  sent (what DNS rebinding would do), so the service never hears from us and its answer never reaches
  the delivery log;
* the ``http_json``, ``ckan`` and ``dcat`` sources, the ``ckan`` push target and ``catalog exchange
  harvest`` refuse loopback, private, link-local (metadata), IPv6 loopback, IPv4-mapped IPv6 and the
  decimal / octal spellings of 127.0.0.1 — and work once the operator allowlists the host or range;
* a redirect from an allowed host into loopback is not followed.
"""
from __future__ import annotations

import datetime as dt
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server

from catalog import create_app
from catalog.auth.models import User
from catalog.cli import main as catalog_cli, run_migrations
from catalog.db import get_db
from catalog.errors import ValidationError
from catalog.exchange.harvest import harvest
from catalog.webhooks.delivery import Settings, drain, due_deliveries
from connectors.base import Row, SourceError, TargetError
from connectors.outbound import Policy
from connectors.sources.ckan import CkanSource
from connectors.sources.dcat import DcatSource
from connectors.sources.http_json import HttpJsonSource
from connectors.targets.ckan import RemoteCkanTarget
from tests.conftest import Api, Factory, rolled_back

SECRET = "INTERNAL-ONLY admin password hunter2"
TURTLE = f"""@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
<http://internal.example/dataset/1> a dcat:Dataset ; dct:identifier "101001/000001" ;
    dct:title "{SECRET}"@zh .
""".encode()


class _Internal(BaseHTTPRequestHandler):
    """An internal service: JSON records, a CKAN action API, a DCAT page, a redirect; all carry SECRET."""

    def _answer(self) -> None:
        self.server.requests.append((self.command, self.path))
        parts = urlsplit(self.path)
        if parts.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", parse_qs(parts.query)["to"][0])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts.path.endswith(".ttl"):
            body, kind = TURTLE, "text/turtle"
        elif parts.path.endswith(".jsonld"):  # a DCAT page naming a remote JSON-LD context (?context=<url>)
            body, kind = json.dumps({"@context": parse_qs(parts.query)["context"][0],
                                     "@id": "http://internal.example/dataset/1", "@type": "dcat:Dataset",
                                     "dct:identifier": "101001/000001", "dct:title": SECRET}), "application/ld+json"
        elif parts.path == "/context.json":
            body, kind = json.dumps({"@context": {"dcat": "http://www.w3.org/ns/dcat#",
                                                  "dct": "http://purl.org/dc/terms/"}}), "application/ld+json"
        elif parts.path.startswith("/api/3/action/"):
            body, kind = json.dumps({"success": True, "result": {"records": [{"id": "1", "note": SECRET}]}}), \
                "application/json"
        else:
            body, kind = json.dumps({"records": [{"id": "1", "note": SECRET}]}), "application/json"
        body = body if isinstance(body, bytes) else body.encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


def _serve(status: int = 200):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Internal)
    server.requests, server.status = [], status
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


@pytest.fixture
def internal():
    """The internal service on a free loopback port: ``.port``, ``.requests`` (method, path) it got."""
    server, thread = _serve()
    yield SimpleNamespace(port=server.server_port, requests=server.requests, server=server)
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def other_internal():
    """A second loopback service (the redirect's destination)."""
    server, thread = _serve()
    yield SimpleNamespace(port=server.server_port, requests=server.requests)
    server.shutdown()
    thread.join(timeout=5)


def spellings(port: int) -> dict[str, str]:
    """The internal addresses an attacker writes, each as a URL base."""
    return {"loopback": f"http://127.0.0.1:{port}", "private": "http://10.0.0.5", "metadata": "http://169.254.169.254",
            "ipv6 loopback": f"http://[::1]:{port}", "ipv4-mapped": f"http://[::ffff:127.0.0.1]:{port}",
            "decimal": f"http://2130706433:{port}", "octal": f"http://0177.0.0.1:{port}"}


# --- the app without an allowlist ----------------------------------------------------------------


@pytest.fixture
def strict(base_app, database_url, tmp_path):
    """The app on the test database with the production default: no OUTBOUND_ALLOW."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test", "SITE_URL": "http://localhost", "WEBHOOK_DISPATCH": "manual",
                      "WEBHOOK_MAX_ATTEMPTS": 3, "WEBHOOK_RETRY_DELAY": 0.01, "WEBHOOK_TIMEOUT": 5})
    assert app.config["OUTBOUND_ALLOW"] == ""
    with rolled_back(app):
        yield app
    get_db(app).engine.dispose()


@pytest.fixture
def world(strict):
    """A department's public dataset with a DataStore table, and an account that belongs to no department."""
    make, api = Factory(strict), Api(strict.test_client())
    root = make.user("root", sysadmin=True)
    editor, outsider = make.user("editor"), make.user("outsider")
    owner = make.department("gaj", members={"editor": editor})
    dataset = make.dataset(owner["id"], share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"], "name": "人口"},
                                            "fields": [{"id": "id", "type": "text"}], "primary_key": "id"},
                       token=editor.token)
    assert created.status == 200, created.body
    return SimpleNamespace(app=strict, api=api, dataset=dataset, root=root, editor=editor, outsider=outsider,
                           resource_id=created.result["resource_id"])


def _send_all(app) -> dict[str, str]:
    return drain(get_db(app), due_deliveries(get_db(app)), Settings.from_config(app.config))


# --- webhooks ---------------------------------------------------------------------------------------


def test_a_webhook_to_an_internal_address_is_refused_at_creation(world, internal):
    for kind, base in spellings(internal.port).items():
        reply = world.api.call("webhook_create", {"package_id": world.dataset["name"], "url": f"{base}/admin"},
                               token=world.outsider.token)
        assert reply.status == 409, (kind, reply.body)
        assert "url" in reply.error and "CATALOG_OUTBOUND_ALLOW" in " ".join(reply.error["url"]), (kind, reply.error)
    listed = world.api.call("webhook_list", {}, token=world.outsider.token)
    assert listed.result == []
    assert internal.requests == []


def test_a_name_that_resolves_to_loopback_is_refused_when_the_delivery_is_sent(world, internal):
    # a name is judged when it is used: at creation it might point anywhere (DNS rebinding)
    created = world.api.call("webhook_create", {"package_id": world.dataset["name"],
                                                "url": f"http://localhost:{internal.port}/admin"},
                             token=world.outsider.token)
    assert created.status == 200, created.body
    upsert = world.api.call("datastore_upsert", {"resource_id": world.resource_id, "records": [{"id": "a"}],
                                                 "method": "upsert"}, token=world.editor.token)
    assert upsert.status == 200, upsert.body
    assert list(_send_all(world.app).values()) == ["failed"]  # at once: waiting will not make it public
    assert internal.requests == []
    (delivery,) = world.api.call("webhook_delivery_list", {"id": created.result["id"]},
                                 token=world.outsider.token).result
    assert delivery["attempts"] == 1
    assert delivery["last_error"].startswith(f"refused: localhost:{internal.port} is not a public address")
    assert "CATALOG_OUTBOUND_ALLOW" in delivery["last_error"]
    assert "127.0.0.1" not in json.dumps(delivery)  # the subscriber learns nothing of internal DNS
    assert SECRET not in json.dumps(delivery, ensure_ascii=False)


def test_a_delivery_log_keeps_the_status_never_the_receivers_answer(app, api, make, internal, monkeypatch):
    """Even where the operator allowed the address (the suite allows 127.0.0.1), the subscriber reads
    back only the status and its standard phrase, not what the receiver answered."""
    internal.server.status = 500
    editor, outsider = make.user("editor"), make.user("outsider")
    make.user("root", sysadmin=True)
    owner = make.department("gaj", members={"editor": editor})
    dataset = make.dataset(owner["id"], share_type="unconditional", share_condition=None)
    created = api.call("webhook_create", {"package_id": dataset["name"], "url": f"http://127.0.0.1:{internal.port}/"},
                       token=outsider.token)
    assert created.status == 200, created.body
    patched = api.call("package_patch", {"id": dataset["id"], "notes": "更新说明"}, token=editor.token)
    assert patched.status == 200, patched.body
    for name, value in {"WEBHOOK_DISPATCH": "manual", "WEBHOOK_RETRY_DELAY": 0.01, "WEBHOOK_MAX_ATTEMPTS": 2}.items():
        monkeypatch.setitem(app.config, name, value)
    assert list(_send_all(app).values()) == ["failed"]
    assert len(internal.requests) == 2
    (delivery,) = api.call("webhook_delivery_list", {"id": created.result["id"]}, token=outsider.token).result
    assert [t["error"] for t in delivery["log"]] == ["HTTP 500 Internal Server Error"] * 2
    assert SECRET not in json.dumps(delivery, ensure_ascii=False)


# --- sources and the push target --------------------------------------------------------------------


SOURCES = {
    "http_json": (HttpJsonSource, lambda base: {"url": f"{base}/records", "records_path": "records"}),
    "ckan": (CkanSource, lambda base: {"url": base, "resource_id": "r1", "use_changes": False}),
    "dcat": (DcatSource, lambda base: {"url": f"{base}/catalog.ttl"}),
}


def _source(kind: str, policy: Policy):
    source = SOURCES[kind][0]()
    source.outbound = policy
    return source


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_sources_refuse_internal_addresses_when_defined_and_when_read(kind, internal):
    strict = Policy.parse("", setting="CATALOG_OUTBOUND_ALLOW")
    for name, base in spellings(internal.port).items():
        config = SOURCES[kind][1](base)
        with pytest.raises(SourceError, match="refused.*CATALOG_OUTBOUND_ALLOW"):
            _source(kind, strict).check(config)
        if name not in ("private", "metadata"):  # the others reach the service here: the read itself refuses
            with pytest.raises(SourceError, match="refused"):
                list(_source(kind, strict).read(config, None, None))
    # a name is judged after it is resolved, when it is read
    named = SOURCES[kind][1](f"http://localhost:{internal.port}")
    _source(kind, strict).check(named)
    with pytest.raises(SourceError, match=r"localhost:\d+ \(127\.0\.0\.1\) are refused: a loopback address"):
        list(_source(kind, strict).read(named, None, None))
    assert internal.requests == []


@pytest.mark.parametrize("kind", sorted(SOURCES))
def test_sources_read_an_internal_service_the_operator_allowlisted(kind, internal):
    for allowed in ("127.0.0.1", f"127.0.0.1:{internal.port}", "127.0.0.0/8", "localhost"):
        policy = Policy.parse(allowed)
        base = f"http://{'localhost' if allowed == 'localhost' else '127.0.0.1'}:{internal.port}"
        rows = [item for item in _source(kind, policy).read(SOURCES[kind][1](base), None, None)
                if isinstance(item, Row)]
        assert len(rows) == 1, (allowed, rows)
    # the address spellings are one address: allowed once, allowed in every spelling
    for name in ("decimal", "octal"):
        config = SOURCES[kind][1](spellings(internal.port)[name])
        assert len([i for i in _source(kind, Policy.parse("127.0.0.1")).read(config, None, None)
                    if isinstance(i, Row)]) == 1
    # a range or host allowlisted passes the definition check too
    _source(kind, Policy.parse("10.0.0.0/8,169.254.169.254")).check(SOURCES[kind][1]("http://10.0.0.5"))
    _source(kind, Policy.parse("10.0.0.0/8,169.254.169.254")).check(SOURCES[kind][1]("http://169.254.169.254"))
    # an allowance for one port is not one for another
    with pytest.raises(SourceError, match="refused"):
        _source(kind, Policy.parse("127.0.0.1:1")).check(SOURCES[kind][1](f"http://127.0.0.1:{internal.port}"))


def test_a_redirect_from_an_allowed_host_into_loopback_is_not_followed(internal, other_internal):
    policy = Policy.parse(f"127.0.0.1:{internal.port}", setting="CATALOG_OUTBOUND_ALLOW")
    inside = f"http://127.0.0.1:{other_internal.port}/records"
    config = {"url": f"http://127.0.0.1:{internal.port}/redirect?to={inside}", "records_path": "records"}
    _source("http_json", policy).check(config)
    with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{other_internal.port} are refused"):
        list(_source("http_json", policy).read(config, None, None))
    assert internal.requests == [("GET", urlsplit(config["url"]).path + "?" + urlsplit(config["url"]).query)]
    assert other_internal.requests == []  # the redirect's target never heard from us
    with pytest.raises(SourceError, match="refused"):  # the DCAT pages follow the same rule
        list(_source("dcat", policy).read({"url": config["url"].replace("/records", "/catalog.ttl")}, None, None))
    assert other_internal.requests == []


def test_the_push_target_refuses_an_internal_peer_until_it_is_allowlisted(internal, tmp_path):
    for name, base in spellings(internal.port).items():
        if name in ("private", "metadata"):
            continue  # nothing listens there: the definition check of push jobs covers them (sync service)
        target = RemoteCkanTarget(base, "r1", "token", ["id"], tmp_path / f"{name.replace(' ', '-')}.json",
                                  sleep=lambda seconds: None)
        with pytest.raises(TargetError, match="refused.*allowlist"):
            target.write([(1, {"id": "a"})], [], {"offset": 1})
        target.close()
    assert internal.requests == []
    allowed = RemoteCkanTarget(f"http://127.0.0.1:{internal.port}", "r1", "token", ["id"], tmp_path / "ok.json",
                               outbound=Policy.parse("127.0.0.1"))
    counts = allowed.write([(1, {"id": "a"})], [], {"offset": 1})
    allowed.close()
    assert counts.total == 1 and [m for m, _ in internal.requests] == ["POST"]


# --- harvesting ---------------------------------------------------------------------------------------


def test_harvest_refuses_internal_addresses(world, internal):
    with get_db(world.app).session() as session:
        root = session.get(User, world.root.id)
        for name, base in spellings(internal.port).items():
            with pytest.raises(ValidationError) as refused:
                harvest(session, root, f"{base}/catalog.ttl", organization="gaj")
            assert "CATALOG_OUTBOUND_ALLOW" in " ".join(refused.value.errors["url"]), name
        with pytest.raises(ValidationError) as named:  # a name: refused once resolved
            harvest(session, root, f"http://localhost:{internal.port}/catalog.ttl", organization="gaj")
        assert "(127.0.0.1) are refused: a loopback address" in " ".join(named.value.errors["url"])
    # the action a sysadmin calls: 409 on url, and the service was never asked
    reply = world.api.call("catalog_harvest", {"url": f"http://2130706433:{internal.port}/catalog.ttl",
                                               "organization": "gaj"}, token=world.root.token)
    assert reply.status == 409 and "CATALOG_OUTBOUND_ALLOW" in " ".join(reply.error["url"]), reply.body
    assert internal.requests == []


@pytest.fixture
def cli_catalog(tmp_path, monkeypatch):
    """A catalog as `catalog` commands see it (fresh SQLite, admin, department mzj), and another
    catalog with one dataset served on a loopback port (``url``, ``port``)."""
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    for name in ("CATALOG_DATABASE_URL", "CATALOG_OUTBOUND_ALLOW"):
        monkeypatch.delenv(name, raising=False)
    runner = CliRunner()
    assert runner.invoke(catalog_cli, ["db", "upgrade"]).exit_code == 0
    ours = create_app()
    Factory(ours).user("admin", sysadmin=True)
    Factory(ours).department("mzj")
    get_db(ours).engine.dispose()
    other = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
                        "INSTANCE_PATH": str(tmp_path / "other"), "SECRET_KEY": "other"})
    run_migrations(other)
    make = Factory(other)
    make.user("other-admin", sysadmin=True)
    make.dataset(make.department("mzj")["id"], share_type="unconditional", share_condition=None)
    server = make_server("127.0.0.1", 0, other, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", port=server.server_port, runner=runner)
    server.shutdown()
    thread.join(timeout=5)
    get_db(other).engine.dispose()


def test_catalog_exchange_harvest_refuses_loopback_unless_allowlisted(cli_catalog, monkeypatch):
    def run(location):
        return cli_catalog.runner.invoke(catalog_cli, ["exchange", "harvest", location, "--organization", "mzj",
                                                       "--user", "admin"])

    for location in (f"{cli_catalog.url}/catalog.ttl", f"http://0177.0.0.1:{cli_catalog.port}/catalog.ttl",
                     f"http://[::ffff:127.0.0.1]:{cli_catalog.port}/catalog.ttl",
                     f"http://localhost:{cli_catalog.port}/catalog.ttl"):
        refused = run(location)
        assert refused.exit_code != 0, refused.output
        assert "CATALOG_OUTBOUND_ALLOW" in refused.output, refused.output
    monkeypatch.setenv("CATALOG_OUTBOUND_ALLOW", f"127.0.0.1:{cli_catalog.port}")
    allowed = run(f"{cli_catalog.url}/catalog.ttl")
    assert allowed.exit_code == 0, allowed.output
    assert "created 1," in allowed.output


def test_a_push_job_to_an_internal_peer_is_refused_when_defined(world, internal):
    for name, base in spellings(internal.port).items():
        reply = world.api.call("sync_job_create", {
            "package_id": world.dataset["id"], "resource_id": world.resource_id, "name": "push-inside",
            "source": "datastore", "target": {"type": "ckan", "url": base, "resource_id": "r1"}},
            token=world.editor.token)
        assert reply.status == 409, (name, reply.body)
        assert "CATALOG_OUTBOUND_ALLOW" in " ".join(reply.error["target"]), (name, reply.error)


def test_an_allowlist_entry_that_is_not_a_host_address_or_range_stops_the_start(tmp_path):
    for entry in ("10.0.0.0/33", "127.0.0.1:99999", "http://peer.internal/", "peer internal"):
        with pytest.raises(ValueError, match="CATALOG_OUTBOUND_ALLOW"):
            create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x",
                        "INSTANCE_PATH": str(tmp_path), "OUTBOUND_ALLOW": f"127.0.0.1,{entry}"})


@pytest.fixture
def tls_internal(tmp_path):
    """The internal service over HTTPS with a certificate for ``localhost`` (self-signed: ``.ca``)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
                   .not_valid_after(now + dt.timedelta(hours=1))
                   .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server, thread = _serve()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    yield SimpleNamespace(port=server.server_port, requests=server.requests, ca=str(cert_file))
    server.shutdown()
    thread.join(timeout=5)


def test_the_pinned_connection_keeps_the_name_for_tls_and_the_host_header(tls_internal):
    """The request goes to the checked address, yet the certificate is checked for the URL's name."""
    with Policy.parse("localhost").session() as session:
        session.verify = tls_internal.ca
        answer = session.get(f"https://localhost:{tls_internal.port}/records", timeout=5)
        assert answer.status_code == 200 and answer.json()["records"]
        # the same server by its address: the certificate does not name 127.0.0.1, so TLS refuses it
        with Policy.parse("127.0.0.1").session() as by_address:
            by_address.verify = tls_internal.ca
            with pytest.raises(requests.exceptions.SSLError):
                by_address.get(f"https://127.0.0.1:{tls_internal.port}/records", timeout=5)
    assert len(tls_internal.requests) == 1


def test_a_remote_json_ld_context_is_fetched_under_the_policy_not_by_rdflib(internal, other_internal, tmp_path):
    """rdflib fetches a JSON-LD document's remote @context itself; the dcat source must not let it."""
    context = f"http://127.0.0.1:{other_internal.port}/context.json"
    config = {"url": f"http://127.0.0.1:{internal.port}/catalog.jsonld?context={context}"}
    only_the_page = Policy.parse(f"127.0.0.1:{internal.port}", setting="CATALOG_OUTBOUND_ALLOW")
    with pytest.raises(SourceError, match=rf"127\.0\.0\.1:{other_internal.port} are refused"):
        list(_source("dcat", only_the_page).read(config, None, None))
    assert other_internal.requests == []
    # a file (a connection's folder) naming one: the same rule
    page = tmp_path / "catalog.jsonld"
    page.write_text(json.dumps({"@context": context, "@id": "http://x/1", "@type": "dcat:Dataset",
                                "dct:identifier": "1"}), encoding="utf-8")
    with pytest.raises(SourceError, match="refused"):
        list(_source("dcat", only_the_page).read({"path": str(page)}, None, None))
    assert other_internal.requests == []
    # allowed: fetched through the policy's session and read
    rows = [i for i in _source("dcat", Policy.parse("127.0.0.1")).read(config, None, None) if isinstance(i, Row)]
    assert [r.data["identifier"] for r in rows] == ["101001/000001"]
    assert other_internal.requests == [("GET", "/context.json")]
