"""`make mutate`: mutation testing (mutmut 3) of the modules that hold the rules protecting people's data.

Plants one small bug at a time in the rule functions listed in :data:`SCOPE`, runs only the tests that
cover that function (mutmut records which tests reach which function in one instrumented run first),
and prints ``killed K of N mutants (P %)`` with the survivors and their diffs. The survivors that are
left on purpose are listed, with the reason, in docs/TESTING.md. mutmut generates the mutants and runs
the instrumented run; the mutants are run by tools/mutate_runner.py (one pytest session collected once,
a forked child of it per mutant) unless ``--runner mutmut`` asks for mutmut's own runner (a new pytest
session per mutant, about 2 s more each).

Usage: ``python tools/mutate.py [--jobs N] [--only MODULES] [--runner session|mutmut] [--survivors | --report-only
| --check-settled | --resettle | --settled-table]`` (``make mutate``).
The survivors settled as equivalent or harmless (tools/mutate_settled.toml, see tools/mutate_settled.py) are not
run while their function is unchanged; they count as not killed.
``--survivors`` reuses ``mutants/`` and tests again only what the last run did not kill (after adding tests).
``--only catalog.sharing.workflow,catalog.sharing.grants`` restricts the run to those modules of
:data:`SCOPE` (``module:glob|glob`` restricts it further to some functions, e.g.
``catalog.auth.rules:is_authority|can_see_grant``): only their files are mutated, and the figures count
only their mutants; the tests are still all of setup.cfg's selection that reach them. A fresh ``--only``
run replaces ``mutants/`` like a full one; a module outside :data:`SCOPE` is refused by name.
Settings shared with mutmut (files, tests) are in setup.cfg's ``[mutmut]`` section.
"""
from __future__ import annotations

import argparse
import atexit
import contextlib
import difflib
import fnmatch
import functools
import hashlib
import json
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # mutmut reads setup.cfg from the working directory when it is imported

import coverage  # noqa: E402
import libcst as cst  # noqa: E402
import pytest  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from mutmut import __main__ as mutmut_main  # noqa: E402
from mutmut.configuration import config as mutmut_config  # noqa: E402
from mutmut.mutation import mutators  # noqa: E402
from mutmut.mutation.data import MutantLineSpans  # noqa: E402
from mutmut.mutation.diff_apply import get_diff_for_mutant  # noqa: E402
from mutmut.runners.harness import PytestRunner  # noqa: E402
from mutmut.stats import status_by_exit_code  # noqa: E402
from mutmut.utils.format_utils import mangled_name_from_mutant_name  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from mutate_lines import LineSelection, LinesPerTest  # noqa: E402 - tools/, beside this file
from mutate_runner import SessionForkRunner  # noqa: E402
import mutate_settled  # noqa: E402 - tools/, beside this file
from mutate_settled import Change, Settlements  # noqa: E402

#: (module, function names as globs separated by "|", a text every mutated line must contain or None).
#: Whole modules where the module is the rule; single functions where a shared module holds one rule.
SCOPE: list[tuple[str, str, str | None]] = [
    ("catalog.auth.rules", "*", None),
    ("catalog.auth.service", "*", None),
    ("catalog.auth.passwords", "*", None),
    ("catalog.auth.actions", "*", None),
    ("catalog.auth.schemas", "*", None),
    ("catalog.sharing.service", "*", None),
    ("catalog.sharing.masking", "*", None),
    ("catalog.sharing.reading", "*", None),
    ("catalog.sharing.workdays", "*", None),
    ("catalog.sharing.actions", "*", None),
    # the share workflow (decree 809 arts. 20-22, 27, 29): deadlines, delivery, suspension, use records, narrowing
    ("catalog.sharing.workflow", "*", None),
    ("catalog.sharing.grants", "*", None),
    ("catalog.sharing.usage", "*", None),
    ("catalog.sharing.narrowing", "*", None),
    ("catalog.sharing.notices", "departments_audience", None),
    ("catalog.sharing.grant_actions", "*", None),
    # the catalog review (who may review, when it is due, what a revision changes, who may read under review)
    ("catalog.review.policy", "*", None),
    # the access log's verification: the walk over the chain, the MACs and the signed checkpoint
    ("catalog.sharing.access_log", "verify_chain|_verify|_walk|entry_mac|legacy_hash|read_checkpoint|"
                                   "_checkpoint_signature", None),
    ("schemas.formats", "*", None),
    ("catalog.datastore.query", "encode_cursor|decode_cursor|changes|generation", None),
    ("catalog.datasets.service", "check_not_stale", None),
    # the permission checks of the sync job functions: the lines that call the rules
    ("catalog.sync.service", "create_job|update_job|delete_job|can_see_job|list_jobs", "rules."),
]

KILLED = {"killed", "timeout", "caught by type check"}

