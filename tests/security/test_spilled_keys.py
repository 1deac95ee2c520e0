"""The sync's read ahead spills record keys (household numbers, ID numbers) to disk: as an attacker with a
shell account on the server, look for them in the temporary directory while a run holds them."""
from __future__ import annotations

import os
import tempfile

from connectors.repeated_keys import RepeatedKeys

ID_NUMBERS = ["610923199001011234", "61092319850202567X", "610923197003038888"]


def test_the_spilled_keys_have_no_name_on_disk_and_never_hold_a_key_in_clear(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    keys = RepeatedKeys()
    for position in range(200000):  # more than the partitions buffer: the digests are written to the file
        keys.add(ID_NUMBERS[position % 3] if position % 100 == 0 else f"6109231990{position:08d}", position)
    spilled = keys._file
    spilled.flush()
    assert os.listdir(tmp_path) == []  # nothing another account could open by name
    assert os.fstat(spilled.fileno()).st_nlink == 0
    spilled.seek(0)
    content = spilled.read()
    assert content and not any(number.encode() in content for number in ID_NUMBERS)
    keys.finish()
    assert os.listdir(tmp_path) == [] and spilled.closed
    assert keys.get(ID_NUMBERS[0], -1) == 199800  # the last of its repeats, read back from the digests
