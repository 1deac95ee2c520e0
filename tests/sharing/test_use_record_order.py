"""A grant's use records (decree 809 art. 27) are listed in the order things happened to the data, by the
day each occurred, not in the order they were typed in: a storage on 11-02 recorded after a use on 11-05
comes first."""
from __future__ import annotations

import datetime as dt

from catalog.sharing.models import Grant
from tests.sharing.cast import approve, backdate, file_request

UTC = dt.timezone.utc


def test_use_records_are_listed_by_the_day_they_occurred(api, db, share_cast):
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    backdate(db, Grant, grant["id"], created=dt.datetime(2026, 11, 1, 9, tzinfo=UTC))
    token = share_cast.tokens["consumer_editor"]
    for kind, day, what in (("use", "2026-11-05", "比对低保对象 312 户"),
                            ("storage", "2026-11-02", "存入民政局内网比对库"),
                            ("use", "2026-11-03", "复核 4 户户籍迁出")):
        reply = api.call("usage_record_create", {"grant_id": grant["id"], "kind": kind, "description": what,
                                                 "occurred_on": day}, token=token)
        assert reply.status == 200, reply.body
    listed = api.call("usage_record_list", {"grant_id": grant["id"]}, token=share_cast.tokens["provider_member"])
    assert [(r["occurred_on"], r["kind"]) for r in listed.result] == [
        ("2026-11-02", "storage"), ("2026-11-03", "use"), ("2026-11-05", "use")]


def test_records_of_the_same_day_are_listed_in_the_order_they_were_recorded(api, db, share_cast):
    """A storage, two uses and the destruction all on one day: the list keeps the order they were recorded
    in (the destruction last), not an order of their random identifiers."""
    grant = approve(api, share_cast, file_request(api, share_cast)["id"])
    backdate(db, Grant, grant["id"], created=dt.datetime(2026, 11, 1, 9, tzinfo=UTC))
    token = share_cast.tokens["consumer_editor"]
    recorded = [("storage", "存入民政局内网比对库"), ("use", "比对低保对象 312 户"), ("use", "复核 4 户户籍迁出"),
                ("use", "抽查 20 户入户核实"), ("use", "比对结果报县民政局"), ("destruction", "比对库数据已删除")]
    for kind, what in recorded:
        reply = api.call("usage_record_create", {"grant_id": grant["id"], "kind": kind, "description": what,
                                                 "occurred_on": "2026-11-20"}, token=token)
        assert reply.status == 200, reply.body
    listed = api.call("usage_record_list", {"grant_id": grant["id"]}, token=share_cast.tokens["provider_member"])
    assert [(r["kind"], r["description"]) for r in listed.result] == recorded