#: Functions whose answer SQLite cannot tell apart from a mutant's (``LIKE`` ignores ASCII case there; a
#: query without ``ORDER BY`` returns the index order; a read transaction is one snapshot, so the access
#: log's walk never sees an entry appended while it runs): their mutants also run the PostgreSQL twin of
#: each of their tests (``test[postgresql]`` for ``test[sqlite]``), after the SQLite ones, when a server
#: answers at ``CATALOG_TEST_POSTGRES_URL`` or the documented default. The rest of the run is SQLite only.
POSTGRES_FUNCTIONS = {("catalog.datastore.query", "changes"), ("catalog.auth.service", "list_users"),
                      ("catalog.sharing.access_log", "_walk")}
PG_ENV = "CATALOG_TEST_POSTGRES_URL"
PG_DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _is_prose(node: cst.BaseString) -> bool:
    """A string literal with a space in it is a message for a person, not a value a rule compares."""
    if not isinstance(node, cst.SimpleString):
        return False
    value = node.evaluated_value
    return any(ch.isspace() for ch in (value.decode("latin-1") if isinstance(value, bytes) else value))


def _is_message(value: cst.BaseExpression) -> bool:
    """A prose literal, an f-string or a concatenation of them: the text of a message."""
    if isinstance(value, cst.SimpleString):
        return _is_prose(value)
    if isinstance(value, cst.FormattedString):
        return any(isinstance(part, cst.FormattedStringText) and any(ch.isspace() for ch in part.value)
                   for part in value.parts)
    if isinstance(value, cst.ConcatenatedString):
        return _is_message(value.left) or _is_message(value.right)
    return False


def skip_prose_strings() -> None:
    """Leave messages alone: no rewording of a prose literal, and no dropping it or replacing it by
    ``None`` where it is a call's argument (a message for a person is not a rule; see docs/TESTING.md)."""
    original_string, original_removal = mutators.operator_string, mutators.operator_arg_removal

    def operator_string(node):
        if _is_prose(node):
            return iter(())
        return original_string(node)

    def operator_arg_removal(node):
        messages = {index for index, arg in enumerate(node.args) if _is_message(arg.value)}
        for mutated in original_removal(node):
            if len(mutated.args) < len(node.args):   # an argument dropped: which one?
                gone = next((i for i, arg in enumerate(node.args)
                             if i >= len(mutated.args) or mutated.args[i] is not arg), None)
            else:                                     # an argument replaced by None
                gone = next((i for i, (a, b) in enumerate(zip(node.args, mutated.args)) if a is not b), None)
            if gone not in messages:
                yield mutated

    replacements = {original_string: operator_string, original_removal: operator_arg_removal}
    for index, (kind, operator) in enumerate(mutators.mutation_operators):
        if operator in replacements:
            mutators.mutation_operators[index] = (kind, replacements[operator])


def postgres_server(url: str) -> bool:
    """Whether a PostgreSQL server answers at ``url`` (within 3 seconds)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server to test on
        return False
    finally:
        engine.dispose()


def postgres_twin(test: str) -> str:
    """``tests/x.py::test_a[sqlite-3]`` -> ``tests/x.py::test_a[postgresql-3]``."""
    return re.sub(r"(?<=[\[-])sqlite(?=[\]-])", "postgresql", test)


def is_postgres_twin(test: str) -> bool:
    """Whether a test id is the PostgreSQL run of a test (skipped in the instrumented run, which is SQLite)."""
    return re.search(r"(?<=[\[-])postgresql(?=[\]-])", test) is not None


#: The PostgreSQL server the mutants of :data:`POSTGRES_FUNCTIONS` also run on (None: SQLite only).
POSTGRES_URL: str | None = None


def _empty_sqlite_file(app) -> str | None:
    """The path of the app's SQLite database when it holds no table yet, else None."""
    url = make_url(app.config["DATABASE_URL"])
    if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
        return None
    if not Path(url.database).exists():
        return url.database
    with contextlib.closing(sqlite3.connect(url.database)) as conn:
        return None if conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] else url.database


def migrate_sqlite_from_a_template() -> None:
    """Give each mutant's tests their migrated SQLite database as a copy of one migrated before the forks.

    Every mutant runs its tests in a new pytest session, and the session's database (tests/conftest.py's
    ``base_app``, the access-log tests' ``catalog db upgrade``) was migrated from scratch each time: 10 to 15
    seconds of Alembic per mutant on a loaded 2-core machine, more than most mutants' tests take. The
    migrations are not in the scope, so this main process (no mutant active) runs them once into a
    template, and ``run_migrations(app)`` to head on an empty SQLite file copies it (SQLite's backup API)
    instead. Other revisions, downgrades, non-empty files and PostgreSQL run the migrations as before."""
    cli = sys.modules.get("catalog.cli")
    if cli is None:   # the stats run did not import the app: nothing to speed up
        return
    original = cli.run_migrations
    folder = Path(tempfile.mkdtemp(prefix="mutate-template-"))
    atexit.register(shutil.rmtree, folder, True)   # the forks leave by os._exit and do not run this
    template_app = cli.create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{folder / 'template.db'}",
                                   "INSTANCE_PATH": str(folder / "instance"), "SECRET_KEY": "template"})
    original(template_app)
    sys.modules["catalog.db"].get_db(template_app).engine.dispose()
    template = folder / "template.db"

    def run_migrations(app, revision="head", *, downgrade=False):
        target = None if downgrade or revision != "head" else _empty_sqlite_file(app)
        if target is None:
            return original(app, revision, downgrade=downgrade)
        sys.modules["catalog.db"].get_db(app).engine.dispose()
        with contextlib.closing(sqlite3.connect(template)) as source, \
                contextlib.closing(sqlite3.connect(target)) as copy:
            source.backup(copy)
        return None

    for name, module in list(sys.modules.items()):
        if (name == "catalog.cli" or name.startswith("tests.")) and getattr(module, "run_migrations", None) is original:
            module.run_migrations = run_migrations


