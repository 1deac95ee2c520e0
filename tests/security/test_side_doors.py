"""Side doors around the record API, tried as another department's officer would.

Quarantined rows are kept as they were sent (raw, unmasked), so they never leave the owner department,
whatever the reader's share of the records; neither do sync runs (their logs and error details may
quote values). Each test is the attack: another department's editor, holding an unconditional share of
the records, asks for the rows directly.
"""
from __future__ import annotations

import json

from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.schemas.records_samples import GENERATORS, broken


def _quarantined_table(api, make, org):
    """An unconditional household table of ``org`` with three quarantined rows; (resource id, raw rows)."""
    dataset = make.dataset(org.id, record_schema="household@1", share_type="unconditional", share_condition=None)
    created = api.call("datastore_create", {"resource": {"package_id": dataset["id"]}}, token=org.editor.token)
    resource_id = created.result["resource_id"]
    good = list(GENERATORS["household"](2, 41))
    bad = [case.record for case in broken("household", 3, 42)]
    reply = api.call("datastore_upsert", {"resource_id": resource_id, "records": [*good, *bad],
                                          "on_invalid": "quarantine"}, token=org.editor.token)
    assert reply.result["quarantined"] == 3, reply.body
    return resource_id, bad


def _reader(make, org):
    """An editor of another department (which reads the unconditional records, masked)."""
    reader = make.user("rs-editor")
    make.department("rsj", members={"editor": reader})
    return reader


def test_another_departments_reader_never_sees_quarantined_raw_rows(api, make, org):
    resource_id, bad = _quarantined_table(api, make, org)
    reader = _reader(make, org)
    # the reader does read the records (masked): the share is real
    assert api.call("datastore_search", {"resource_id": resource_id}, token=reader.token).result["total"] == 2
    listed = api.call("quarantine_list", {"resource_id": resource_id}, token=reader.token)
    assert listed.status in (200, 403)
    if listed.status == 200:
        assert listed.result == []
    ids = [e["id"] for e in api.call("quarantine_list", {"resource_id": resource_id},
                                     token=org.editor.token).result]
    assert len(ids) == 3
    for entry_id in ids:
        shown = api.call("quarantine_show", {"id": entry_id}, token=reader.token)
        assert shown.status == 403, shown.body
        head = bad[0].get("head_id_number") or bad[0].get("household_number")
        assert head is None or head not in json.dumps(shown.body, ensure_ascii=False)
        for verb, extra in (("quarantine_retry", {"record": bad[0]}), ("quarantine_discard", {"reason": "x"})):
            reply = api.call(verb, {"id": entry_id, **extra}, token=reader.token)
            assert reply.status == 403, (verb, reply.body)
    # anonymous callers get nothing either
    assert api.call("quarantine_list", {"resource_id": resource_id}).status == 403
    assert api.call("quarantine_show", {"id": ids[0]}).status == 403
    # the owner department's plain member reads them (to fix them, an editor is needed)
    assert len(api.call("quarantine_list", {"resource_id": resource_id}, token=org.member.token).result) == 3
