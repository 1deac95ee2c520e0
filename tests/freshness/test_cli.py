"""``catalog freshness report``: the ranking table, aligned for Chinese department names."""
from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from catalog import create_app
from catalog.cli import main, run_migrations
from catalog.db import get_db
from catalog.freshness.cli import display_width, format_table
from tests.conftest import dataset_values
from tests.freshness.helpers import at


def test_display_width_counts_chinese_characters_twice():
    assert display_width("Rank") == 4
    assert display_width("宁陕县民政局") == 12
    assert display_width("按时率 On time") == 14


def test_the_table_lines_up_under_chinese_headers():
    rows = [{"rank": 1, "name": "mzj", "title": "宁陕县民政局", "total": 12, "fresh": 11, "due": 1, "overdue": 0,
             "share_on_time": 1.0},
            {"rank": 2, "name": "rsj", "title": "宁陕县人力资源和社会保障局", "total": 3, "fresh": 1, "due": 0,
             "overdue": 2, "share_on_time": 1 / 3},
            {"rank": None, "name": "lyj", "title": "lyj", "total": 0, "fresh": 0, "due": 0, "overdue": 0,
             "share_on_time": None}]
    header, rule, *lines = format_table(rows)
    assert header.startswith("排名 Rank  部门 Department")
    assert "逾期 Overdue" in header and "按时率 On time" in header
    # every line ends its last column at the same display width
    assert len({display_width(line) for line in (header, rule, *lines)}) == 1
    assert lines[0].endswith("100.0%") and lines[1].endswith("33.3%") and lines[2].endswith("—")
    assert "宁陕县民政局 (mzj)" in lines[0] and lines[2].split()[1] == "lyj"


def test_the_command_prints_the_ranking(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    env = {"CATALOG_DATABASE_URL": url, "CATALOG_INSTANCE_PATH": str(tmp_path), "CATALOG_SECRET_KEY": "cli",
           "CATALOG_FRESHNESS_GRACE": "0"}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "cli"})
    run_migrations(app)
    from catalog.auth.models import User
    from catalog.datasets.models import Dataset
    from catalog.datasets.service import create_dataset
    from catalog.departments.service import create_department

    with get_db(app).session() as session:
        admin = User(name="root", sysadmin=True)
        session.add(admin)
        session.flush()
        for n, name, title, last in ((1, "mzj", "宁陕县民政局", at(2099, 1, 1)), (2, "rsj", "宁陕县人社局", at(2020, 1, 1))):
            department = create_department(session, admin, name=name, title=title)
            dataset = create_dataset(session, admin, values=dataset_values(department.id, n))
            session.flush()
            session.execute(sa.update(Dataset).where(Dataset.id == dataset.id).values(metadata_modified=last))
        session.commit()
    get_db(app).engine.dispose()
    result = CliRunner().invoke(main, ["freshness", "report"])
    assert result.exit_code == 0, result.output
    header, _rule, first, second = result.output.splitlines()
    assert "部门 Department" in header
    assert first.split()[:2] == ["1", "宁陕县民政局"] and first.endswith("100.0%")
    assert second.split()[:2] == ["2", "宁陕县人社局"] and second.endswith("0.0%")
    assert display_width(first) == display_width(second)