def database_free_tests_first() -> None:
    """Hand each mutant's tests to pytest with the tests that need no database first, then the fastest.

    mutmut stops at the first failure (``-x``) but passes a mutant's tests in no order; the unit tests
    written from the domain (no ``[sqlite]`` parameter) kill most mutants of the rule functions in
    milliseconds, before any test has to build a database.
    """
    make_runner = mutmut_main.get_mutant_runner

    def get_mutant_runner(max_workers=1):
        runner = make_runner(max_workers)
        if RUNNER == "session":
            runner = SessionForkRunner(runner, max_workers, untimed=is_postgres_twin)
        submit = runner.submit

        def ordered_submit(mutant_name, tests, *rest, **options):
            durations = mutmut_main.state().duration_by_test   # loaded after this runner is made (--survivors)
            ordered = sorted(tests, key=lambda test: ("[sqlite" in test, durations.get(test, 0.0), test))
            if POSTGRES_URL is not None and _function_of(mutant_name) in POSTGRES_FUNCTIONS:
                ordered += [postgres_twin(test) for test in ordered if postgres_twin(test) != test]
            elif LINES is not None and LINES.data is not None and STATS_RAN_IN_FULL:
                ordered = line_selection().tests(mutant_name, ordered)
            killer = KILLERS.get(_history_key(mutant_name))
            if killer in ordered and RUNNER == "session":
                runner.first_test[mutant_name] = killer
            return submit(mutant_name, ordered, *rest, **options)

        def signal_work_complete():
            if LINES is not None and LINES.data is not None and STATS_RAN_IN_FULL:
                chosen = line_selection()
                print(f"\ntests by line: {chosen.narrowed} mutants get the tests that execute the statement they "
                      f"change, {chosen.untested} whose statement no test executes get none (survivors, 'no tests'), "
                      f"{chosen.kept} keep every test of their function", flush=True)
                Path("mutants/mutate-tests-by-line.json").write_text(json.dumps(chosen.chosen, indent=1))
            return work_complete()

        def startup_with_postgres():
            # only now: the instrumented and clean runs before stay on SQLite (they would take twice as long);
            # the processes that test the mutants are forked after this and read the variable in tests/conftest.py
            if POSTGRES_URL is not None:
                os.environ[PG_ENV] = POSTGRES_URL
            migrate_sqlite_from_a_template()
            return startup()

        def run_clean_tests(tests):
            if STATS_RAN_IN_FULL:
                return 0   # the instrumented run just ran them all on the original code
            return clean(tests)

        startup, clean, work_complete = runner.startup, runner.run_clean_tests, runner.signal_work_complete
        runner.submit = ordered_submit
        runner.signal_work_complete = signal_work_complete
        runner.startup = startup_with_postgres
        runner.run_clean_tests = run_clean_tests
        return runner

    mutmut_main.get_mutant_runner = get_mutant_runner


class _SetupAndTeardownDurations:
    """A pytest plugin for mutmut's instrumented run: count each test's setup and teardown in its duration.

    mutmut records only the test's call, but here most of a test's time is its fixtures (a migrated
    database, the departments and people of the share workflow's cast). The durations give each mutant's
    timeout (``(sum of its tests + timeout_constant) * timeout_multiplier``, setup.cfg) and the order its
    tests run in: with the call alone, a mutant that survives all its tests was stopped at its timeout
    before the end and counted killed (all 16 "timeouts" of the workflow's --only run, docs/TESTING.md)."""

    def pytest_runtest_makereport(self, item, call):
        if call.when in ("setup", "teardown"):
            durations = mutmut_main.state().duration_by_test
            durations[item.nodeid] = durations.get(item.nodeid, 0.0) + call.duration


#: how the mutants are run: "session" (tools/mutate_runner.py: one pytest session collected once, a fork of it
#: per mutant) or "mutmut" (mutmut's ForkRunner: a fork per mutant that starts its own pytest session)
RUNNER = "session"


#: which tests a mutant runs: "line", those of its function that executed the statement it changes
#: (tools/mutate_lines.py), or "function", every test that reached its function (mutmut's selection)
SELECT = "line"
#: the lines each test executed in the instrumented run (``--select line``)
LINES: LinesPerTest | None = None
_LINE_SELECTION: LineSelection | None = None


def line_selection() -> LineSelection:
    global _LINE_SELECTION
    if _LINE_SELECTION is None:
        _LINE_SELECTION = LineSelection(LINES)
    return _LINE_SELECTION


