"""The classic matrix (:mod:`fileproto.cases.classic`) as pytest-benchmark benchmarks:
its parametrization, and its cases as the case runner (:mod:`.runner`) runs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from fileproto.cases.classic import MatrixCase, matrix_cases
from fileproto.cases.slowclients import default_dispatch
from fileproto.load.testfiles import TestFile
from fileproto.pytest.fixtures import LimitBook
from fileproto.pytest.refine import REFINER, CaseRun, group_name
from fileproto.pytest.runner import CaseLoad, CaseRunner
from fileproto.pytest.servers import ServerPool
from fileproto.pytest.settings import Options
from fileproto.results import EXTERNAL
from fileproto.units import MIB

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
        # One load's cases on one pytest-xdist worker (--dist loadgroup): the refiner
        # interleaves their added rounds.
        marks = [
            pytest.mark.full,
            pytest.mark.timeout(MATRIX_TIMEOUT),
            pytest.mark.xdist_group(group_name(case)),
        ]
        if case.smoke or (external and case.size_mib == 10 and case.clients in (1, 5)):
            marks.append(pytest.mark.smoke)
        params.append(pytest.param(case, id=case.id, marks=marks))
    metafunc.parametrize("fileproto_case", params)


def classic_load(case: MatrixCase, options: Options | None = None) -> CaseLoad:
    """A classic case: a shared server, the load as fast as it goes, any failed client
    a failed test, the machine's ceiling beside it; a pool runs the chosen schedule."""
    args = () if options is None else options.schedule_args(case.kind)
    dispatch = default_dispatch(case.kind)
    return CaseLoad(
        kind=case.kind,
        server_workers=case.server_workers,
        operation=case.operation,
        clients=case.clients,
        size=case.size_mib * MIB,
        # DOWNLOAD: the file every client fetches; UPLOAD: client i's is -c<i>.
        remote_stem=f"{case.operation.lower()}-{case.size_mib}MiB.bin",
        dispatch=dispatch,
        server_args=args,
        schedule=None if options is None else options.schedule_of(case.kind, dispatch),
    )


@pytest.fixture
def fileproto_run_case(
    request: pytest.FixtureRequest,
    benchmark: Any,
    fileproto_servers: ServerPool,
    fileproto_testfile: Callable[[int], TestFile],
    fileproto_options: Options,
    fileproto_limit: LimitBook,
) -> Callable[[MatrixCase], dict[str, Any]]:
    """Run one matrix case as a benchmark; returns (and records) its extra_info. The last
    case of a load adds rounds where the load's comparisons are open (.refine)."""
    refiner = request.config.stash.get(REFINER, None)

    def run(case: MatrixCase) -> dict[str, Any]:
        def refine(ran: CaseRun) -> None:
            if refiner is not None:
                refiner.finished(request.node, case, ran)

        runner = CaseRunner(
            request.node,
            benchmark,
            fileproto_servers,
            fileproto_testfile,
            fileproto_options,
            fileproto_limit,
            refine,
        )
        return runner(classic_load(case, fileproto_options))

    return run
