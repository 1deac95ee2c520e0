"""A mapping is checked against the record schema before it runs; a run's status tells the truth."""
from __future__ import annotations

from tests.schemas.records_samples import petitions
from tests.sync.helpers import folder_connection
from tests.sync.test_jobs import HEADERS, petition_csv
from tests.web.conftest import Browser

MAPPING = {"rename": {v: k for k, v in HEADERS.items()} | {"信访人姓名": "petitioner.name"},
           "dates": ["accepted_on", "deadline", "completed_on"]}


def setup(api, make, sysadmin, tmp_path, *, bad=0, n=20):
    dept = make.department("ningshan-xfj")
    dataset = make.dataset(dept["id"], name="petitions", record_schema="petition@1")
    petition_csv(tmp_path / "台账.csv", list(petitions(n, seed=5)), bad=bad)
    folder_connection(api, sysadmin.token, "xfj-exports", tmp_path, [dept["id"]])
    return dataset


def create(api, sysadmin, dataset, mapping, **extra):
    return api.call("sync_job_create", {
        "name": "petition-office", "package_id": dataset["id"], "source": "csv",
        "source_config": {"connection": "xfj-exports", "path": "台账.csv"}, "mapping": mapping, **extra},
        token=sysadmin.token)


def test_a_required_field_nothing_maps_is_refused_at_definition_naming_it(api, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path)
    rename = {k: v for k, v in MAPPING["rename"].items() if v not in ("channel", "responsible_unit")}
    reply = create(api, sysadmin, dataset, {**MAPPING, "rename": rename})
    assert reply.status == 409
    assert reply.error["mapping"] == ["nothing maps the required fields channel, responsible_unit of the record "
                                      "schema petition@1: rename a column to them or give a constant"]
    # a constant fills it: accepted
    fixed = create(api, sysadmin, dataset, {**MAPPING, "rename": rename,
                                            "constants": {"channel": "来信", "responsible_unit": "县信访局"}})
    assert fixed.status == 200, fixed.body
    # and an update that drops it again is refused the same way
    again = api.call("sync_job_update", {"id": "petition-office", "mapping": {**MAPPING, "rename": rename}},
                     token=sysadmin.token)
    assert again.status == 409 and "channel, responsible_unit" in again.error["mapping"][0]


def test_a_run_whose_rows_are_all_invalid_fails_with_its_top_reasons(api, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path, bad=20)
    assert create(api, sysadmin, dataset, MAPPING).status == 200
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert run["status"] == "failed" and run["counts"]["quarantined"] == 20
    assert run["error_message"].startswith("20 of 20 rows (100.0%) were invalid, more than the job allows "
                                           "(max_invalid 50%)")
    assert "accepted_on [date] on 20 rows" in run["error_message"]


def test_max_invalid_is_the_jobs_threshold(api, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path, bad=2)
    assert create(api, sysadmin, dataset, {**MAPPING, "max_invalid": 0.05}).status == 200
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert run["status"] == "failed" and run["counts"]["inserted"] == 18  # valid rows are still written
    assert api.call("sync_job_update", {"id": "petition-office", "mapping": {**MAPPING, "max_invalid": 2}},
                    token=sysadmin.token).status == 409


def test_a_run_with_errors_is_labelled_in_chinese_on_the_job_page(api, app, client, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path, bad=2)
    assert create(api, sysadmin, dataset, MAPPING).status == 200
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert run["status"] == "succeeded_with_errors"
    browser = Browser(client)
    browser.login(sysadmin.name)
    for url in ("/sync/job/petition-office", "/sync", f"/sync/run/{run['id']}"):
        page = client.get(url)
        assert page.status_code == 200 and "部分成功（有错误行）" in page.get_data(as_text=True), url


def test_a_reexport_appended_to_the_file_is_written_once_and_a_rerun_adds_nothing_to_the_feed(
        api, make, sysadmin, tmp_path):
    dept = make.department("ningshan-xfj")
    dataset = make.dataset(dept["id"], name="petitions", record_schema="petition@1")
    rows = list(petitions(30, seed=5))
    newer = [dict(row, reply="已答复（补录）") for row in rows[:4]]  # re-exported with a later reply
    petition_csv(tmp_path / "台账.csv", rows + newer)
    folder_connection(api, sysadmin.token, "xfj-exports", tmp_path, [dept["id"]])
    assert create(api, sysadmin, dataset, MAPPING, batch_size=7).status == 200
    run = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert run["status"] == "succeeded", run
    assert {k: run["counts"][k] for k in ("read", "inserted", "updated", "superseded")} == {
        "read": 34, "inserted": 30, "updated": 0, "superseded": 4}
    resource_id = api.call("sync_job_show", {"id": "petition-office"}, token=sysadmin.token).result["resource_id"]
    feed = api.call("datastore_changes", {"resource_id": resource_id, "limit": 10000}, token=sysadmin.token).result
    assert len(feed["changes"]) == 30  # each record once, in its latest version
    stored = api.call("datastore_search", {"resource_id": resource_id, "limit": 100},
                      token=sysadmin.token).result["records"]
    assert sum(r.get("reply") == "已答复（补录）" for r in stored) == 4
    again = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert (again["counts"]["inserted"], again["counts"]["updated"], again["counts"]["unchanged"]) == (0, 0, 30)
    later = api.call("datastore_changes", {"resource_id": resource_id, "cursor": feed["next_cursor"]},
                     token=sysadmin.token).result
    assert later["changes"] == []


