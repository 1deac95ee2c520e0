"""The demo ranks every department and every town for the last and the current quarter (make run)."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from catalog import create_app
from catalog.cli import main
from catalog.db import get_db, utcnow
from catalog.departments.models import Department
from catalog.reports import service
from catalog.reports.rules import Quarter
from schemas.samples import TOWNS


@pytest.mark.slow
def test_the_demo_ranks_every_department_and_town(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    loaded = runner.invoke(main, ["demo", "load"], catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output
    today = utcnow().date()
    current = Quarter(today.year, (today.month - 1) // 3 + 1)
    index = current.year * 4 + current.number - 2
    last = Quarter(index // 4, index % 4 + 1)
    assert f"Quarterly ranking {last}:" in loaded.output
    again = runner.invoke(main, ["demo", "load"], catch_exceptions=False)
    assert "Quarterly ranking" not in again.output, "loaded once"
    app = create_app()
    with get_db(app).session() as session:
        report = service.performance_report(session, None, app.config, quarter=last, check=False)
        departments = set(session.scalars(sa.select(Department.title)))
    get_db(app).engine.dispose()
    assert {row["title"] for row in report["departments"] if row["rank"] is not None} == departments
    assert {row["name"] for row in report["towns"] if row["rank"] is not None} == {town for town, _code in TOWNS}
    ranked = [row for row in report["departments"] if row["figures"]["service_cases"]["rate"] is not None]
    assert len(ranked) == len(departments)  # the 办件明细 table feeds every department
