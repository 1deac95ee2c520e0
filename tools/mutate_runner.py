"""The mutants' runner of `make mutate`: one pytest session collected once, one forked child per mutant.

mutmut 3's own runner (``ForkRunner``) forks a child per mutant that calls ``pytest.main`` with the
mutant's tests: pytest's start, its plugins and conftests, the collection of the test files and the
session's fixtures, about 2 seconds on this 2-core machine before the first test runs, for every one of
the ~3,750 mutants of the scope (docs/TESTING.md, "Time"). :class:`SessionForkRunner` starts one pytest
session instead, collects the test files of every mutant once, and for each mutant forks a child of that
collected session which selects the mutant (mutmut's trampolines read ``MUTANT_UNDER_TEST`` at each call)
and runs that mutant's tests in the order it was given, stopping at the first failure as ``-x`` does.

What a child gets fresh, so that nothing one mutant's tests did can reach another's:

- every fixture: the parent only collects, it never runs a test nor sets up a fixture (the session's
  app and database, ``tests/conftest.py``'s ``base_app``, are set up in each child and torn down before
  it exits: the PostgreSQL twins' databases are dropped as in a normal session);
- its own temporary directory (``tmp_path``) under this run's folder, removed when it ends;
- its own output capture (pytest's global capture, on files of its own), its output sent to /dev/null.

Verdicts are mutmut's exit codes, written to mutants/*.meta as each mutant ends (``--report-only``,
``--survivors`` and ``mutmut results`` read them): 1 killed (a test failed or errored, setup and
teardown included), 0 survived (every test passed or skipped), 36 timeout (stopped at its wall-clock
limit, ``(its tests' durations + timeout_constant) * timeout_multiplier``, as mutmut's runner, or at one
test's own limit by the same rule, ``(its duration + timeout_constant) * timeout_multiplier``: a mutant
that never ends stops at its first test that does not, in seconds rather than minutes), -24 timeout (its
CPU limit, twice the wall-clock one, as mutmut's runner), 33 no tests.
"""
from __future__ import annotations

import ctypes
import gc
import json
import math
import os
import resource
import select
import shutil
import signal
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from mutmut.configuration import config as mutmut_config
from mutmut.mutation.data import SourceFileMutationData
from mutmut.mutation.trampoline import set_mutant_under_test
from mutmut.runners.harness import PytestRunner
from mutmut.state import state as mutmut_state
from mutmut.utils.file_utils import change_cwd, walk_mutatable_files
from mutmut.utils.safe_setproctitle import safe_setproctitle
from mutmut.workers.isolation import MutantResult, MutantRunner

#: the exit code of a mutant stopped at its wall-clock limit (mutmut's "timeout")
TIMEOUT = 36
#: the exit code of a child whose runner code (not a test) raised: mutmut's "suspicious", listed with the
#: survivors by tools/mutate.py rather than counted killed (the traceback is in mutants/mutate-runner-errors.log)
RUNNER_ERROR = 35
#: the exit code of a mutant none of whose tests is collected: mutmut's "no tests"
NO_TESTS = 33
#: the wall-clock limit of the child that times the untimed tests on the original code (seconds)
TIMING_LIMIT = 1200


@dataclass
class _Job:
    mutant_name: str   # "" for the original code
    tests: list[str]   # in the order to run them


@dataclass
class _Child:
    job: _Job
    pidfd: int
    started: float
    deadline: float
    tmp: Path


