"""Schedules: cron checks, the schedule each update cycle (更新周期) promises, when a job is due."""
from __future__ import annotations

import datetime as dt

import pytest
from croniter import croniter

from catalog.auth.models import User
from catalog.connections.service import create_connection
from catalog.sync import schedule, service as sync_service
from catalog.sync.models import SyncRun

UTC = dt.timezone.utc
BEIJING = dt.timezone(dt.timedelta(hours=8))


def at(text: str) -> dt.datetime:
    """A UTC moment from ``2026-01-03 18:00:00``."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


# --- check ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression", ["0 2 * * *", "*/15 * * * *", "0 18 1 1,4,7,10 *", "30 8-17 * * 1-5",
                                        "0 0 L * *"])
def test_valid_cron_expressions_pass(expression):
    assert schedule.check(expression) is None


@pytest.mark.parametrize("expression", ["", "every day", "0 2 * *", "0 0 2 * * *", "61 2 * * *", "0 25 * * *",
                                        "0 2 32 * *", "0 2 * 13 *", "@daily", "每天 2 点"])
def test_invalid_cron_expressions_get_a_message_with_an_example(expression):
    assert schedule.check(expression) == "must be a cron expression of five fields, e.g. '0 2 * * *'"


# --- from_update_cycle ------------------------------------------------------------------------------

#: how far apart the runs of each cycle may be, at most (the promise), and at least
PROMISES = {"realtime": (dt.timedelta(minutes=15), dt.timedelta(minutes=15)),
            "daily": (dt.timedelta(days=1), dt.timedelta(days=1)),
            "weekly": (dt.timedelta(days=7), dt.timedelta(days=7)),
            "monthly": (dt.timedelta(days=31), dt.timedelta(days=28)),
            "quarterly": (dt.timedelta(days=92), dt.timedelta(days=90)),
            "semiannual": (dt.timedelta(days=184), dt.timedelta(days=181)),
            "yearly": (dt.timedelta(days=366), dt.timedelta(days=365))}


@pytest.mark.parametrize("cycle", list(PROMISES))
def test_each_update_cycle_has_a_schedule_that_keeps_its_promise(cycle):
    expression = schedule.from_update_cycle(cycle)
    assert expression is not None and schedule.check(expression) is None
    runs = croniter(expression, at("2025-12-31 00:00:00"))
    moments = [runs.get_next(dt.datetime) for _ in range(9)]
    gaps = [b - a for a, b in zip(moments, moments[1:])]
    longest, shortest = PROMISES[cycle]
    assert max(gaps) <= longest and min(gaps) >= shortest
    if cycle != "realtime":  # the nightly batch window: 02:00 Beijing time
        assert {m.astimezone(BEIJING).time() for m in moments} == {dt.time(2, 0)}


@pytest.mark.parametrize("cycle", ["irregular", None, "", "fortnightly"])
def test_irregular_and_unknown_cycles_have_no_schedule(cycle):
    assert schedule.from_update_cycle(cycle) is None


def test_every_cycle_of_the_metadata_profile_is_covered():
    from schemas import load_schema

    cycles = load_schema("metadata", "dataset", 1)["properties"]["update_cycle"]["enum"]
    assert set(cycles) == set(schedule.CYCLE_CRON) | {"irregular"}


# --- is_due -----------------------------------------------------------------------------------------

DAILY = "0 18 * * *"  # 02:00 Beijing


def test_a_job_never_run_is_due_at_once():
    assert schedule.is_due(DAILY, None, at("2026-01-03 12:00:00"))
    assert schedule.is_due("0 18 1 1 *", None, at("2026-06-30 00:00:00"))


@pytest.mark.parametrize(("now", "due"), [("2026-01-03 17:59:59", False), ("2026-01-03 18:00:00", True),
                                          ("2026-01-03 18:00:01", True), ("2026-01-05 09:00:00", True)])
def test_a_run_just_before_a_scheduled_time_is_due_again_from_that_time(now, due):
    assert schedule.is_due(DAILY, at("2026-01-03 17:59:58"), at(now)) is due


@pytest.mark.parametrize(("now", "due"), [("2026-01-03 18:00:30", False), ("2026-01-04 17:59:59", False),
                                          ("2026-01-04 18:00:00", True)])
def test_a_run_at_the_scheduled_time_covers_it_until_the_next_one(now, due):
    assert schedule.is_due(DAILY, at("2026-01-03 18:00:00"), at(now)) is due


def test_due_does_not_depend_on_the_zone_the_moments_are_given_in():
    last, now = at("2026-01-03 17:59:58"), at("2026-01-03 18:00:00")
    assert schedule.is_due(DAILY, last.astimezone(BEIJING), now.astimezone(BEIJING))
    assert not schedule.is_due(DAILY, last.astimezone(BEIJING), (now - dt.timedelta(seconds=1)).astimezone(BEIJING))
    naive = {"tzinfo": None}
    assert schedule.is_due(DAILY, last.replace(**naive), now.replace(**naive))  # naive moments are UTC
    assert not schedule.is_due(DAILY, last.replace(**naive), (now - dt.timedelta(seconds=1)).replace(**naive))


def test_a_realtime_schedule_is_due_every_quarter_hour():
    every = schedule.from_update_cycle("realtime")
    last = at("2026-01-03 10:15:02")
    assert not schedule.is_due(every, last, at("2026-01-03 10:29:59"))
    assert schedule.is_due(every, last, at("2026-01-03 10:30:00"))


# --- due_jobs ---------------------------------------------------------------------------------------


@pytest.fixture
def jobs(app, db, make, sysadmin, tmp_path):
    """Jobs on datasets with different update cycles, own schedules, enabled or not, with past runs."""
    source = tmp_path / "住户.csv"
    source.write_text("户编号,户主姓名\n", encoding="utf-8")
    dept = make.department("ningshan-mzj")
    datasets = {cycle: make.dataset(dept["id"], name=f"households-{cycle}", record_schema="household@1",
                                    update_cycle=cycle)["id"] for cycle in ("daily", "monthly", "irregular")}
    admin = db.get(User, sysadmin.id)
    create_connection(db, admin, name="mzj-exports", kind="folder", config={"path": str(tmp_path)},
                      organizations=[dept["id"]])

    def job(name: str, cycle: str, *, last_run: str | None = None, status: str = "succeeded", **values):
        created = sync_service.create_job(db, admin, package_id=datasets[cycle], values={
            "name": name, "source": "csv", "source_config": {"connection": "mzj-exports", "path": source.name},
            **values})
        if last_run:
            db.add(SyncRun(job_id=created.id, status=status, trigger="schedule", started=at(last_run),
                           finished=at(last_run) + dt.timedelta(minutes=3)))
        db.flush()
        return created

    job("daily-never-run", "daily")
    job("daily-ran-last-night", "daily", last_run="2026-03-09 18:00:04")
    job("daily-ran-yesterday-night", "daily", last_run="2026-03-08 18:00:04")
    job("daily-disabled", "daily", enabled=False)
    job("irregular-no-schedule", "irregular")
    job("irregular-own-schedule", "irregular", schedule="0 3 * * *")
    job("daily-but-yearly-schedule", "daily", schedule="0 18 1 1 *", last_run="2026-01-01 18:00:10")
    job("monthly-ran-this-month", "monthly", last_run="2026-03-01 18:00:05")
    job("monthly-failed-last-month", "monthly", last_run="2026-02-01 18:00:05", status="failed")
    return db


def due_names(session, now: str) -> set[str]:
    return {job.name for job in sync_service.due_jobs(session, at(now))}


def test_due_jobs_follow_the_update_cycle_unless_the_job_has_its_own_schedule(jobs):
    assert due_names(jobs, "2026-03-10 12:00:00") == {
        "daily-never-run",  # never run: at once
        "daily-ran-yesterday-night",  # last night's 18:00 passed since its run
        "irregular-own-schedule",  # its own schedule, although the dataset promises none
        "monthly-failed-last-month",  # 1 March 18:00 passed since its run (a failed run counts as a run)
    }
    # "daily-ran-last-night" ran after last night's 18:00; "daily-disabled" is disabled;
    # "irregular-no-schedule" runs only by hand; "daily-but-yearly-schedule" follows its own yearly
    # schedule over the dataset's daily cycle; "monthly-ran-this-month" waits for 1 April


def test_due_jobs_at_the_next_boundaries(jobs):
    assert "daily-ran-last-night" not in due_names(jobs, "2026-03-10 17:59:59")
    assert "daily-ran-last-night" in due_names(jobs, "2026-03-10 18:00:00")
    assert "monthly-ran-this-month" not in due_names(jobs, "2026-04-01 17:59:59")
    assert "monthly-ran-this-month" in due_names(jobs, "2026-04-01 18:00:00")
    assert "daily-but-yearly-schedule" not in due_names(jobs, "2026-12-31 23:00:00")
    assert "daily-but-yearly-schedule" in due_names(jobs, "2027-01-01 18:00:00")
    everything = due_names(jobs, "2030-01-01 00:00:00")
    assert "daily-disabled" not in everything and "irregular-no-schedule" not in everything


def test_a_disabled_job_is_due_again_once_enabled(jobs, sysadmin):
    job = sync_service.get_job(jobs, "daily-disabled")
    sync_service.update_job(jobs, jobs.get(User, sysadmin.id), job, {"enabled": True})
    jobs.flush()
    assert "daily-disabled" in due_names(jobs, "2026-03-10 12:00:00")
