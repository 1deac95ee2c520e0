"""The demo holds a request returned for completion, one with an approved extension, and a grant delivered
by its first read, with a use record."""
from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from catalog import create_app
from catalog.cli import main
from catalog.db import get_db
from catalog.sharing.models import Grant, ShareRequest, UsageRecord


@pytest.mark.slow
def test_the_demo_has_a_returned_request_an_extension_a_delivered_grant_and_a_use_record(tmp_path, monkeypatch):
    monkeypatch.setenv("CATALOG_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("CATALOG_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    loaded = runner.invoke(main, ["demo", "load"], catch_exceptions=False)
    assert loaded.exit_code == 0, loaded.output
    assert "returned for completion" in loaded.output and "approved extension" in loaded.output
    again = runner.invoke(main, ["demo", "load"], catch_exceptions=False)
    assert "returned for completion" not in again.output, "loaded once"
    app = create_app()
    with get_db(app).session() as session:
        (returned,) = session.scalars(sa.select(ShareRequest).where(ShareRequest.status == "returned")).all()
        assert returned.dataset.name == "minimum-living-allowance" and set(returned.missing) == {"basis", "scenario"}
        (extended,) = session.scalars(sa.select(ShareRequest).where(ShareRequest.extension_status.is_not(None))).all()
        assert extended.extension_status == "approved" and extended.extension_days == 5
        (record,) = session.scalars(sa.select(UsageRecord)).all()
        grant = session.get(Grant, record.grant_id)
        assert grant.delivered_at is not None and grant.dataset.name == "household-register"
    get_db(app).engine.dispose()
