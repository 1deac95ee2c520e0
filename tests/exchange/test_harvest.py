"""Harvesting another catalog's DCAT-AP export: a second catalog (fresh SQLite database, served on a
loopback port) is read page by page into a department of the catalog under test (both databases)."""
from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from catalog import create_app
from catalog.cli import run_migrations
from catalog.datasets.models import Dataset
from catalog.datasets.service import metadata_of
from catalog.db import get_db
from catalog.exchange.harvest import HARVESTED_FIELDS, harvest
from tests.conftest import Factory
from tests.exchange.conftest import varied_datasets


@pytest.fixture
def source(tmp_path):
    """Another catalog on its own database, served on a free loopback port: url, app, factory."""
    other = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
                        "INSTANCE_PATH": str(tmp_path / "other"), "SECRET_KEY": "other",
                        "SITE_URL": "https://data.other.gov.cn"})
    run_migrations(other)
    make = Factory(other)
    make.user("other-admin", sysadmin=True)
    dept = make.department("mzj", title="宁陕县民政局")
    varied_datasets(make, dept["id"])
    for n in range(3):
        make.dataset(dept["id"], name=f"extra-{n}", resource_code=f"101001/00020{n}", tags=[f"标签{n}"])
    server = make_server("127.0.0.1", 0, other, threaded=False)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", other, make
    server.shutdown()
    thread.join(timeout=5)
    get_db(other).engine.dispose()


def core(session) -> dict[str, dict]:
    """The harvested fields (and tags) of every dataset, by resource code."""
    session.expire_all()
    found = {}
    for dataset in session.scalars(sa.select(Dataset).where(Dataset.state == "active", Dataset.private.is_(False))):
        values = metadata_of(dataset)
        found[dataset.resource_code] = {**{f: values[f] for f in HARVESTED_FIELDS}, "tags": values["tags"],
                                        "name": values["name"]}
    return found


@pytest.fixture
def target(make, sysadmin):
    return make.department("harvested", title="收割目录")


def run_harvest(app, location, actor_name="admin", **options):
    from catalog.auth.service import get_user

    with get_db(app).session() as session:
        report = harvest(session, get_user(session, actor_name), location, organization="harvested", **options)
        session.commit()
        return report


def test_harvest_copies_the_public_catalog_and_is_idempotent(app, db, source, target):
    url, other, _make = source
    report = run_harvest(app, f"{url}/catalog.ttl?page_size=2")  # three pages
    assert (report.created, report.updated, report.unchanged, report.failed) == (5, 0, 0, 0), report.errors
    assert report.fatal is None
    with get_db(other).session() as remote:
        expected = core(remote)
    assert core(db) == expected
    assert len(expected) == 5 and "301002/000007" in expected
    harvested = db.scalar(sa.select(Dataset).where(Dataset.name == "hukou"))
    assert harvested.organization.name == "harvested"
    assert harvested.extras["harvest_source"].startswith("https://data.other.gov.cn/dataset/")

    again = run_harvest(app, f"{url}/catalog.jsonld")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 5)


def test_a_changed_dataset_is_updated_and_other_fields_kept(app, db, source, target):
    url, other, _make = source
    run_harvest(app, f"{url}/catalog.rdf")
    with get_db(other).session() as remote:
        dataset = remote.scalar(sa.select(Dataset).where(Dataset.name == "dibao"))
        values = {k: v for k, v in metadata_of(dataset).items() if k not in ("tags", "extras")}
        values.update(update_cycle="daily", title="最低生活保障对象（更新）")
        _update_as_admin(remote, dataset, values)
        remote.commit()
    local = db.scalar(sa.select(Dataset).where(Dataset.name == "dibao"))
    local.url = "https://example.gov.cn/kept"  # a field the harvest does not own
    db.commit()
    report = run_harvest(app, f"{url}/catalog.ttl")
    assert (report.created, report.updated, report.unchanged) == (0, 1, 4), report.errors
    db.expire_all()
    local = db.scalar(sa.select(Dataset).where(Dataset.name == "dibao"))
    assert (local.update_cycle, local.title, local.url) == ("daily", "最低生活保障对象（更新）", "https://example.gov.cn/kept")


