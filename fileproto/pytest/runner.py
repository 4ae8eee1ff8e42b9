"""The one case runner of both matrices (the classic one, :mod:`.classic`, and the
slow-client one, :mod:`.slowclients`): a case is described as a :class:`CaseLoad`, run
as a pytest-benchmark benchmark (every round timed by pytest-benchmark, and by us for
the JSON under pytest-xdist), verified, recorded and judged."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from fileproto.load.testfiles import TestFile
from fileproto.pytest.fixtures import LimitBook
from fileproto.pytest.recording import record
from fileproto.pytest.refine import CaseRun
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.pytest.settings import Options
from fileproto.results import EXTERNAL, LoadResult
from fileproto.results.document import BenchmarkEntry
from fileproto.results.felt import Waiting
from fileproto.stress import (
    LoadSpec,
    Operation,
    PreparedLoad,
    RoundOutcome,
    Surroundings,
    merge_rounds,
    method_for,
    verify,
)
from fileproto.units import MIB

#: Failure kinds that mean a completed transfer did not verify.
NOT_VERIFIED = ("wrong bytes", "not verified")


@dataclass(frozen=True)
class CaseLoad:
    """A case of either matrix, as the case runner runs it."""

    #: A registry kind, or EXTERNAL for the server of ``--fileproto-target``.
    kind: str
    server_workers: int
    operation: Operation
    clients: int
    #: The test file's size in bytes.
    size: int
    #: The name on the server (made per run and worker): DOWNLOAD fetches it, UPLOAD
    #: client i stores ``-c<i>`` of it.
    remote_stem: str
    #: None: a server shared with every case of the same kind and size. A tuple: a fresh
    #: server started with these arguments for this case alone, stopped after it.
    fresh_server_args: tuple[str, ...] | None = None
    #: Seconds a client may wait on the network at once.
    timeout: float = 300.0
    rate: float | None = None
    deadline: float | None = None
    waiting: Waiting = field(default_factory=Waiting)
    #: The size of the file stalled readers GET, stored before the case, removed after.
    stalled_size: int = 20 * MIB
    #: What the shared server (fresh_server_args None) is started with beside its kind
    #: and workers (a pool's ``--schedule``).
    server_args: tuple[str, ...] = ()
    #: Recorded with the figures.
    dispatch: str | None = None
    schedule: str | None = None
    scenario: str | None = None
    #: pytest-benchmark's group (None: its default).
    group: str | None = None
    #: True: any failed client fails the test (unless --fileproto-allow-failures), as in
    #: the classic matrix. False: failed clients are the case's figures; only a completed
    #: transfer that did not verify, or a server that died, fails it (the slow-client
    #: matrix).
    strict: bool = True


class CaseRunner:
    """Runs one :class:`CaseLoad` as a benchmark; returns (and records) its extra_info.
    Given ``limits``, the machine's ceiling for the same size goes into the figures."""

    def __init__(
        self,
        item: pytest.Item,
        benchmark: Any,
        servers: ServerPool,
        testfile: Callable[[int], TestFile],
        options: Options,
        limits: LimitBook | None = None,
        refine: Callable[[CaseRun], None] | None = None,
    ) -> None:
        self.item = item
        #: Hands a classic case that ran to the refiner (more rounds where a comparison
        #: of its load is open).
        self.refine = refine
        self.benchmark = benchmark
        self.servers = servers
        self.testfile = testfile
        self.options = options
        self.limits = limits

    def __call__(self, case: CaseLoad) -> dict[str, Any]:
        if case.group is not None:
            self.benchmark.group = case.group
        server = self._server(case)
        stalled_name: str | None = None
        try:
            source = self.testfile(case.size)
            spec = self._spec(case, server, source)
            if spec.operation == "DOWNLOAD":
                server.store(source, spec.remote_name)
            if case.waiting.stalled:
                stalled_name = self.servers.name(f"stalled-{case.stalled_size}.bin")
                server.store(self.testfile(case.stalled_size), stalled_name)
            around = Surroundings(self.options.probe, case.waiting, stalled_name)
            started = time.monotonic()
            rounds, durations = run_load(self.benchmark, self.options.rounds, spec, server, around)
            result = self._result(case, server, source, rounds)
            seconds = time.monotonic() - started
            alive = server.external or (server.process is not None and server.process.running)
        finally:
            if stalled_name is not None:
                server.remove([stalled_name])
            if case.fresh_server_args is not None and not server.external:
                self.servers.stop(server)
        info = result.extra_info()
        self.benchmark.extra_info.update(info)
        entry = benchmark_entry(self.item, self.benchmark, info, durations, self.options.rounds)
        record(self.item, entry)
        self._judge(case, result, rounds, alive)
        if self.refine is not None and case.fresh_server_args is None and not server.external:
            self.refine(
                CaseRun(
                    result,
                    entry,
                    seconds,
                    another=lambda: self._another(case, server, source, spec, around),
                    finish=lambda one: self._finish(one, source),
                    metadata=getattr(self.benchmark, "stats", None),
                )
            )
        return info

    def _another(
        self,
        case: CaseLoad,
        server: RunningServer,
        source: TestFile,
        spec: LoadSpec,
        around: Surroundings,
    ) -> tuple[LoadResult, float]:
        """One more round of a case, outside pytest-benchmark's timing (the refiner adds
        its duration): run, verified and cleaned up like the case's own."""
        prepared = prepare_round(spec, server, around)
        start = time.perf_counter()
        outcome = prepared.run()
        duration = time.perf_counter() - start
        peak = verify_and_clean(server, source, [outcome])
        kind, workers = case.kind, case.server_workers
        one = merge_rounds([outcome], kind, workers, dispatch=case.dispatch, scenario=case.scenario)
        one = dataclasses.replace(one, schedule=case.schedule)
        return one.with_server_peak(peak), duration

    def _finish(self, result: LoadResult, source: TestFile) -> LoadResult:
        """A record that gained rounds: the limit's ratio again over its new time."""
        if self.limits is None:
            return result
        limit = self.limits.get(source.size)
        return result.with_limit(limit.seconds, limit.throughput)

    def _server(self, case: CaseLoad) -> RunningServer:
        if case.kind == EXTERNAL:
            return self.servers.external()
        if case.fresh_server_args is None:
            return self.servers.get(case.kind, case.server_workers, *case.server_args)
        return self.servers.start(case.kind, case.server_workers, *case.fresh_server_args)

    def _spec(self, case: CaseLoad, server: RunningServer, source: TestFile) -> LoadSpec:
        return LoadSpec(
            server.host,
            server.port,
            case.operation,
            case.clients,
            source,
            method=self.options.method or method_for(case.kind),
            dialect=self.options.dialect,
            timeout=case.timeout,
            remote_name=self.servers.name(case.remote_stem),
            rate=case.rate,
            deadline=case.deadline,
        )

    def _result(
        self,
        case: CaseLoad,
        server: RunningServer,
        source: TestFile,
        rounds: list[RoundOutcome],
    ) -> LoadResult:
        server_peak = verify_and_clean(server, source, rounds)
        result = merge_rounds(
            rounds,
            case.kind,
            EXTERNAL if server.external else case.server_workers,
            dispatch=case.dispatch,
            scenario=case.scenario,
        )
        result = dataclasses.replace(result, schedule=case.schedule)
        if not server.external:  # we cannot see the memory of someone else's server
            result = result.with_server_peak(server_peak)
        if self.limits is not None:  # the machine's ceiling for the same bytes
            limit = self.limits.get(source.size)
            result = result.with_limit(limit.seconds, limit.throughput)
        return result

    def _judge(
        self, case: CaseLoad, result: LoadResult, rounds: list[RoundOutcome], alive: bool
    ) -> None:
        if case.strict:
            if result.failures and not self.options.allow_failures:
                pytest.fail(
                    f"{result.failures} of {case.clients * self.options.rounds} client(s) "
                    f"failed ({result.successes} succeeded); first error: {result.first_error}",
                    pytrace=False,
                )
            return
        # Clients stopped at the deadline, refused or reset are figures of the case.
        wrong = [c for r in rounds for c in r.clients if c.error_kind in NOT_VERIFIED]
        if wrong:
            first = wrong[0]
            pytest.fail(
                f"{len(wrong)} completed transfer(s) did not verify; first: client "
                f"{first.index}: {first.error}",
                pytrace=False,
            )
        if not alive:
            pytest.fail(f"the {case.kind} server died during the case", pytrace=False)