class SessionForkRunner(MutantRunner):
    """A mutmut ``MutantRunner``: the instrumented, clean and forced-fail runs are the given runner's
    (mutmut's ``ForkRunner``); the mutants are run by forks of one collected pytest session.

    ``submit`` queues; ``signal_work_complete`` (after mutmut submitted every mutant) runs the session and
    returns when every mutant has its verdict; ``wait_for_result`` then hands the verdicts to mutmut.

    Each mutant's limits are computed as mutmut does from its tests' durations in the instrumented run
    (mutmut's ``duration_by_test``; with tools/mutate.py, fixtures included). ``untimed(test)``: whether a
    test did not really run in the instrumented run (the PostgreSQL twins, skipped there): those are run
    once on the original code in a child of their own, before the mutants that use them, which times them
    (and stops the run if one of them fails on the original code)."""

    def __init__(self, delegate: MutantRunner, max_workers: int, *,
                 untimed: Callable[[str], bool] = lambda test: False, progress_every: float = 60.0):
        self.delegate = delegate
        self.max_workers = max_workers
        self.durations: dict[str, float] = {}
        self.untimed = untimed
        self.progress_every = progress_every
        self._jobs: list[_Job] = []
        self._results: list[MutantResult] = []
        self.first_test: dict[str, str] = {}   # mutant -> the test to run first (its killer in an earlier run)

    # --- the runs before the mutants: mutmut's own -------------------------------------------------
    def collect_stats(self, tests: Iterable[str] | None) -> int:
        return self.delegate.collect_stats(tests)

    def run_clean_tests(self, tests: Iterable[str]) -> int:
        return self.delegate.run_clean_tests(tests)

    def run_forced_fail(self) -> int:
        return self.delegate.run_forced_fail()

    def list_all_tests(self):
        return self.delegate.list_all_tests()

    def startup(self) -> None:
        self.delegate.startup()

    # --- the mutants -----------------------------------------------------------------------------
    def submit(self, mutant_name: str, tests: list[str], cpu_time_limit: int, estimated_time: float) -> None:
        # the limits are computed again when the mutant starts: the untimed tests may have been timed by then
        if not tests:
            self._results.append(MutantResult(mutant_name=mutant_name, exit_code=NO_TESTS, duration=0.0))
            return
        self._jobs.append(_Job(mutant_name, list(tests)))

    def has_capacity(self) -> bool:
        return True   # everything is queued, and run by signal_work_complete

    def signal_work_complete(self) -> None:
        if not self._jobs:
            return
        self.durations = dict(mutmut_state().duration_by_test)   # the instrumented run's (done or loaded by now)
        files = sorted({test.split("::")[0] for job in self._jobs for test in job.tests})
        plugin = _ForkPerMutant(self)
        runner = PytestRunner()
        with change_cwd("mutants"):
            # the arguments of mutmut's own per-mutant pytest.main (PytestRunner.run_tests), on the files
            code = runner.execute_pytest(runner._pytest_args_regular_run(files), plugins=[plugin])
        if not plugin.finished:
            raise SystemExit(f"the mutants' pytest session ended with {code} before running them all")

    def wait_for_result(self, timeout: float | None = None) -> MutantResult:
        if not self._results:
            raise ChildProcessError("no result left")
        return self._results.pop(0)

    def pending_count(self) -> int:
        return len(self._results)

    def stop_all_workers(self) -> None:
        pass   # the session kills its children when it is interrupted

    def shutdown(self) -> None:
        self.delegate.shutdown()

    def limits(self, tests: list[str]) -> tuple[float, int]:
        """A mutant's wall-clock and CPU limits from its tests' durations, as mutmut's ForkRunner computes them."""
        estimated = sum(self.durations.get(test, 0.0) for test in tests)
        wall = (estimated + mutmut_config().timeout_constant) * mutmut_config().timeout_multiplier
        return wall, math.ceil(wall * 2)

    def test_limit(self, test: str) -> float:
        """One test's wall-clock limit in a mutant's child, by the same rule as the mutant's: a mutant that
        never ends (a window or a walk that does not advance) is stopped at its first test that does not,
        not at the sum of all its tests (143 to 310 s for the feed's and the log walk's mutants)."""
        return ((self.durations.get(test, 0.0) + mutmut_config().timeout_constant)
                * mutmut_config().timeout_multiplier)


