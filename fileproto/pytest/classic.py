"""The stress matrix as pytest-benchmark benchmarks: parametrization and the case runner."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from fileproto.cases.classic import MatrixCase, matrix_cases
from fileproto.cases.slowclients import default_dispatch
from fileproto.load.testfiles import MIB, TestFile
from fileproto.pytest.fixtures import LimitBook
from fileproto.pytest.recording import record
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.pytest.settings import Options
from fileproto.results import EXTERNAL, LoadResult
from fileproto.results.document import BenchmarkEntry
from fileproto.stress import (
    LoadSpec,
    PreparedLoad,
    RoundOutcome,
    Surroundings,
    merge_rounds,
    method_for,
    verify,
)

MATRIX_TIMEOUT = 900  # seconds; generous for 50 x 100 MiB, still stops a hung server


def parametrize(metafunc: pytest.Metafunc) -> None:
    """A test that asks for ``fileproto_case`` runs over the matrix of the kinds asked
    for (``--fileproto-kinds``); with ``--fileproto-target``, over the loads only."""
    external = bool(metafunc.config.getoption("--fileproto-target"))
    params = []
    seen = set()
    for case in matrix_cases(metafunc.config.getoption("--fileproto-kinds")):
        if external:
            # Someone else's server: its worker count is not ours to vary.
            case = MatrixCase(EXTERNAL, case.operation, case.size_mib, case.clients, 0)
            if case in seen:
                continue
            seen.add(case)
        marks = [pytest.mark.full, pytest.mark.timeout(MATRIX_TIMEOUT)]
        if case.smoke or (external and case.size_mib == 10 and case.clients in (1, 5)):
            marks.append(pytest.mark.smoke)
        # e.g. external-UPLOAD-10MiB-c5: the server's kind and workers are not ours to name
        case_id = case.id if not external else case.id.rsplit("-w", 1)[0]
        params.append(pytest.param(case, id=case_id, marks=marks))
    metafunc.parametrize("fileproto_case", params)


class MatrixRunner:
    """Runs one matrix case as a benchmark: every round timed by pytest-benchmark (and
    by us, for the JSON under pytest-xdist), then verified, recorded and judged."""

    def __init__(
        self,
        item: pytest.Item,
        benchmark: Any,
        servers: ServerPool,
        testfile: Callable[[int], TestFile],
        options: Options,
        limits: LimitBook,
    ) -> None:
        self.item = item
        self.benchmark = benchmark
        self.servers = servers
        self.testfile = testfile
        self.options = options
        self.limits = limits

    def __call__(self, case: MatrixCase) -> dict[str, Any]:
        server = self.servers.get(case.kind, case.server_workers)
        source = self.testfile(case.size_mib * MIB)
        spec = self._spec(case, server, source)
        if case.operation == "DOWNLOAD":
            server.store(source, spec.remote_name)
        surroundings = Surroundings(probe=self.options.probe)
        rounds, durations = run_load(
            self.benchmark, self.options.rounds, spec, server, surroundings
        )
        result = self._result(case, server, source, rounds)
        info = result.extra_info()
        self.benchmark.extra_info.update(info)
        record(self.item, self._entry(info, durations))
        if result.failures and not self.options.allow_failures:
            pytest.fail(
                f"{result.failures} of {case.clients * self.options.rounds} client(s) failed "
                f"({result.successes} succeeded); first error: {result.first_error}",
                pytrace=False,
            )
        return info

    def _spec(self, case: MatrixCase, server: RunningServer, source: TestFile) -> LoadSpec:
        operation = case.operation.lower()
        return LoadSpec(
            server.host,
            server.port,
            case.operation,
            case.clients,
            source,
            method=self.options.method or method_for(case.kind),
            dialect=self.options.dialect,
            # DOWNLOAD: the file every client fetches; UPLOAD: client i's is -c<i>.
            remote_name=self.servers.name(f"{operation}-{case.size_mib}MiB.bin"),
        )

    def _result(
        self,
        case: MatrixCase,
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
            dispatch=default_dispatch(case.kind),
        ).with_server_peak(server_peak)
        limit = self.limits.get(source.size)
        return result.with_limit(limit.seconds, limit.throughput)

    def _entry(self, info: dict[str, Any], durations: list[float]) -> BenchmarkEntry:
        return benchmark_entry(self.item, self.benchmark, info, durations, self.options.rounds)


def run_load(
    benchmark: Any, count: int, spec: LoadSpec, server: RunningServer, around: Surroundings
) -> tuple[list[RoundOutcome], list[float]]:
    """``count`` rounds of ``spec`` against ``server``: each round's uploads removed
    before it, the server's peak memory reset, ``around`` beside the clients."""
    uploads = [spec.upload_name(i) for i in range(spec.clients)]
    if spec.operation == "UPLOAD":
        server.stored.update(uploads)  # removed at the end even if the case fails

    def prepare() -> PreparedLoad:
        if spec.operation == "UPLOAD":
            server.remove(uploads)
            server.stored.update(uploads)
        server.reset_peak_rss()
        return PreparedLoad(spec, surroundings=around)

    return run_rounds(benchmark, count, prepare)