#: whether this process ran mutmut's instrumented run of every test of the selection (and it passed)
STATS_RAN_IN_FULL = False


def time_whole_tests_and_skip_the_clean_run() -> None:
    """Record whole test durations in the instrumented run, and skip mutmut's clean run after it.

    The clean run runs every test that reaches a mutated function once more, unmutated; the instrumented
    run just before ran every test of the selection with the same (original) code, and mutmut stops when
    one fails there, so the clean run only repeats it (4 of the 36 minutes of the stopped full run). It
    is kept when the instrumented run was not a full one (``--survivors`` with mutmut's stats reused)."""
    execute_pytest = PytestRunner.execute_pytest
    run_stats = PytestRunner.run_stats
    collect = mutmut_main.run_stats_collection

    def execute_pytest_timing_fixtures(self, params, **kwargs):
        global LINES
        if kwargs.get("plugins") and getattr(self, "_collecting_stats", False):
            kwargs["plugins"] = [*kwargs["plugins"], _SetupAndTeardownDurations()]
            if SELECT == "line":
                LINES = LinesPerTest(ROOT / "mutants")
                kwargs["plugins"].append(LINES)
            if _SHARD is not None:
                kwargs["plugins"].append(_SHARD)
        return execute_pytest(self, params, **kwargs)

    def run_stats_timing_fixtures(self, *, tests):
        self._collecting_stats = True
        try:
            if tests or STATS_JOBS < 2:
                return run_stats(self, tests=tests)
            return _run_stats_in_shards(lambda: run_stats(self, tests=tests), STATS_JOBS)
        finally:
            self._collecting_stats = False

    def run_stats_collection(runner, tests=None):
        global STATS_RAN_IN_FULL
        collect(runner, tests)   # exits when a test fails
        STATS_RAN_IN_FULL = STATS_RAN_IN_FULL or not tests

    PytestRunner.execute_pytest = execute_pytest_timing_fixtures
    PytestRunner.run_stats = run_stats_timing_fixtures
    mutmut_main.run_stats_collection = run_stats_collection


#: how many processes share the instrumented run of the whole selection (``--jobs``)
STATS_JOBS = 1


class _Shard:
    """A pytest plugin for one of the instrumented run's processes: keep this shard's test files only.

    Every process collects the whole selection and shares its files out the same way (the most tests first,
    each file to the shard with the fewest tests so far), so that each test runs in exactly one shard, with
    its module's other tests (module-scoped fixtures are set up once)."""

    def __init__(self, index: int, count: int):
        self.index, self.count = index, count

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        per_file = Counter(item.nodeid.split("::")[0] for item in items)
        load, owner = [0] * self.count, {}
        for path, tests in sorted(per_file.items(), key=lambda pair: (-pair[1], pair[0])):
            shard = min(range(self.count), key=lambda index: (load[index], index))
            owner[path] = shard
            load[shard] += tests
        kept = [item for item in items if owner[item.nodeid.split("::")[0]] == self.index]
        config.hook.pytest_deselected(items=[item for item in items if owner[item.nodeid.split("::")[0]] != self.index])
        items[:] = kept


_SHARD: _Shard | None = None


def _run_stats_in_shards(run, jobs: int) -> int:
    """mutmut's instrumented run of the whole selection in ``jobs`` forked processes, each a share of the test
    files, merged into mutmut's state (which tests reach which function, each test's duration) and into the
    lines each test executed (:class:`LinesPerTest`): the same records as one process makes, in half the time
    on two cores (it runs every test of the selection once, the largest fixed cost of a run)."""
    global _SHARD, LINES
    folder = Path(tempfile.mkdtemp(prefix="mutate-stats-"))
    children = []
    for index in range(jobs):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                _SHARD = _Shard(index, jobs)
                code = run()
                state = mutmut_main.state()
                (folder / f"{index}.json").write_text(json.dumps({
                    "code": code, "durations": dict(state.duration_by_test),
                    "tests": {name: sorted(tests) for name, tests in state.tests_by_mangled_function_name.items()},
                    "dependencies": {name: sorted(callers) for name, callers in state.function_dependencies.items()},
                }))
                if LINES is not None and LINES.data is not None:
                    (folder / f"{index}.coverage").write_bytes(LINES.data.dumps())
            except BaseException:  # noqa: BLE001 - the shard's error: shown, and the run stops below
                (folder / f"{index}.error").write_text(traceback.format_exc())
            finally:
                os._exit(code if isinstance(code, int) and 0 <= code < 256 else 1)
        children.append(pid)
    codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in children]
    state = mutmut_main.state()
    merged = coverage.CoverageData(no_disk=True)
    for index in range(jobs):
        error = folder / f"{index}.error"
        if error.exists():
            print(f"the instrumented run's shard {index} failed:\n{error.read_text()}", file=sys.stderr)
            codes[index] = codes[index] or 1
            continue
        shard = json.loads((folder / f"{index}.json").read_text())
        state.duration_by_test.update(shard["durations"])
        for name, tests in shard["tests"].items():
            state.tests_by_mangled_function_name[name].update(tests)
        for name, callers in shard["dependencies"].items():
            state.function_dependencies[name].update(callers)
        lines = folder / f"{index}.coverage"
        if lines.exists():
            part = coverage.CoverageData(no_disk=True)
            part.loads(lines.read_bytes())
            merged.update(part)
    if SELECT == "line":
        LINES = LinesPerTest(ROOT / "mutants")
        LINES.data = merged
    shutil.rmtree(folder, ignore_errors=True)
    return next((code for code in codes if code), 0)