def _update_as_admin(session, dataset, values):
    from catalog.auth.models import User
    from catalog.datasets.service import update_dataset

    admin = session.scalar(sa.select(User).where(User.sysadmin.is_(True)))
    update_dataset(session, admin, dataset, values=values)


def test_a_code_of_another_department_is_never_taken_over(app, db, make, source, target):
    url, _other, _make = source
    mine = make.department("mine")
    make.dataset(mine["id"], name="local-dibao", resource_code="301002/000007", category="301")
    report = run_harvest(app, f"{url}/catalog.ttl")
    assert report.created == 4 and report.failed == 1
    error = report.errors[0]
    assert error["identifier"] == "301002/000007" and "another department" in error["message"]
    assert db.scalar(sa.select(Dataset.owner_org).where(Dataset.name == "local-dibao")) == mine["id"]


BROKEN = """
@prefix dcat: <http://www.w3.org/ns/dcat#> . @prefix dct: <http://purl.org/dc/terms/> .
<https://x.example/d/1> a dcat:Dataset ; dct:title "没有标识"@zh ; dct:description "无"@zh .
<https://x.example/d/2> a dcat:Dataset ; dct:title "没有更新周期"@zh ; dct:description "缺周期"@zh ;
    dct:identifier "101001/000301" ;
    dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> .
"""


def test_errors_name_the_dataset_and_the_field(app, db, tmp_path, target):
    path = tmp_path / "other.ttl"
    path.write_text(BROKEN, encoding="utf-8")
    report = run_harvest(app, str(path))
    assert report.failed == 2 and report.created == 0
    fields = {(e["uri"], e["field"]) for e in report.errors}
    assert ("https://x.example/d/1", "identifier") in fields
    assert ("https://x.example/d/2", "update_cycle") in fields
    bad = tmp_path / "bad.ttl"
    bad.write_text("this is not turtle", encoding="utf-8")
    from catalog.errors import ValidationError

    with pytest.raises(ValidationError) as raised:
        run_harvest(app, str(bad))
    assert "not valid turtle" in raised.value.errors["url"][0]


def test_the_harvest_action_is_for_sysadmins_and_reports(api, make, source, target, sysadmin):
    url, _other, _make = source
    editor = make.user("editor-h")
    refused = api.call("catalog_harvest", {"url": f"{url}/catalog.ttl", "organization": "harvested"},
                       token=editor.token)
    assert refused.status == 403
    dry = api.call("catalog_harvest", {"url": f"{url}/catalog.ttl", "organization": "harvested", "dry_run": True},
                   token=sysadmin.token).result
    assert dry["created"] == 5 and dry["dry_run"] is True
    done = api.call("catalog_harvest", {"url": f"{url}/catalog.ttl", "organization": "harvested"},
                    token=sysadmin.token).result
    assert done["created"] == 5
    assert api.call("package_show", {"id": "hukou"}, method="GET").result["organization"]["name"] == "harvested"
    unreachable = api.call("catalog_harvest", {"url": "http://127.0.0.1:9/catalog.ttl", "organization": "harvested"},
                           token=sysadmin.token)
    assert unreachable.status == 409 and "url" in unreachable.error
    assert api.call("catalog_harvest", {"url": "ftp://x", "organization": "harvested"},
                    token=sysadmin.token).status == 409


def test_our_own_export_on_live_url_harvests_into_a_fresh_database(live_url, db, make, depts, tmp_path):
    """The other direction: the catalog under test (either database) serves its export on a loopback
    port and a fresh catalog harvests it."""
    from catalog.auth.service import get_user

    varied_datasets(make, depts.mzj["id"])
    fresh = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",
                        "INSTANCE_PATH": str(tmp_path / "fresh"), "SECRET_KEY": "fresh",
                        "OUTBOUND_ALLOW": "127.0.0.1"})  # live_url is on loopback
    run_migrations(fresh)
    try:
        Factory(fresh).user("admin", sysadmin=True)
        Factory(fresh).department("harvested")
        with get_db(fresh).session() as session:
            report = harvest(session, get_user(session, "admin"), f"{live_url}/catalog.jsonld?page_size=1",
                             organization="harvested")
            session.commit()
            assert (report.created, report.failed) == (2, 0), report.errors
            assert core(session) == core(db)  # the public, active ones: hukou and dibao
    finally:
        get_db(fresh).engine.dispose()
