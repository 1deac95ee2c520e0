"""Computed deadlines count in the county's working-day calendar (CATALOG_HOLIDAYS, CATALOG_WORKDAYS),
the same one share requests use, in runs, previews and quarantine retries alike."""
from __future__ import annotations

import functools

from catalog import create_app
from catalog.db import get_db
from catalog.sharing import workdays
from connectors import Mapping
from tests.schemas.records_samples import petitions
from tests.sync.helpers import folder_connection
from tests.sync.test_jobs import HEADERS, petition_csv

# National Day 2026 (State Council notice): 1–7 October off; Sunday 20 September and Saturday 10 October worked
NATIONAL_DAY = {"HOLIDAYS": ",".join(f"2026-10-0{d}" for d in range(1, 8)), "WORKDAYS": "2026-09-20,2026-10-10"}
DEADLINE = {"computed": {"deadline": "{{ date_add(受理日期, 3, working=True) }}"}}


def test_the_configured_holidays_and_make_up_days_are_the_calendar_of_computed_deadlines(tmp_path):
    app = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test", **NATIONAL_DAY})
    database = get_db(app)
    with database.session() as session:
        calendar = session.info["working_day"]
    mapping = Mapping.from_config(DEADLINE, working_day=calendar)
    # Wednesday 30 September + 3 working days: 8 (Thu), 9 (Fri), 10 October (the make-up Saturday)
    assert mapping.apply({"受理日期": "2026年9月30日"})[0]["deadline"] == "2026-10-10"
    # Friday 18 September + 3: the make-up Sunday 20, then 21 and 22
    assert mapping.apply({"受理日期": "2026-09-18"})[0]["deadline"] == "2026-09-22"
    # without holidays configured only weekends are skipped: 1, 2 and 5 October
    plain = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
                        "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test"})
    assert Mapping.from_config(DEADLINE, working_day=get_db(plain).working_day).apply(
        {"受理日期": "2026-09-30"})[0]["deadline"] == "2026-10-05"
    for each in (app, plain):
        get_db(each).engine.dispose()


def test_a_run_and_a_preview_store_the_deadline_after_the_holidays(api, app, make, sysadmin, tmp_path, monkeypatch):
    calendar = functools.partial(workdays.is_working_day, holidays=workdays.parse_holidays(NATIONAL_DAY["HOLIDAYS"]),
                                 workdays=workdays.parse_holidays(NATIONAL_DAY["WORKDAYS"]))
    monkeypatch.setattr(get_db(app), "working_day", calendar)
    monkeypatch.setitem(get_db(app).sessionmaker.kw["info"], "working_day", calendar)
    dept = make.department("ningshan-xfj")
    dataset = make.dataset(dept["id"], name="petitions", record_schema="petition@1")
    rows = [dict(row, accepted_on="2026-09-30") for row in petitions(3, seed=5)]
    petition_csv(tmp_path / "台账.csv", rows)
    folder_connection(api, sysadmin.token, "xfj-exports", tmp_path, [dept["id"]])
    rename = {v: k for k, v in HEADERS.items() if k != "deadline"} | {"信访人姓名": "petitioner.name"}
    mapping = {"rename": rename, "computed": {"deadline": "{{ date_add(受理日期, 1) }}"},
               "dates": ["accepted_on", "deadline", "completed_on"]}
    job = api.call("sync_job_create", {"name": "petition-office", "package_id": dataset["id"], "source": "csv",
                                       "source_config": {"connection": "xfj-exports", "path": "台账.csv"},
                                       "mapping": mapping}, token=sysadmin.token)
    assert job.status == 200, job.body
    preview = api.call("sync_job_preview", {"id": "petition-office", "rows": 1}, token=sysadmin.token).result
    assert {f["field"]: f["value"] for f in preview[0]["fields"]}["deadline"] == "2026-10-08"
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert run["status"] == "succeeded", run
    stored = api.call("datastore_search", {"resource_id": job.result["resource_id"]}, token=sysadmin.token).result
    assert {r["deadline"] for r in stored["records"]} == {"2026-10-08"}  # Thursday after the week off