def _function_of(mutant_name: str) -> tuple[str, str]:
    """``catalog.auth.rules.x_is_sysadmin__mutmut_3`` -> (``catalog.auth.rules``, ``is_sysadmin``)."""
    mangled = mangled_name_from_mutant_name(mutant_name)
    module, _, function = mangled.rpartition(".")
    function = function.split("ǁ")[-1]
    return module, function[2:] if function.startswith("x_") else function


def qualified_function(mutant_name: str) -> str:
    """``catalog.sharing.reading.xǁRecordReaderǁcheck_query__mutmut_3`` -> ``catalog.sharing.reading.RecordReader.check_query``
    (the name tools/mutate_settled.toml gives a function)."""
    module, _, function = mangled_name_from_mutant_name(mutant_name).rpartition(".")
    if "ǁ" in function:
        return f"{module}.{'.'.join(function.split('ǁ')[1:])}"
    return f"{module}.{function[2:] if function.startswith('x_') else function}"


def _file_of(mutant_name: str) -> str:
    """The mutated file of a mutant (mutmut finds it by loading every file's record, for each mutant)."""
    return _function_of(mutant_name)[0].replace(".", "/") + ".py"


_SPANS: dict[str, MutantLineSpans | None] = {}

#: which test killed each mutant in earlier runs (build/mutate-killers.json, kept between runs; ``make clean``
#: removes it), by :func:`_history_key`: the function and the change, not the mutant's number, which shifts
KILLERS_FILE = ROOT / "build" / "mutate-killers.json"
#: the killers of the last full run, committed, so that a fresh clone's first run starts with them too
#: (refresh it by copying build/mutate-killers.json after a full run); build/'s own entries win
KILLERS_SEED = ROOT / "tools" / "mutate_killers.json"
KILLERS: dict[str, str] = {}


def _history_key(mutant_name: str) -> str:
    """A digest of the mutant's function and change (the kept files stay small)."""
    change = mutant_change(mutant_name)
    text = "\n".join([qualified_function(mutant_name), *change.before, "=>", *change.after])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def load_killers() -> None:
    """Read the earlier runs' killers: a killed mutant is tried first with the test that killed it last time
    (a signature mutant, a changed default, otherwise runs hundreds of its function's tests in the order of
    their durations before the one that tells it apart: `create_user`'s `sysadmin=True` took 201 s)."""
    for path in (KILLERS_SEED, KILLERS_FILE):
        if path.exists():
            with contextlib.suppress(ValueError):
                KILLERS.update(json.loads(path.read_text()))


def save_killers() -> None:
    """Add this run's killers (mutants/mutate-killed-by.txt, written by the runner) to the kept ones."""
    killed_by = Path("mutants/mutate-killed-by.txt")
    if not killed_by.exists():
        return
    for line in killed_by.read_text().splitlines():
        mutant, _, rest = line.partition(" ")
        test = rest.rpartition(" (")[0]
        if mutant and test and mutant != "<original>":
            with contextlib.suppress(Exception):   # a mutant of a file changed since the run: forget it
                KILLERS[_history_key(mutant)] = test
    KILLERS_FILE.parent.mkdir(parents=True, exist_ok=True)
    KILLERS_FILE.write_text(json.dumps(KILLERS, indent=0, sort_keys=True))


@functools.cache   # asked for each mutant when settling, ordering its tests and keeping its killer
def mutant_change(mutant_name: str) -> Change:
    """What the mutant changes: the removed and added lines of its diff, stripped.

    Read from the mutated file's line index (loaded once per file) rather than with mutmut's
    ``get_diff_for_mutant``, which loads every file's record and the index again for each mutant
    (200 s for the whole scope); the lines are the same, the functions being read from the same text."""
    path = _file_of(mutant_name)
    if path not in _SPANS:
        _SPANS[path] = MutantLineSpans.load(path)
    spans = _SPANS[path]
    mutant_function = mutant_name.rpartition(".")[2]
    original_function = mutant_function.rpartition("__mutmut_")[0] + "__mutmut_orig"
    if spans is None or mutant_function not in spans.span_by_function_name:
        diff = get_diff_for_mutant(mutant_name, path=path).splitlines()
    else:
        original, mutant = spans.read_function_sources([original_function, mutant_function])
        name = qualified_function(mutant_name).rpartition(".")[2]   # as mutmut's diff names both
        diff = list(difflib.unified_diff(original.replace(original_function, name, 1).split("\n"),
                                         mutant.replace(mutant_function, name, 1).split("\n"), lineterm=""))
    return Change(tuple(line[1:].strip() for line in diff if line.startswith("-") and not line.startswith("---")),
                  tuple(line[1:].strip() for line in diff if line.startswith("+") and not line.startswith("+++")))