class _ForkPerMutant:
    """The pytest plugin of the session: replaces the run of the collected tests by one fork per mutant."""

    def __init__(self, runner: SessionForkRunner):
        self.runner = runner
        self.finished = False
        self.in_child = False
        self.killed_by: str | None = None   # in a child: the first failing test
        self.timed: dict[str, float] = {}   # in the timing child: each test's setup + call + teardown
        self.failed: list[str] = []         # and the tests that failed

    # a child's reports: which test killed its mutant, and how long each test took
    def pytest_runtest_logreport(self, report):
        if not self.in_child:
            return
        self.timed[report.nodeid] = self.timed.get(report.nodeid, 0.0) + report.duration
        if report.failed:
            self.failed.append(report.nodeid)
        if report.failed and self.killed_by is None:
            self.killed_by = f"{report.nodeid} ({report.when})"

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session):
        if session.testsfailed and not session.config.option.continue_on_collection_errors:
            raise session.Interrupted(f"{session.testsfailed} errors during collection")
        print(flush=True)   # after mutmut's progress line, which ends without one
        runner = self.runner
        by_id = {item.nodeid: item for item in session.items}
        jobs = runner._jobs
        missing = {test for job in jobs for test in job.tests if test not in by_id}
        if missing:
            print(f"{len(missing)} tests of mutmut's stats are not collected now, e.g. {sorted(missing)[:3]}",
                  flush=True)
        untimed = list(dict.fromkeys(test for job in jobs for test in job.tests
                                     if runner.untimed(test) and test in by_id))
        meta = _MetaFiles()
        workspace = Path(tempfile.mkdtemp(prefix="mutate-children-"))
        Path("mutate-killed-by.txt").write_text("")   # in mutants/: which test killed each mutant
        killers = open("mutate-killed-by.txt", "a")   # appended to by the children (O_APPEND: whole lines)
        killed_by = open("mutate-killed-by.txt")      # read back as they end: the killers go first (below)
        learned = _Killers(runner.first_test)
        gc.collect()
        gc.freeze()   # the children share the collected session's pages instead of copying them on a collection
        running: dict[int, _Child] = {}
        # the longest first (by the time its tests take when it survives), so that the run does not end on one
        # long survivor while the other workers wait; those with untimed tests wait for the timing child
        queue = sorted(jobs, key=lambda job: runner.limits(job.tests)[0])
        timing: _Job | None = None
        if untimed:
            timing = _Job("", untimed)
        counts = {"killed": 0, "survived": 0, "timeout": 0, "other": 0}
        started = last_progress = time.time()
        total = len(jobs)
        forks = 0

        def start(job: _Job) -> None:
            nonlocal forks
            forks += 1
            tmp = workspace / str(forks)
            items = [by_id[test] for test in learned.first(job) if test in by_id]
            wall, cpu = (TIMING_LIMIT, 2 * TIMING_LIMIT) if job is timing else runner.limits(job.tests)
            pid = os.fork()
            if pid == 0:
                self._child(session, job.mutant_name, items, tmp, cpu, killers)   # never returns
            now = time.time()
            running[pid] = _Child(job, os.pidfd_open(pid), now, now + wall, tmp)

        def held(job: _Job) -> bool:
            return timing is not None and any(runner.untimed(test) for test in job.tests)

        try:
            if timing is not None:
                start(timing)
            while queue or running:
                while queue and len(running) < runner.max_workers:
                    # not beside a mutant of the same function when another can go: the killers of the one
                    # running are then known when the next starts (see _Killers)
                    busy = {_Killers.function(child.job.mutant_name) for child in running.values()}
                    index = fallback = None
                    for i in range(len(queue) - 1, -1, -1):
                        if held(queue[i]):
                            continue
                        if _Killers.function(queue[i].mutant_name) not in busy:
                            index = i
                            break
                        if fallback is None:
                            fallback = i
                    index = fallback if index is None else index
                    if index is None:
                        break
                    job = queue.pop(index)
                    if not any(test in by_id for test in job.tests):
                        self._record(meta, counts, job.mutant_name, NO_TESTS, 0.0)
                        continue
                    start(job)
                if not running:
                    continue
                now = time.time()
                wait = max(0.0, min(child.deadline for child in running.values()) - now)
                ready, _, _ = select.select([child.pidfd for child in running.values()], [], [], min(wait, 5.0))
                now = time.time()
                for pid, child in list(running.items()):
                    if child.pidfd in ready:
                        _, status = os.waitpid(pid, 0)
                        code = os.waitstatus_to_exitcode(status)
                    elif now >= child.deadline:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                        code = TIMEOUT
                    else:
                        continue
                    os.close(child.pidfd)
                    del running[pid]
                    if child.job is timing:
                        self._timed(child, code, now, queue)
                        timing = None
                        queue.sort(key=lambda job: runner.limits(job.tests)[0])
                    else:
                        self._record(meta, counts, child.job.mutant_name, code, now - child.started)
                        learned.read(killed_by)
                    shutil.rmtree(child.tmp, ignore_errors=True)
                if now - last_progress >= runner.progress_every:
                    last_progress = now
                    print(f"mutants: {sum(counts.values())} of {total} tested in {(now - started) / 60:.1f} min: "
                          f"{counts['killed']} killed, {counts['timeout']} timeouts, {counts['survived']} survived, "
                          f"{counts['other']} other", flush=True)
        finally:
            for pid in running:   # interrupted: stop the children still running
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            gc.unfreeze()
            killers.close()
            killed_by.close()
            shutil.rmtree(workspace, ignore_errors=True)
        self.finished = True
        print(f"mutants: {sum(counts.values())} of {total} tested in {(time.time() - started) / 60:.1f} min: "
              f"{counts['killed']} killed, {counts['timeout']} timeouts, {counts['survived']} survived, "
              f"{counts['other']} other", flush=True)
        return True

    def _timed(self, child: "_Child", code: int, now: float, jobs: list[_Job]) -> None:
        """The timing child ended: take its durations; a test that fails on the original code cannot tell a
        mutant from it, so it is taken out of every mutant's tests, and named."""
        timings = child.tmp.with_suffix(".json")
        if code not in (0, 1) or not timings.exists():
            pytest.exit(f"timing the PostgreSQL twins on the original code failed (exit {code} after "
                        f"{now - child.started:.0f} s): run them with pytest and CATALOG_TEST_POSTGRES_URL",
                        returncode=1)
        measured = json.loads(timings.read_text())
        self.runner.durations.update(measured["durations"])
        print(f"timed the {len(measured['durations'])} PostgreSQL twins on the original code: "
              f"{sum(measured['durations'].values()):.0f} s (wall clock {now - child.started:.0f} s)", flush=True)
        failed = set(measured["failed"])
        if failed:
            print(f"NOT USED: {len(failed)} PostgreSQL twins fail on the original code: {', '.join(sorted(failed))}",
                  flush=True)
            for job in jobs:
                job.tests = [test for test in job.tests if test not in failed]

    def _record(self, meta: "_MetaFiles", counts: dict, mutant_name: str, code: int, duration: float) -> None:
        self.runner._results.append(MutantResult(mutant_name=mutant_name, exit_code=code, duration=duration))
        meta.record(mutant_name, code, duration)
        kind = {0: "survived", 1: "killed", TIMEOUT: "timeout", -24: "timeout"}.get(code, "other")
        counts[kind] += 1

    def _child(self, session, mutant_name: str, items: list, tmp: Path, cpu_time_limit: int, killers) -> None:
        """In the forked child: run the mutant's tests on the collected items, exit with the verdict.

        ``mutant_name`` "": the original code (the timing child), whose durations go to ``tmp``.json."""
        code = RUNNER_ERROR
        try:
            self.in_child = True
            _die_with_parent()
            set_mutant_under_test(mutant_name)
            safe_setproctitle(f"mutmut: {mutant_name or 'timing the original code'}")
            limit = cpu_time_limit + int(time.process_time())
            resource.setrlimit(resource.RLIMIT_CPU, (limit, limit + 1))
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            capture = session.config.pluginmanager.getplugin("capturemanager")
            if capture is not None:   # the parent's capture files are shared with the other children: new ones
                capture.stop_global_capturing()
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            if capture is not None:
                capture.start_global_capturing()
                capture.suspend_global_capture()
            factory = session.config._tmp_path_factory   # tmp_path & co. under this child's own folder
            factory._given_basetemp, factory._basetemp = tmp, None
            session.items = items
            session.testsfailed = 0
            session.shouldfail = session.shouldstop = False
            running = ""

            def expired(signum, frame):   # the test that does not end is the mutant's killer
                os.write(killers.fileno(), f"{mutant_name} {running} (timeout)\n".encode())
                os._exit(TIMEOUT)

            signal.signal(signal.SIGALRM, expired)
            for index, item in enumerate(items):
                nextitem = items[index + 1] if index + 1 < len(items) else None
                running = item.nodeid
                if mutant_name:   # each test has a limit of its own; the original code is being timed: none
                    signal.setitimer(signal.ITIMER_REAL, self.runner.test_limit(item.nodeid))
                item.config.hook.pytest_runtest_protocol(item=item, nextitem=nextitem)
                signal.setitimer(signal.ITIMER_REAL, 0)
                if not mutant_name:   # the original code: every test is run and timed
                    session.shouldfail = False
                if session.shouldfail or session.shouldstop:
                    break
            try:   # stopped at the first failure: tear down what is still set up (the session's app, databases)
                session._setupstate.teardown_exact(None)
            except BaseException:  # noqa: BLE001 - a teardown error: a failure, as in a whole pytest session
                session.testsfailed += 1
            code = 1 if session.testsfailed else 0
            if self.killed_by:
                os.write(killers.fileno(), f"{mutant_name or '<original>'} {self.killed_by}\n".encode())
            if not mutant_name:
                tmp.with_suffix(".json").write_text(json.dumps({"durations": self.timed, "failed": self.failed}))
        except BaseException:  # noqa: BLE001 - the runner's own error: say so, never count it killed
            with open("mutate-runner-errors.log", "a") as log:
                log.write(f"--- {mutant_name}\n{traceback.format_exc()}\n")
        finally:
            os._exit(code)


