"""The demo holds an open correction request whose records are flagged, and a fulfilled demand."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from catalog import create_app
from catalog.cli import main
from catalog.db import get_db
from catalog.demands.models import Demand
from catalog.objections.flags import flags_for
from catalog.objections.models import Objection


@pytest.mark.slow
def test_the_demo_has_an_open_objection_with_flagged_records_and_a_fulfilled_demand(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    loaded = runner.invoke(main, ["demo", "load"], catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output
    assert "Correction request (open, records flagged)" in loaded.output
    again = runner.invoke(main, ["demo", "load"], catch_exceptions=False)
    assert "Correction request" not in again.output, "loaded once"
    app = create_app()
    with get_db(app).session() as session:
        (objection,) = session.scalars(sa.select(Objection)).all()
        assert objection.status == "open" and len(objection.keys) == 2
        flags = flags_for(session, objection.package_id, objection.resource_id, [*objection.keys, "no-such-key"])
        assert flags == {key: {"id": objection.id, "status": "open"} for key in objection.keys}
        (demand,) = session.scalars(sa.select(Demand)).all()
        assert demand.status == "fulfilled" and demand.dataset.name == "minimum-living-allowance"
    get_db(app).engine.dispose()