#: the settled survivors (tools/mutate_settled.toml); None until :func:`settle` has read them
SETTLEMENTS: Settlements | None = None


def settle(names: list[str]) -> tuple[dict[str, mutate_settled.Settled], dict[str, mutate_settled.Settled]]:
    """The mutants among ``names`` that are settled: (those whose function is unchanged since, which need not
    run; those whose function changed since, which run again), each with its entry."""
    global SETTLEMENTS
    SETTLEMENTS = Settlements(mutate_settled.load())
    current, changed = {}, {}
    for name in names:
        entry = SETTLEMENTS.find(qualified_function(name), mutant_change(name))
        if entry is not None:
            (current if SETTLEMENTS.current(entry) else changed)[name] = entry
    return current, changed


#: ``--only``: module -> function globs (``"*"`` for the whole module's scope); ``None`` for the whole SCOPE.
ONLY: dict[str, str] | None = None


def restrict(only: str) -> None:
    """``--only``: keep the run to these modules of :data:`SCOPE` and mutate only their files.

    ``only`` is ``module[:glob|glob],module…``; an unknown module is an error that names it."""
    global ONLY
    known = {module for module, _functions, _must in SCOPE}
    wanted: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in only.split(","))):
        module, _, functions = item.partition(":")
        if module not in known:
            raise SystemExit(f"--only: {module} is not in tools/mutate.py's SCOPE "
                             f"(one of: {', '.join(sorted(known))})")
        wanted[module] = functions or "*"
    if not wanted:
        raise SystemExit("--only: name at least one module, e.g. --only catalog.sharing.workflow")
    ONLY = wanted
    mutmut_config().only_mutate = [module.replace(".", "/") + ".py" for module in wanted]


def in_scope(mutant_name: str) -> bool:
    """Whether a mutant is one of the rule mutants of :data:`SCOPE` (and of ``--only``, when given)."""
    module, function = _function_of(mutant_name)
    if ONLY is not None and (module not in ONLY
                             or not any(fnmatch.fnmatch(function, g) for g in ONLY[module].split("|"))):
        return False
    for scope_module, functions, must_contain in SCOPE:
        if module != scope_module or not any(fnmatch.fnmatch(function, g) for g in functions.split("|")):
            continue
        if must_contain is None:
            return True
        return any(must_contain in line for line in mutant_change(mutant_name).before)
    return False


def refresh_unmutated_files() -> None:
    """Drop mutants/' copies of the files mutmut does not mutate, so that they are copied afresh (mutmut
    copies a file only when it is missing; mutated files are rewritten when their source changes)."""
    for source in mutmut_config().source_paths:
        for copy in (Path("mutants") / source).rglob("*"):
            if copy.is_file() and copy.suffix != ".meta" \
                    and not mutmut_config().should_mutate(copy.relative_to("mutants")):
                copy.unlink()


def generate() -> list[str]:
    """Copy the tree into mutants/, write every mutant, and return the names of those in scope."""
    os.makedirs("mutants", exist_ok=True)
    mutmut_main.copy_src_dir()
    mutmut_main.copy_also_copy_files()
    mutmut_main.setup_source_paths()
    mutmut_main.store_lines_covered_by_tests()
    mutmut_main.create_mutants(max(os.cpu_count() or 1, 1))
    everything, _ = mutmut_main.collect_source_file_mutation_data(mutant_names=())
    return sorted(name for _, name, _ in everything if in_scope(name))


def verdicts() -> dict[str, tuple[int | None, str | None]]:
    """Every mutant's exit code in mutants/, with the hash of the function it mutates."""
    everything, _ = mutmut_main.collect_source_file_mutation_data(mutant_names=())
    return {name: (code, data.hash_by_function_name.get(mangled_name_from_mutant_name(name).rpartition(".")[2]))
            for data, name, code in everything}


