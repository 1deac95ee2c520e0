"""The change feed's windows, where the feed ends after a long run of rewrites (issue 20, `make mutate`).

A record written again and again leaves a long gap of sequence numbers behind it. When such a gap lies
at the end of the feed, the last page holds fewer changes than asked for, and the feed reads more than
one window to find them: each change must still come once, in order.
"""
from __future__ import annotations

import pytest

from tests.api.conftest import org  # noqa: F401 - the department-with-roles fixture
from tests.datastore.test_actions import PEOPLE, people  # noqa: F401 - the table of five people


@pytest.mark.parametrize("window", [1, 3])
def test_the_last_page_after_a_long_gap_lists_each_change_once(api, people, org, monkeypatch, window):
    from catalog.datastore import query

    monkeypatch.setattr(query, "CHANGES_WINDOW", window)
    for age in range(62, 70):   # 王建国 (p1) corrected eight times: p1's earlier numbers are gone
        written = api.call("datastore_upsert", {"resource_id": people, "records": [dict(PEOPLE[0], age=age)]},
                           token=org.editor.token)
        assert written.status == 200, written.body
    seen, cursor = [], None
    for _page in range(10):
        page = api.call("datastore_changes", {"resource_id": people, "cursor": cursor, "limit": 2},
                        token=org.member.token).result
        assert len(page["changes"]) <= 2
        seen.extend((change["_key"], change.get("age")) for change in page["changes"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    # p2..p5 as first written, then p1 once, with its last age
    assert seen == [("p2", 35), ("p3", 8), ("p4", 120), ("p5", 35), ("p1", 69)]
