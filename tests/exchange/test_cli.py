"""``catalog exchange export-xlsx`` / ``import-xlsx`` as a user runs them (fresh SQLite database)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from openpyxl import Workbook, load_workbook

from catalog.cli import main


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    run("db", "upgrade")
    assert run("user", "create", "admin", "--password", "s3cret-pass", "--sysadmin").exit_code == 0
    assert run("user", "create", "clerk", "--password", "s3cret-pass").exit_code == 0
    from catalog import create_app
    from catalog.auth.service import get_user
    from catalog.db import get_session
    from catalog.departments.service import create_department

    app = create_app()
    with app.app_context():
        session = get_session()
        create_department(session, get_user(session, "admin"), name="mzj", title="宁陕县民政局")
        session.commit()
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def sheet(path) -> None:
    workbook = Workbook()
    ws = workbook.active
    ws.title = "信息资源"
    ws.append(["标识名", "信息资源名称", "提供方标识名", "信息资源分类", "信息资源代码", "信息资源摘要", "共享类型",
               "开放类型", "开放条件", "更新周期"])
    ws.append(["dibao", "低保对象", "mzj", "301", "301002/000007", "全县低保对象", "无条件共享", "不予开放",
               "含个人信息", "每月"])
    ws.append(["broken", "坏行", "mzj", "301", "301002/000008", "摘要", "随便共享", "不予开放", "含个人信息", "每月"])
    items = workbook.create_sheet("信息项")
    items.append(["标识名", "信息项名称", "数据类型"])
    items.append(["dibao", "姓名", "字符型"])
    items.append(["broken", "姓名", "字符型"])
    workbook.save(path)


def test_import_then_export_from_the_command_line(env):
    path = env / "in.xlsx"
    sheet(path)
    dry = run("exchange", "import-xlsx", str(path), "--user", "admin", "--dry-run")
    assert dry.exit_code == 1  # a row failed
    assert "would be created 1" in dry.output
    assert "信息资源 row 3, 共享类型" in dry.output
    done = run("exchange", "import-xlsx", str(path), "--user", "admin")
    assert done.exit_code == 1 and "created 1," in done.output
    again = run("exchange", "import-xlsx", str(path), "--user", "admin")
    assert "created 0, updated 0, unchanged 1, failed 1" in again.output

    out = env / "out.xlsx"
    exported = run("exchange", "export-xlsx", str(out), "--organization", "mzj")
    assert exported.exit_code == 0 and "Exported 1 datasets" in exported.output
    rows = list(load_workbook(out)["信息资源"].iter_rows(values_only=True))
    assert rows[1][rows[0].index("标识名")] == "dibao"

    clerk = run("exchange", "import-xlsx", str(path), "--user", "clerk")
    assert clerk.exit_code == 1 and "cannot" in clerk.output
    unknown = run("exchange", "import-xlsx", str(path), "--user", "nobody")
    assert unknown.exit_code == 1 and "User not found" in unknown.output
    missing = run("exchange", "export-xlsx", str(out), "--organization", "nope")
    assert missing.exit_code == 1 and "nope" in missing.output


def test_harvest_a_dcat_file_from_the_command_line(env):
    path = env / "in.xlsx"
    sheet(path)
    run("exchange", "import-xlsx", str(path), "--user", "admin")
    from catalog import create_app
    from catalog.auth.service import get_user
    from catalog.db import get_session
    from catalog.departments.service import create_department

    app = create_app()
    turtle = app.test_client().get("/catalog.ttl").get_data(as_text=True)
    with app.app_context():
        session = get_session()
        create_department(session, get_user(session, "admin"), name="gaj", title="宁陕县公安局")
        session.commit()
    clash = env / "clash.ttl"
    clash.write_text(turtle, encoding="utf-8")
    refused = run("exchange", "harvest", str(clash), "--organization", "gaj", "--user", "admin")
    assert refused.exit_code == 1
    assert "301002/000007" in refused.output and "another department" in refused.output
    copy = env / "copy.ttl"
    copy.write_text(turtle.replace("301002/000007", "301002/000009"), encoding="utf-8")
    dry = run("exchange", "harvest", str(copy), "--organization", "gaj", "--user", "admin", "--dry-run")
    assert dry.exit_code == 0 and "would be created 1" in dry.output
    done = run("exchange", "harvest", str(copy), "--organization", "gaj", "--user", "admin")
    assert done.exit_code == 0 and "created 1," in done.output
    again = run("exchange", "harvest", str(copy), "--organization", "gaj", "--user", "admin")
    assert "unchanged 1" in again.output
    missing = run("exchange", "harvest", str(env / "nowhere.ttl"), "--organization", "gaj", "--user", "admin")
    assert missing.exit_code == 1 and "nowhere.ttl" in missing.output