def report(selected: list[str], started: float,
           earlier: dict[str, tuple[int | None, str | None]] | None = None) -> int:
    """Print the summary line, the figures per module and every survivor with its diff.

    ``earlier``: verdicts of the run before a ``--survivors`` run, kept for the mutants it did not test
    again when the function they mutate is unchanged (mutmut forgets them when its settings change).
    A settled survivor (tools/mutate_settled.toml) whose function is unchanged since is not run: it counts
    as settled, not killed; one that ran and survived is settled too when its function is unchanged, and
    listed for a person to check otherwise.
    """
    now = verdicts()
    results = {name: code for name, (code, _hash) in now.items()}
    for name, (code, function_hash) in (earlier or {}).items():
        if results.get(name) is None and name in now and now[name][1] == function_hash:
            results[name] = code
    current, changed = settle(selected)
    by_module: dict[str, Counter] = defaultdict(Counter)
    survivors, recheck, killed_settled = [], [], []
    for name in selected:
        status = status_by_exit_code[results.get(name)]
        module = _function_of(name)[0]
        by_module[module]["total"] += 1
        if status in KILLED:
            by_module[module]["killed"] += 1
            if name in current or name in changed:
                killed_settled.append((name, (current.get(name) or changed[name]).index))
        elif name in current and status in ("not checked", "survived", "no tests"):
            by_module[module]["settled"] += 1
        elif status != "not checked":
            by_module[module]["survived"] += 1
            (recheck if name in changed else survivors).append((name, status))
        if status != "not checked":
            by_module[module]["tested"] += 1
    total = len(selected)
    killed = sum(counts["killed"] for counts in by_module.values())
    settled = sum(counts["settled"] for counts in by_module.values())
    tested = sum(counts["tested"] for counts in by_module.values())
    print()
    print(f"{'module':<32} {'killed':>7} {'settled':>8} {'survived':>9} {'of':>5}")
    for module, counts in sorted(by_module.items()):
        print(f"{module:<32} {counts['killed']:>7} {counts['settled']:>8} {counts['survived']:>9} {counts['total']:>5}")
    print()
    if survivors:
        print(f"Survivors not settled ({len(survivors)}): each is a bug the tests let through, unless it is "
              "equivalent or harmless (then add it to tools/mutate_settled.toml with why)")
        for name, status in survivors:
            print(f"\n--- {name} [{status}]")
            print(get_diff_for_mutant(name))
        print()
    if recheck:
        print(f"Settled for an earlier version of their function ({len(recheck)}): check that the reason still "
              "holds, then record it with --resettle (or kill the mutant with a test)")
        for name, status in recheck:
            print(f"\n--- {name} [{status}] (tools/mutate_settled.toml, survivor {changed[name].index}: "
                  f"{changed[name].why[:100]})")
            print(get_diff_for_mutant(name))
        print()
    for name, index in killed_settled:
        print(f"killed now, though settled: {name} (tools/mutate_settled.toml, survivor {index}): "
              "take it out of the entry")
    Path("mutants/survivors.txt").write_text("".join(f"{name} {status}\n" for name, status in survivors + recheck))
    not_run = sum(1 for name in selected if status_by_exit_code[results.get(name)] == "not checked" and name not in current)
    if not_run > 0:   # a run stopped before the end: the untested mutants count as not killed above
        print(f"tested {tested} of {total} mutants ({not_run} not reached, {settled} settled); killed {killed} of "
              f"the {tested} tested ({100.0 * killed / tested if tested else 100.0:.1f} %)")
    percent = 100.0 * killed / total if total else 100.0
    print(f"settled survivors: {settled} (equivalent or harmless, tools/mutate_settled.toml and docs/TESTING.md; "
          f"{sum(1 for name in current if status_by_exit_code[results.get(name)] == 'not checked')} not run, "
          f"their function unchanged since); survivors not settled: {len(survivors) + len(recheck)}")
    print(f"killed {killed} of {total} mutants ({percent:.1f} %) in {(time.time() - started) / 60:.1f} minutes")
    return 0


