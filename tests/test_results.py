"""The results record: extra_info in and out, rounds merged, statistics as pytest-benchmark
computes them."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest

from fileproto.results import LoadResult
from fileproto.results.document import BenchmarkEntry, load_document, load_results
from fileproto.results.stats import FIELDS, Stats

pytestmark = pytest.mark.smoke

OLD_RUN = Path(__file__).resolve().parent.parent / "docs" / "full-run.json"


def test_an_older_run_reads_and_writes_back_unchanged() -> None:
    """Every extra_info of the saved run comes back key for key, in its order."""
    document = load_document(OLD_RUN)
    results = load_results(document)
    assert len(results) == 108
    infos = [b["extra_info"] for b in document["benchmarks"] if "operation" in b["extra_info"]]
    for result, info in zip(results, infos, strict=True):
        assert list(result.extra_info().items()) == list(info.items())
    assert results[0].name == "test_matrix[thread-UPLOAD-10MiB-c1-w1]"


def test_unknown_keys_are_kept_and_optional_ones_omitted() -> None:
    info: dict[str, Any] = {
        "operation": "UPLOAD", "size_mib": 0.5, "size_bytes": 1 << 19, "client_workers": 2,
        "server_workers": "external", "server_kind": "external", "method": "thread",
        "avg_time_s": 0.01, "throughput_Bps": 5e7, "aggregate_Bps": 9e7, "wall_time_s": 0.011,
        "successes": 2, "failures": 0, "verified": True, "first_error": None,
        "someone_elses": [1, 2],
    }  # fmt: skip
    result = LoadResult.from_extra_info(info, "x")
    assert result.extra == {"someone_elses": [1, 2]}
    assert result.server_peak_rss_bytes is None and result.rounds is None
    assert result.extra_info() == info


def _round(seconds: float, **changes: Any) -> LoadResult:
    base = LoadResult(
        operation="DOWNLOAD", size_mib=10, size_bytes=10 << 20, client_workers=5,
        server_workers=5, server_kind="thread", method="thread", avg_time_s=seconds,
        throughput_Bps=(10 << 20) / seconds, aggregate_Bps=5 * (10 << 20) / seconds,
        wall_time_s=seconds * 1.1, successes=5, failures=0, verified=True, first_error=None,
        client_peak_rss_bytes=50_000_000, interrupted=False,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_rounds_merge_averaged_and_summed() -> None:
    merged = LoadResult.merge(
        [
            _round(0.1),
            _round(0.3, successes=4, failures=1, verified=False, first_error="client 3: reset"),
            _round(0.2, client_peak_rss_bytes=60_000_000),
        ]
    )
    assert merged.avg_time_s == pytest.approx(0.2)
    assert merged.wall_time_s == pytest.approx(0.22)
    assert (merged.successes, merged.failures, merged.rounds) == (14, 1, 3)
    assert merged.verified is False and merged.first_error == "client 3: reset"
    assert merged.client_peak_rss_bytes == 60_000_000 and merged.interrupted is False
    limited = merged.with_limit(0.1, 1e9)
    assert limited.ratio_to_limit == pytest.approx(2.0)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 50])
def test_stats_are_pytest_benchmarks(count: int) -> None:
    """The same numbers pytest-benchmark computes (so `compare` shows the same)."""
    bench_stats = pytest.importorskip("pytest_benchmark.stats")
    rng = random.Random(count)
    data = [rng.lognormvariate(-3, 0.4) for _ in range(count)]
    if count > 5:
        data[2] = 10.0  # an outlier, for the fences
    theirs = bench_stats.Stats()
    for value in data:
        theirs.update(value)
    ours = Stats(data).as_dict()
    assert list(ours)[: len(FIELDS)] == list(theirs.fields)
    for field in theirs.fields:
        assert ours[field] == getattr(theirs, field), field
    assert ours["data"] == data and ours["iterations"] == 1


def test_benchmark_entry_round_trip() -> None:
    info = _round(0.1).extra_info()
    entry = BenchmarkEntry("n", "t.py::n", info, [0.1, 0.2], param="p", options={"rounds": 2})
    data = json.loads(json.dumps(entry.as_dict()))
    assert list(data) == [
        "group", "name", "fullname", "params", "param", "extra_info", "options", "stats",
    ]  # fmt: skip
    assert BenchmarkEntry.from_dict(data) == entry
    assert data["stats"]["rounds"] == 2 and data["stats"]["median"] == pytest.approx(0.15)