def run_load(
    benchmark: Any, count: int, spec: LoadSpec, server: RunningServer, around: Surroundings
) -> tuple[list[RoundOutcome], list[float]]:
    """``count`` rounds of ``spec`` against ``server``: each round's uploads removed
    before it, the server's peak memory reset, ``around`` beside the clients."""
    return run_rounds(benchmark, count, lambda: prepare_round(spec, server, around))


def prepare_round(spec: LoadSpec, server: RunningServer, around: Surroundings) -> PreparedLoad:
    """A round's untimed setup: the last round's uploads removed, the server's peak
    memory reset, its trace marked, the clients started and ready."""
    if spec.operation == "UPLOAD":
        uploads = [spec.upload_name(i) for i in range(spec.clients)]
        server.remove(uploads)
        server.stored.update(uploads)  # removed at the end even if the case fails
    server.reset_peak_rss()
    server.mark_trace()
    return PreparedLoad(spec, surroundings=around)


def verify_and_clean(server: RunningServer, source: TestFile, rounds: list[RoundOutcome]) -> int:
    """Verify every round's transfers, then remove the uploads (50 x 100 MiB would pile
    up on disk). Returns the server's peak memory, read before that work."""
    server_peak = server.peak_rss()
    for outcome in rounds:
        verify(outcome, server.upload_check(source))
    if rounds:
        server.attach_trace(rounds[-1])  # the last round's, as its timeline
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
        fullname=plain_nodeid(item.nodeid),
        group=getattr(benchmark, "group", None),
        params=params,
        param=callspec.id if callspec else None,
        extra_info=info,
        options={"timer": "perf_counter", "rounds": rounds, "iterations": 1},
        durations=durations,
    )


def plain_nodeid(nodeid: str) -> str:
    """A test's node id as pytest names it: without the ``@group`` pytest-xdist appends
    on a worker under ``--dist loadgroup`` (after the parameters' ``]``, as it reads it)."""
    at = nodeid.rfind("@")
    return nodeid[:at] if at > nodeid.rfind("]") else nodeid


def _jsonable(value: Any) -> Any:
    """As pytest-benchmark's JSON writer shows a parameter it cannot serialize."""
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return f"UNSERIALIZABLE[{value!r}]"
    return value