def resettle(selected: list[str]) -> int:
    """``--resettle``: record the current version of the functions whose settled mutants all survived the last
    run (or were not run, unchanged), after a person checked that the reasons still hold."""
    results = {name: code for name, (code, _hash) in verdicts().items()}
    current, changed = settle(selected)
    by_entry: dict[int, list[str]] = defaultdict(list)
    for name, entry in {**current, **changed}.items():
        by_entry[entry.index].append(name)
    digests, refused = {}, []
    for entry in SETTLEMENTS.entries:
        module, _, function = entry.function.rpartition(".")
        if ONLY is not None and not any(
                entry.function.startswith(f"{only}.") and any(fnmatch.fnmatch(function, g) for g in globs.split("|"))
                for only, globs in ONLY.items()):
            continue   # outside this --only run
        statuses = {status_by_exit_code[results.get(name)] for name in by_entry.get(entry.index, [])}
        if not by_entry.get(entry.index):
            refused.append(f"survivor {entry.index} ({entry.function}): no current mutant makes its changes")
        elif statuses & KILLED:
            refused.append(f"survivor {entry.index} ({entry.function}): a mutant of it is killed now")
        elif entry.index in {e.index for e in changed.values()} and "not checked" in statuses:
            refused.append(f"survivor {entry.index} ({entry.function}): its function changed and a mutant of it "
                           "was not run since (make mutate first)")
        elif not SETTLEMENTS.current(entry):
            digests[entry.index] = SETTLEMENTS.digest(entry.function)
    if digests:
        mutate_settled.write_sources(digests)
    print(f"recorded the current version of {len(digests)} settled functions in tools/mutate_settled.toml")
    for line in refused:
        print(f"not recorded: {line}")
    return 1 if refused else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATE_JOBS", os.cpu_count() or 2)))
    parser.add_argument("--report-only", action="store_true", help="print the summary of the last run")
    parser.add_argument("--survivors", action="store_true",
                        help="reuse mutants/ and test again only the mutants the last run did not kill")
    parser.add_argument("--only", metavar="MODULES",
                        help="restrict the run to these modules of SCOPE, comma-separated "
                             "(module:glob|glob for some functions), e.g. catalog.sharing.workflow,catalog.sharing.grants")
    parser.add_argument("--runner", choices=("session", "mutmut"), default="session",
                        help="session: one pytest session, a fork of it per mutant (default); mutmut: mutmut's "
                             "own runner, a new pytest session per mutant (slower; to compare verdicts)")
    parser.add_argument("--select", choices=("line", "function"), default="line",
                        help="line: a mutant runs the tests of its function that executed the statement it "
                             "changes (default); function: every test that reached its function (mutmut's)")
    parser.add_argument("--check-settled", action="store_true",
                        help="run only the settled survivors (tools/mutate_settled.toml), to find any that a test "
                             "now kills; a normal run leaves those whose function is unchanged since alone")
    parser.add_argument("--resettle", action="store_true",
                        help="after a run: record in tools/mutate_settled.toml the current version of the functions "
                             "whose settled mutants all survived (once a person checked the reasons still hold)")
    parser.add_argument("--settled-table", action="store_true",
                        help="write docs/TESTING.md's table of settled survivors from tools/mutate_settled.toml")
    args = parser.parse_args()
    if args.settled_table:
        mutate_settled.write_table(mutate_settled.load())
        print(f"wrote the table of {len(mutate_settled.load())} settled survivors into docs/TESTING.md")
        return 0
    global RUNNER, SELECT, STATS_JOBS
    RUNNER, SELECT, STATS_JOBS = args.runner, args.select, args.jobs
    if args.only is not None:
        restrict(args.only)
    # SQLite, except the PostgreSQL twins of the tests of POSTGRES_FUNCTIONS' mutants when a server answers
    global POSTGRES_URL
    url = os.environ.pop(PG_ENV, None) or PG_DEFAULT_URL
    if args.report_only or args.resettle:
        pass  # nothing is run
    elif postgres_server(url):
        POSTGRES_URL = url
        print(f"PostgreSQL half: the mutants of {', '.join(sorted(m + '.' + f for m, f in POSTGRES_FUNCTIONS))} "
              f"also run their tests on {url}", flush=True)
    else:
        print(f"PostgreSQL half SKIPPED: no server answers at {url} (set {PG_ENV}); the mutants of "
              f"{', '.join(sorted(m + '.' + f for m, f in POSTGRES_FUNCTIONS))} run on SQLite only", flush=True)
    started = time.time()
    skip_prose_strings()
    database_free_tests_first()
    time_whole_tests_and_skip_the_clean_run()
    if args.report_only:
        # what the last run recorded, without generating the mutants again: that would forget the verdicts
        # of every function changed since (tests are added and code simplified while a run goes on)
        if not Path("mutants").exists():
            raise SystemExit("--report-only: no mutants/ folder, run make mutate first")
        return report(sorted(name for name in verdicts() if in_scope(name)), started)
    if args.resettle:
        if not Path("mutants").exists():
            raise SystemExit("--resettle: no mutants/ folder, run make mutate first")
        return resettle(sorted(name for name in verdicts() if in_scope(name)))
    if args.survivors:
        earlier = verdicts() if Path("mutants").exists() else {}
        refresh_unmutated_files()
        selected = generate()
        current = verdicts()
        settled, _changed = settle(selected)
        again = [name for name in selected
                 if (status_by_exit_code[earlier.get(name, (None, None))[0]] not in KILLED
                     or earlier[name][1] != current.get(name, (None, None))[1]) and name not in settled]
        print(f"testing again the {len(again)} mutants of {len(selected)} that the last run did not kill "
              "(or whose function changed since)", flush=True)
        load_killers()
        failed = _run_mutmut(again, args.jobs) if again else 0
        save_killers()
        return failed or report(selected, started, earlier)
    if Path("mutants").exists():
        shutil.rmtree("mutants")
    selected = generate()
    settled, changed = settle(selected)
    if args.check_settled:
        selected = sorted({*settled, *changed})
        print(f"{len(selected)} settled survivors to run ({len(changed)} of them of functions changed since)",
              flush=True)
        failed = _run_mutmut(selected, args.jobs)
        return failed or report(selected, started)
    print(f"{len(selected)} mutants in scope; {len(settled)} settled survivors are not run (equivalent or harmless, "
          f"tools/mutate_settled.toml, their function unchanged since; --check-settled runs them)", flush=True)
    load_killers()
    failed = _run_mutmut([name for name in selected if name not in settled], args.jobs)
    save_killers()
    return failed or report(selected, started)


def _run_mutmut(names: list[str], jobs: int) -> int:
    """mutmut's run of these mutants (after one instrumented run of the tests); 0 when it completed."""
    try:
        mutmut_main._run(names, jobs)
    except SystemExit as stop:
        if stop.code not in (0, None):
            print(f"mutmut stopped with {stop.code}", file=sys.stderr)
            return int(stop.code) if isinstance(stop.code, int) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