class _Killers:
    """The tests that killed a function's mutants so far in the run, run first for its next mutants (after
    the mutant's own killer in an earlier run, when tools/mutate.py knows one).

    A mutant stops at its first failing test, and its tests come in the order of the instrumented run's
    durations, database-free first. Mutants of one function are mostly killed by the same few tests (the
    one that checks the rule the function holds), which can come late in that order: a test that killed a
    sibling goes first (the latest killer first), so that a killed mutant costs one test rather than all
    those before it. Survivors run every test whatever the order; the verdicts do not change."""

    def __init__(self, first_test: dict[str, str]):
        self.by_function: dict[str, list[str]] = {}
        self.first_test = first_test   # a mutant's own killer in an earlier run goes before its siblings' killers

    @staticmethod
    def function(mutant_name: str) -> str:
        return mutant_name.rpartition("__mutmut_")[0]

    def read(self, killed_by) -> None:
        """Take the lines the children appended since the last read (``<mutant> <test id> (<phase>)``)."""
        for line in killed_by.read().splitlines():
            mutant, _, rest = line.partition(" ")
            test = rest.rpartition(" (")[0]
            if mutant and test and mutant != "<original>":
                tests = self.by_function.setdefault(self.function(mutant), [])
                if test in tests:
                    tests.remove(test)
                tests.insert(0, test)

    def first(self, job: _Job) -> list[str]:
        """The job's tests with those that killed its function's other mutants first."""
        killers = [test for test in self.by_function.get(self.function(job.mutant_name), ()) if test in job.tests]
        own = self.first_test.get(job.mutant_name)
        if own is not None:
            killers = [own, *(test for test in killers if test != own)]
        if not killers:
            return job.tests
        return killers + [test for test in job.tests if test not in killers]


def _die_with_parent() -> None:
    """Be killed when the run's process ends (stopped by a signal that leaves no time to stop its children)."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class _MetaFiles:
    """mutmut's mutants/<file>.meta of every mutated file: each verdict written as it comes."""

    def __init__(self):
        with change_cwd(".."):   # the session runs in mutants/; mutmut's data paths are from the project
            self.by_mutant: dict[str, SourceFileMutationData] = {}
            for path in walk_mutatable_files():
                data = SourceFileMutationData(path=path)
                data.load()
                for name in data.exit_code_by_key:
                    self.by_mutant[name] = data

    def record(self, mutant_name: str, code: int, duration: float) -> None:
        data = self.by_mutant[mutant_name]
        data.exit_code_by_key[mutant_name] = code
        data.durations_by_key[mutant_name] = duration
        with change_cwd(".."):
            data.save()
