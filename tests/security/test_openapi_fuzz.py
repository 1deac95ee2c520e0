"""Property-based run of every operation documented in /api/3/openapi.json (schemathesis).

Each operation gets a bounded number of generated requests, valid and invalid, sent as a sysadmin
so that write actions run too. No answer may be a server error, and every answer must match the
envelope the document promises for its status. The seed is fixed so that CI is reproducible; set
CATALOG_FUZZ_SEED to explore other inputs and CATALOG_FUZZ_EXAMPLES for more of them.

The operations are driven with ``APIOperation.as_strategy`` rather than schemathesis' pytest loader
(``schemathesis.pytest.from_fixture``), which does not run under pytest 9.2.
"""
from __future__ import annotations

import os

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import response_schema_conformance

pytestmark = pytest.mark.slow

MAX_EXAMPLES = int(os.environ.get("CATALOG_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("CATALOG_FUZZ_SEED", "20261128"))
CHECKS = [not_a_server_error, response_schema_conformance]
REPORT_CHARS = 4000


def exercise(operation, mode: GenerationMode, *, app, headers: dict[str, str]) -> str | None:
    """Run one operation's generated cases; the failure report, or None when every answer conformed."""
    @hypothesis.seed(SEED)
    @hypothesis.settings(max_examples=MAX_EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck),
                         phases=[Phase.explicit, Phase.generate, Phase.shrink])
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.call_and_validate(app=app, headers=headers, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:  # nothing to negate: an operation without parameters has no invalid input
        return None
    except (Exception, BaseExceptionGroup) as error:  # noqa: BLE001 - all are collected, then reported
        return f"{operation.label} [{mode.value}]\n{str(error)[:REPORT_CHARS]}"
    return None


def test_every_operation_answers_as_documented(app, sysadmin, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_API", "1000000 per minute")  # hundreds of calls, one token
    schema = schemathesis.openapi.from_wsgi("/api/3/openapi.json", app)
    results = list(schema.get_all_operations())
    unusable = [str(result.err()) for result in results if not isinstance(result, Ok)]
    assert not unusable, unusable  # an operation the document describes wrongly
    operations = [result.ok() for result in results]
    assert len(operations) > 40
    headers = {"Authorization": sysadmin.token}
    failures = [report for operation in operations
                for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                if (report := exercise(operation, mode, app=app, headers=headers)) is not None]
    assert not failures, f"{len(failures)} operation(s) broke the contract:\n\n" + "\n\n".join(failures)
