"""The slow-client matrix (marker ``slowclients``) as pytest-benchmark benchmarks.

A test that asks for ``fileproto_slow_case`` runs over
:func:`fileproto.cases.slowclients.slow_cases` of the kinds asked for
(``--fileproto-kinds``). Each case gets a fresh server started with its ``--dispatch``
and its scenario's options (a case cut by its deadline can leave a server busy with
what it was reading) and stopped after. Failed clients are the result, not a test
failure: the test fails only if a transfer that completed did not verify, or the server
died. The case runner is the classic matrix's (:mod:`.runner`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fileproto.cases.slowclients import SlowCase, external_cases, slow_cases
from fileproto.load.testfiles import TestFile
from fileproto.pytest.runner import CaseLoad, CaseRunner
from fileproto.pytest.servers import ServerPool
from fileproto.pytest.settings import Options
from fileproto.units import MIB

#: Seconds a slowclients case may take in all (its deadline bounds the clients).
SLOW_TIMEOUT = 180


def parametrize_slow(metafunc: pytest.Metafunc) -> None:
    """``fileproto_slow_case`` over the slow-client matrix; with ``--fileproto-target``,
    over the scenarios only."""
    external = bool(metafunc.config.getoption("--fileproto-target"))
    cases = (
        external_cases() if external else slow_cases(metafunc.config.getoption("--fileproto-kinds"))
    )
    marks = [pytest.mark.slowclients, pytest.mark.timeout(SLOW_TIMEOUT)]
    metafunc.parametrize(
        "fileproto_slow_case", [pytest.param(case, id=case.id, marks=marks) for case in cases]
    )


def slow_load(case: SlowCase, options: Options) -> CaseLoad:
    """A slow-client case: a fresh server, the scenario's links, waiting connections and
    deadline (``--fileproto-slow-deadline`` overrides it); failed clients are figures."""
    if options.slow_deadline is not None:
        case = case.with_deadline(options.slow_deadline)
    scenario = case.scenario
    schedule = options.schedule_args(case.kind) if case.dispatch == "ready" else ()
    return CaseLoad(
        kind=case.kind,
        server_workers=case.server_workers,
        operation=scenario.operation,
        clients=scenario.clients,
        size=round(scenario.size_mib * MIB),
        remote_stem=f"slow-{case.id}.bin",
        fresh_server_args=(*case.server_args, *schedule),
        timeout=60.0,
        rate=scenario.rate,
        deadline=scenario.deadline,
        waiting=scenario.waiting,
        stalled_size=round(scenario.stalled_size_mib * MIB),
        dispatch=case.dispatch,
        schedule=options.schedule_of(case.kind, case.dispatch),
        scenario=scenario.name,
        group=f"slowclients {scenario.name}",
        strict=False,
    )


@pytest.fixture
def fileproto_run_slow_case(
    request: pytest.FixtureRequest,
    benchmark: Any,
    fileproto_servers: ServerPool,
    fileproto_testfile: Callable[[int], TestFile],
    fileproto_options: Options,
) -> Callable[[SlowCase], dict[str, Any]]:
    """Run one slow-client case as a benchmark; returns (and records) its extra_info."""
    runner = CaseRunner(
        request.node, benchmark, fileproto_servers, fileproto_testfile, fileproto_options
    )
    return lambda case: runner(slow_load(case, fileproto_options))
