"""The reference case: the machine's ceiling for the same transfer (``pytest -m limit``).

Matrix runs measure it too (once per size, recorded with every case as ``limit_*``);
this benchmark is for looking at the ceiling alone, or saving it for comparison.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fileproto.load.limit import LimitResult, measure_limit
from fileproto.load.testfiles import TestFile
from fileproto.pytest.recording import record
from fileproto.results.document import BenchmarkEntry
from fileproto.units import MIB

pytestmark = pytest.mark.limit
ROUNDS = 3


@pytest.mark.parametrize("size_mib", [10, 100], ids=lambda s: f"{s}MiB")
def test_limit(
    size_mib: int,
    benchmark: Any,
    fileproto_testfile: Callable[[int], TestFile],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    source = fileproto_testfile(size_mib * MIB)
    results: list[LimitResult] = []

    def once() -> None:
        results.append(measure_limit(source.path, tmp_path))

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    while len(results) < ROUNDS:  # pytest-benchmark off (pytest-xdist) runs one round
        once()
    best = min(results, key=lambda r: r.seconds)
    benchmark.extra_info.update(best.extra_info())
    # For the benchmark JSON the plugin writes under pytest-xdist.
    record(
        request.node,
        BenchmarkEntry(
            name=request.node.name,
            fullname=request.node.nodeid,
            extra_info=best.extra_info(),
            durations=[r.seconds for r in results],
            params={"size_mib": size_mib},
            param=f"{size_mib}MiB",
        ),
    )
    assert best.size == source.size
    # The receiver wrote and removed its copy: nothing of 100 MiB is left behind.
    assert not list(tmp_path.iterdir())
