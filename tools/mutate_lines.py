"""`make mutate`'s test selection by line: a mutant runs only the tests that executed the line it changes.

mutmut gives a mutant every test that reached its function. A survivor then runs them all, and a function
that every API test reaches (``create_user``, ``create_request``, ``record_access``) has hundreds: a minute
or two each, most of a whole run. A test that never executes the changed line cannot tell the mutant from
the original (the mutant is a copy of the function that differs on that line only), so the instrumented
run also records, with coverage.py, which lines of the mutated files each test executed (its setup, call
and teardown), and a mutant gets the tests of its function that executed the statement it changes.

A mutant keeps all the tests of its function (mutmut's selection) when its change is in the function's
signature (a default value is read at the call, not on a line of the body), when the change cannot be
placed on the original's lines, and for the functions whose mutants also run PostgreSQL twins (their
PostgreSQL-only lines never run in the SQLite instrumented run). A mutant whose line no test executes gets
no test: mutmut's "no tests", listed with the survivors (no test can tell it from the original).
"""
from __future__ import annotations

import ast
import difflib
import textwrap
from pathlib import Path

import coverage
from mutmut.configuration import config as mutmut_config
from mutmut.mutation.data import MutantLineSpans
from mutmut.utils.format_utils import mangled_name_from_mutant_name


class LinesPerTest:
    """A pytest plugin for mutmut's instrumented run: the lines of the mutated files each test executes."""

    def __init__(self, mutants: Path):
        """``mutants``: the absolute path of mutmut's mutants/ folder (the instrumented run runs inside it)."""
        include = [str(mutants / pattern) for pattern in mutmut_config().only_mutate] or [str(mutants / "*")]
        self.coverage = coverage.Coverage(data_file=None, include=include, config_file=False)
        self.data: coverage.CoverageData | None = None
        self.mutants = mutants

    def pytest_sessionstart(self, session):
        self.coverage.start()

    def pytest_runtest_logstart(self, nodeid, location):
        self.coverage.switch_context(nodeid)   # setup, call and teardown of this test

    def pytest_sessionfinish(self, session):
        self.coverage.stop()
        self.data = self.coverage.get_data()


class LineSelection:
    """Which of its function's tests a mutant gets, from the instrumented run's :class:`LinesPerTest`."""

    def __init__(self, lines: LinesPerTest):
        self.data = lines.data
        self.mutants = lines.mutants
        self._contexts: dict[str, dict[int, set[str]]] = {}
        self.narrowed = self.kept = self.untested = 0
        self.chosen: dict[str, list[str]] = {}   # mutant -> its tests, for mutants/mutate-tests-by-line.json

    def _contexts_of(self, path: str) -> dict[int, set[str]]:
        if path not in self._contexts:
            by_line = self.data.contexts_by_lineno(str(self.mutants / path)) if self.data is not None else {}
            self._contexts[path] = {line: set(contexts) for line, contexts in by_line.items()}
        return self._contexts[path]

    def tests(self, mutant_name: str, function_tests: list[str]) -> list[str]:
        """The tests of ``function_tests`` that executed the statement the mutant changes (in their order)."""
        lines = self._changed_statement_lines(mutant_name)
        if lines is None or self.data is None:
            self.kept += 1
            return function_tests
        path, absolute = lines
        contexts = self._contexts_of(path)
        executed = set().union(*(contexts.get(line, set()) for line in absolute))
        chosen = [test for test in function_tests if test in executed]
        self.chosen[mutant_name] = chosen
        if chosen:
            self.narrowed += 1
        else:
            self.untested += 1
        return chosen

    def _changed_statement_lines(self, mutant_name: str) -> tuple[str, set[int]] | None:
        """(the mutated file, the first lines in it of the original's statements the mutant changes), or None
        when the change is not on a statement of the body."""
        mangled = mangled_name_from_mutant_name(mutant_name)
        module, _, function = mangled.rpartition(".")
        path = module.replace(".", "/") + ".py"
        spans = MutantLineSpans.load(path)
        mutant_function = mutant_name.rpartition(".")[2]
        original_function = f"{function}__mutmut_orig"
        if spans is None or original_function not in spans.span_by_function_name \
                or mutant_function not in spans.span_by_function_name:
            return None
        original, mutant = spans.read_function_sources([original_function, mutant_function])
        original_lines = original.splitlines()
        mutant_lines = mutant.replace(mutant_function, original_function, 1).splitlines()
        changed: set[int] = set()   # 1-based lines of the original function's text
        matcher = difflib.SequenceMatcher(a=original_lines, b=mutant_lines, autojunk=False)
        for tag, i1, i2, _j1, _j2 in matcher.get_opcodes():
            if tag == "equal":
                continue
            changed.update(range(i1 + 1, i2 + 1) if i2 > i1 else (i1, i1 + 1))
        if not changed:
            return None
        try:
            tree = ast.parse(textwrap.dedent(original))
        except SyntaxError:
            return None
        definition = tree.body[0]
        if not isinstance(definition, (ast.FunctionDef, ast.AsyncFunctionDef)) or not definition.body:
            return None
        body_start = min(getattr(node, "lineno", 10**9) for node in definition.body)
        if min(changed) < body_start:
            return None   # the signature (a default value): every call reads it
        statements = [node for node in ast.walk(definition) if isinstance(node, ast.stmt) and node is not definition]
        first_lines = set()
        for line in changed:
            around = [node for node in statements if node.lineno <= line <= (node.end_lineno or node.lineno)]
            if not around:
                return None
            innermost = max(around, key=lambda node: node.lineno)
            first_lines.add(innermost.lineno)
        start = spans.span_by_function_name[original_function].start
        return path, {start + line - 1 for line in first_lines}
