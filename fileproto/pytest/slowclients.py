"""The slow-client matrix (marker ``slowclients``) as pytest-benchmark benchmarks.

A test that asks for ``fileproto_slow_case`` runs over :func:`fileproto.scenarios.slow_cases`
of the kinds asked for (``--fileproto-kinds``). Each case gets a fresh server started
with its ``--dispatch`` (a case cut by its deadline can leave a server busy with what it
was reading) and stopped after. Failed clients are the result, not a test failure: the
test fails only if a transfer that completed did not verify, or the server died.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fileproto.cases.slowclients import SlowCase, external_cases, slow_cases
from fileproto.load.testfiles import MIB, TestFile
from fileproto.pytest.classic import benchmark_entry, run_load, verify_and_clean
from fileproto.pytest.recording import record
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.pytest.settings import Options
from fileproto.results import EXTERNAL, LoadResult
from fileproto.stress import (
    LoadSpec,
    RoundOutcome,
    Surroundings,
    merge_rounds,
    method_for,
)

#: Seconds a slowclients case may take in all (its deadline bounds the clients).
SLOW_TIMEOUT = 180
#: Failure kinds that mean a completed transfer did not verify.
_NOT_VERIFIED = ("wrong bytes", "not verified")


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


class SlowCaseRunner:
    """Runs one slow-client case as a benchmark: background connections opened, then the
    clients released with the probe running, stopped at the deadline, verified, recorded."""

    def __init__(
        self,
        item: pytest.Item,
        benchmark: Any,
        servers: ServerPool,
        testfile: Callable[[int], TestFile],
        options: Options,
    ) -> None:
        self.item = item
        self.benchmark = benchmark
        self.servers = servers
        self.testfile = testfile
        self.options = options

    def __call__(self, case: SlowCase) -> dict[str, Any]:
        if self.options.slow_deadline is not None:
            case = case.with_deadline(self.options.slow_deadline)
        scenario = case.scenario
        self.benchmark.group = f"slowclients {scenario.name}"
        external = case.kind == EXTERNAL
        server = (
            self.servers.external()
            if external
            else self.servers.start(case.kind, case.server_workers, *case.server_args)
        )
        try:
            source = self.testfile(round(scenario.size_mib * MIB))
            spec = self._spec(case, server, source)
            if spec.operation == "DOWNLOAD":
                server.store(source, spec.remote_name)
            scenario_around = Surroundings(
                probe=self.options.probe,
                idle=scenario.idle,
                slowloris=scenario.slowloris,
                parked=scenario.parked,
            )
            rounds, durations = run_load(
                self.benchmark, self.options.rounds, spec, server, scenario_around
            )
            result = self._result(case, server, source, rounds)
            alive = external or (server.process is not None and server.process.running)
        finally:
            if not external:
                self.servers.stop(server)
        info = result.extra_info()
        self.benchmark.extra_info.update(info)
        record(
            self.item,
            benchmark_entry(self.item, self.benchmark, info, durations, self.options.rounds),
        )
        self._judge(case, rounds, alive)
        return info

    def _spec(self, case: SlowCase, server: RunningServer, source: TestFile) -> LoadSpec:
        scenario = case.scenario
        return LoadSpec(
            server.host,
            server.port,
            scenario.operation,
            scenario.clients,
            source,
            method=self.options.method or method_for(case.kind),
            dialect=self.options.dialect,
            timeout=60.0,
            remote_name=self.servers.name(f"slow-{case.id}.bin"),
            rate=scenario.rate,
            deadline=scenario.deadline,
        )

    def _result(
        self,
        case: SlowCase,
        server: RunningServer,
        source: TestFile,
        rounds: list[RoundOutcome],
    ) -> LoadResult:
        server_peak = verify_and_clean(server, source, rounds)
        external = case.kind == EXTERNAL
        result = merge_rounds(
            rounds,
            case.kind,
            EXTERNAL if external else case.server_workers,
            dispatch=case.dispatch,
            scenario=case.scenario.name,
        )
        return result if external else result.with_server_peak(server_peak)

    def _judge(self, case: SlowCase, rounds: list[RoundOutcome], alive: bool) -> None:
        """Clients stopped at the deadline, refused or reset are figures of the case; a
        completed transfer that did not verify, or a dead server, fails it."""
        wrong = [c for r in rounds for c in r.clients if c.error_kind in _NOT_VERIFIED]
        if wrong:
            first = wrong[0]
            pytest.fail(
                f"{len(wrong)} completed transfer(s) did not verify; first: client "
                f"{first.index}: {first.error}",
                pytrace=False,
            )
        if not alive:
            pytest.fail(f"the {case.kind} server died during the case", pytrace=False)


@pytest.fixture
def fileproto_run_slow_case(
    request: pytest.FixtureRequest,
    benchmark: Any,
    fileproto_servers: ServerPool,
    fileproto_testfile: Callable[[int], TestFile],
    fileproto_options: Options,
) -> Callable[[SlowCase], dict[str, Any]]:
    """Run one slow-client case as a benchmark; returns (and records) its extra_info."""
    return SlowCaseRunner(
        request.node, benchmark, fileproto_servers, fileproto_testfile, fileproto_options
    )
