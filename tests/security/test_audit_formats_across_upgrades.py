"""The access log and its checkpoint file outlive the software that wrote them (issue 20, `make mutate`).

An installation upgraded to a new release keeps its log and its checkpoint file: the new release must verify
the entries and read the checkpoint the old one signed, or every `catalog audit verify` after the upgrade
fails (and an operator would have to sign the log again or restart the checkpoint blind, which is what an
attacker who edited or deleted entries wants). The entry and the checkpoint below were written by the
release of Dec 6, 2026: HMAC-SHA256 under the audit key of ``catalog.audit.entry:`` (``catalog.audit.checkpoint:``
for the checkpoint, format ``catalog-audit-checkpoint/1``) followed by the canonical JSON (sorted keys, no
spaces, UTF-8) of the entry's content with its place in the chain and its key id (the checkpoint's fields).

And when the newest entries were deleted, verify names the checkpoint that records them and when it was
written, the evidence an auditor starts from.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from catalog.sharing.access_log import AuditChainBroken, AuditKey, Checkpoint, entry_mac, read_checkpoint
from catalog.sharing.models import AccessLogEntry
from tests.security.test_audit_chain import _engine, catalog_env, checkpoint, read_records, rows, verify  # noqa: F401

KEY = AuditKey(b"checkpoint-golden-test-key-0001")
KEY_ID = "13277ca5c40540fb"
CHECKPOINT = ('{"format": "catalog-audit-checkpoint/1", "seq": 5, '
              '"mac": "3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f3f", "key_id": "13277ca5c40540fb", '
              '"written_at": "2026-12-01T08:00:00+00:00", '
              '"signature": "b23cfb2011139b67b91590bb2e49a16713e6f39a632d5edf367c005c22a58973"}')
ENTRY_MAC = "4c3154abd2939084705a39d154f6df59e9722c361ebb6a6d125d7048049b9695"


def _entry(**changes) -> AccessLogEntry:
    values = dict(timestamp=dt.datetime(2026, 12, 1, 8, 0, 0, tzinfo=dt.timezone.utc), action="datastore_search",
                  user_id="u-1", user_name="mz-editor", departments=["ningshan-mzj"], package_id="d-1",
                  owner_org="ningshan-gaj", resource_id="r-1", params={"filters": {"town": "城关镇"}},
                  record_count=7, prev_hash="0" * 64, seq=1, key_id=KEY_ID)
    return AccessLogEntry(**{**values, **changes})


def test_the_audit_key_is_named_as_before():
    assert KEY.key_id == KEY_ID


def test_an_entry_signed_by_an_earlier_release_verifies_after_the_upgrade():
    assert entry_mac(_entry(), KEY) == ENTRY_MAC


@pytest.mark.parametrize("changes", [{"seq": 2}, {"key_id": "0000000000000000"}, {"record_count": 8},
                                     {"prev_hash": "1" * 64}])
def test_the_same_entry_moved_relabelled_or_edited_does_not(changes):
    assert entry_mac(_entry(**changes), KEY) != ENTRY_MAC


def test_a_checkpoint_written_by_an_earlier_release_is_read_after_the_upgrade(tmp_path):
    path = tmp_path / "audit-checkpoint.json"
    path.write_text(CHECKPOINT.ljust(512))   # as written in place after a logged read: padded with spaces
    assert read_checkpoint(path, {KEY_ID: KEY}) == Checkpoint(
        seq=5, mac="3f" * 32, key_id=KEY_ID, written_at="2026-12-01T08:00:00+00:00")


def test_the_same_checkpoint_edited_is_refused(tmp_path):
    path = tmp_path / "audit-checkpoint.json"
    path.write_text(json.dumps(dict(json.loads(CHECKPOINT), seq=4)))
    with pytest.raises(AuditChainBroken, match="does not carry a valid signature"):
        read_checkpoint(path, {KEY_ID: KEY})


def test_deleted_newest_entries_are_reported_with_when_the_checkpoint_recording_them_was_written(catalog_env):
    read_records(4)
    written_at = checkpoint(catalog_env)["written_at"]
    kept = rows()[1]
    with _engine().begin() as conn:
        conn.execute(sa.text("DELETE FROM access_log WHERE seq > 2"))
        conn.execute(sa.text("UPDATE access_log_head SET seq = 2, last_hash = :h"), {"h": kept["hash"]})
    code, output = verify()
    assert code == 1
    assert f"entries after #2 are missing: checkpoint #4 of {written_at} records them" in output
