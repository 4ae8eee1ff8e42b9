"""The reference case: the machine's ceiling for the same transfer (``pytest -m limit``).

Matrix runs measure it too (once per size, recorded with every case as ``limit_*``);
this benchmark is for looking at the ceiling alone, or saving it for comparison.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fileproto.limit import measure_limit
from fileproto.testfiles import MIB, TestFile

pytestmark = pytest.mark.limit


@pytest.mark.parametrize("size_mib", [10, 100], ids=lambda s: f"{s}MiB")
def test_limit(
    size_mib: int,
    benchmark: Any,
    fileproto_testfile: Callable[[int], TestFile],
    tmp_path: Path,
) -> None:
    source = fileproto_testfile(size_mib * MIB)
    results = []

    def once() -> None:
        results.append(measure_limit(source.path, tmp_path))

    benchmark.pedantic(once, rounds=3, iterations=1)
    best = min(results, key=lambda r: r.seconds)
    benchmark.extra_info.update(best.extra_info())
    assert best.size == source.size
    # The receiver wrote and removed its copy: nothing of 100 MiB is left behind.
    assert not list(tmp_path.iterdir())