def test_a_broken_expression_is_refused_at_definition_naming_its_field(api, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path)
    reply = create(api, sysadmin, dataset, {**MAPPING, "computed": {"deadline": "{{ date_add(受理日期, }}"}})
    assert reply.status == 409 and "computed.deadline: " in reply.error["mapping"][0]
    # a computed field fills a required one, and one the schema does not declare is refused
    rename = {k: v for k, v in MAPPING["rename"].items() if v != "deadline"}
    ok = create(api, sysadmin, dataset, {**MAPPING, "rename": rename,
                                         "computed": {"deadline": "{{ date_add(受理日期, 15) }}"}})
    assert ok.status == 200, ok.body
    unknown = api.call("sync_job_update", {"id": "petition-office", "mapping": {
        **MAPPING, "computed": {"phone_number": "{{ 电话 }}"}}}, token=sysadmin.token)
    assert unknown.status == 409 and "mapping.computed.phone_number" in unknown.error


def test_preview_maps_the_first_rows_side_by_side_and_writes_nothing(api, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path, bad=2)
    job = create(api, sysadmin, dataset, MAPPING).result
    reply = api.call("sync_job_preview", {"id": "petition-office", "rows": 3}, token=sysadmin.token)
    assert reply.status == 200, reply.body
    rows = reply.result
    assert [r["row_number"] for r in rows] == [2, 3, 4] and [r["valid"] for r in rows] == [False, False, True]
    bad = {f["field"]: f for f in rows[0]["fields"]}
    assert bad["accepted_on"]["value"] == "2026年13月45日"
    assert bad["accepted_on"]["errors"] == ["'2026年13月45日' is not a date [date]"]
    good = {f["field"]: f for f in rows[2]["fields"]}
    assert good["petitioner.name"]["errors"] == [] and good["petitioner.name"]["value"]
    # nothing written: no record, no quarantine entry, no run
    search = api.call("datastore_search", {"resource_id": job["resource_id"]}, token=sysadmin.token).result
    assert search["records"] == []
    assert api.call("quarantine_list", {"resource_id": job["resource_id"]}, token=sysadmin.token).result == []
    assert api.call("sync_run_list", {"id": "petition-office"}, token=sysadmin.token).result == []
    assert api.call("sync_job_preview", {"id": "petition-office", "rows": 0},
                    token=sysadmin.token).status == 409


def test_preview_is_for_those_who_may_run_the_job(api, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path)
    assert create(api, sysadmin, dataset, MAPPING).status == 200
    outsider = make.user("outsider-preview")
    reply = api.call("sync_job_preview", {"id": "petition-office"}, token=outsider.token)
    assert reply.status == 403 and "信访" not in reply.body


def test_the_job_page_offers_a_dry_run_that_shows_values_and_errors_in_chinese(api, client, make, sysadmin, tmp_path):
    dataset = setup(api, make, sysadmin, tmp_path, bad=1)
    job = create(api, sysadmin, dataset, MAPPING).result
    Browser(client).login(sysadmin.name)
    page = client.get("/sync/job/petition-office").get_data(as_text=True)
    assert "试运行" in page
    preview = client.get("/sync/job/petition-office/preview?rows=2")
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "未写入任何数据" in text and "第 2 行" in text and "无效" in text
    assert "2026年13月45日" in text and "is not a date" in text
    search = api.call("datastore_search", {"resource_id": job["resource_id"]}, token=sysadmin.token).result
    assert search["records"] == []


def test_a_run_with_errors_keeps_the_dataset_fresh_and_a_failed_one_does_not(api, app, make, sysadmin, tmp_path, db):
    from catalog.datasets.models import Dataset
    from catalog.freshness.service import dataset_freshness

    dataset = setup(api, make, sysadmin, tmp_path, bad=2)
    assert create(api, sysadmin, dataset, MAPPING).status == 200
    api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token)
    rerun = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result  # writes nothing
    assert rerun["status"] == "succeeded_with_errors" and rerun["counts"]["inserted"] == rerun["counts"]["updated"] == 0
    reading = dataset_freshness(db, db.get(Dataset, dataset["id"]))
    assert reading["last_change_source"] == "sync"  # the rerun confirmed the valid rows are current
    assert reading["last_change"].isoformat()[:19] == rerun["finished"][:19]
    # a run that failed (every row invalid) does not count as an update
    petition_csv(tmp_path / "台账.csv", list(petitions(20, seed=5)), bad=20)
    failed = api.call("sync_job_run", {"id": "petition-office"}, token=sysadmin.token).result
    assert failed["status"] == "failed"
    db.expire_all()
    again = dataset_freshness(db, db.get(Dataset, dataset["id"]))
    assert again["last_change"] == reading["last_change"]