def verify_and_clean(server: RunningServer, source: TestFile, rounds: list[RoundOutcome]) -> int:
    """Verify every round's transfers, then remove the uploads (50 x 100 MiB would pile
    up on disk). Returns the server's peak memory, read before that work."""
    server_peak = server.peak_rss()
    for outcome in rounds:
        verify(outcome, server.upload_check(source))
    if rounds and rounds[0].spec.operation == "UPLOAD":
        spec = rounds[0].spec
        server.remove(spec.upload_name(i) for i in range(spec.clients))
    return server_peak


def run_rounds(
    benchmark: Any, count: int, prepare: Callable[[], PreparedLoad]
) -> tuple[list[RoundOutcome], list[float]]:
    """``count`` rounds timed by pytest-benchmark (``prepare`` is its untimed setup),
    and by us for the JSON under pytest-xdist: (outcomes, seconds per round)."""
    rounds: list[RoundOutcome] = []
    durations: list[float] = []

    def setup() -> tuple[tuple[PreparedLoad], dict[str, Any]]:
        return (prepare(),), {}

    def timed(prepared: PreparedLoad) -> None:
        start = time.perf_counter()
        rounds.append(prepared.run())
        durations.append(time.perf_counter() - start)

    benchmark.pedantic(timed, setup=setup, rounds=count, iterations=1)
    # pytest-benchmark switched off (pytest-xdist, --benchmark-disable) runs one round
    # whatever is asked; the figures still need every round.
    while len(rounds) < count:
        args, _kwargs = setup()
        timed(*args)
    return rounds, durations


def benchmark_entry(
    item: pytest.Item, benchmark: Any, info: dict[str, Any], durations: list[float], rounds: int
) -> BenchmarkEntry:
    """A case as pytest-benchmark saves it (its fixture's ``Metadata.as_dict``)."""
    callspec = getattr(item, "callspec", None)
    params = {k: _jsonable(v) for k, v in callspec.params.items()} if callspec else None
    return BenchmarkEntry(
        name=item.name,
        fullname=item.nodeid,
        group=getattr(benchmark, "group", None),
        params=params,
        param=callspec.id if callspec else None,
        extra_info=info,
        options={"timer": "perf_counter", "rounds": rounds, "iterations": 1},
        durations=durations,
    )


def _jsonable(value: Any) -> Any:
    """As pytest-benchmark's JSON writer shows a parameter it cannot serialize."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return f"UNSERIALIZABLE[{value!r}]"
    return value


@pytest.fixture
def fileproto_run_case(
    request: pytest.FixtureRequest,
    benchmark: Any,
    fileproto_servers: ServerPool,
    fileproto_testfile: Callable[[int], TestFile],
    fileproto_options: Options,
    fileproto_limit: LimitBook,
) -> Callable[[MatrixCase], dict[str, Any]]:
    """Run one matrix case as a benchmark; returns (and records) its extra_info."""
    return MatrixRunner(
        request.node,
        benchmark,
        fileproto_servers,
        fileproto_testfile,
        fileproto_options,
        fileproto_limit,
    )
