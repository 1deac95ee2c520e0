"""The settled survivors of `make mutate` (tools/mutate_settled.toml) stay true to the code and to the docs.

`make mutate` does not run a settled survivor again while its function is unchanged, so a wrong entry would
hide a mutant: every entry must name a function that exists, and each of its mutants' original lines must
still be in that function (a line that changed since makes the entry describe a mutant that no longer
exists). docs/TESTING.md's table is generated from the file and must say the same.
"""
from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
import mutate_settled  # noqa: E402 - tools/ is not a package

ENTRIES = mutate_settled.load()


def test_testing_md_shows_the_settled_survivors_as_the_file_lists_them():
    assert mutate_settled.documented_table() == mutate_settled.markdown_table(ENTRIES), (
        "docs/TESTING.md's table differs from tools/mutate_settled.toml: run `.venv/bin/python tools/mutate.py "
        "--settled-table` (with the mutate extra installed)")


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: f"{entry.index}-{entry.function}")
def test_each_settled_mutant_changes_lines_that_are_in_its_function(entry):
    lines = mutate_settled.source_lines(entry.function)
    assert lines, f"{entry.function} is not a function of the code"
    for change in entry.mutants:
        assert set(change.before) <= lines, f"survivor {entry.index}: {change.before} is not in {entry.function}"
        assert change.before != change.after


def test_no_mutant_is_settled_twice():
    counts = Counter((entry.function, change) for entry in ENTRIES for change in entry.mutants)
    assert [key for key, count in counts.items() if count > 1] == []


def test_a_settlement_without_a_reason_is_refused(tmp_path):
    bad = tmp_path / "settled.toml"
    bad.write_text('[[survivor]]\nfunction = "schemas.formats.check_uscc"\nchange = "x"\nwhy = "it looked fine"\n'
                   'mutants = [["a", "b"]]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="equivalent.*harmless"):
        mutate_settled.load(bad)


def test_the_function_digest_ignores_layout_and_docstring_but_not_code(tmp_path):
    module = tmp_path / "pkg" / "rules.py"
    module.parent.mkdir()
    module.write_text('def allowed(user):\n    """Doc."""\n    return user.admin  # comment\n', encoding="utf-8")
    first = mutate_settled.source_digest("pkg.rules.allowed", root=tmp_path)
    module.write_text('def allowed(user):\n    """Another doc."""\n\n    return (user.admin)\n', encoding="utf-8")
    assert mutate_settled.source_digest("pkg.rules.allowed", root=tmp_path) == first
    module.write_text('def allowed(user):\n    return user.admin or user.editor\n', encoding="utf-8")
    assert mutate_settled.source_digest("pkg.rules.allowed", root=tmp_path) != first
