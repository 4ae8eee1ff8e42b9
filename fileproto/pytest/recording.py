"""What a session keeps of its benchmarks: the terminal summary, the report files and
the limit in the benchmark JSON.

Each matrix case puts its pytest-benchmark entry in the test report's
``user_properties``; those travel from pytest-xdist workers to the controller, so the
controller sees every case however the run was distributed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fileproto import report
from fileproto.pytest.fixtures import LIMIT_BOOK
from fileproto.pytest.settings import Options
from fileproto.results import LIMIT_KEY, BenchmarkEntry, LoadResult
from fileproto.testfiles import MIB

#: The user_properties key of a case's benchmark entry.
BENCHMARK_PROPERTY = "fileproto_benchmark"


def record(item: pytest.Item, entry: BenchmarkEntry) -> None:
    item.user_properties.append((BENCHMARK_PROPERTY, entry.as_dict()))


class Recorder:
    """A plugin object: collects the cases' entries, writes what is asked for."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.entries: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == BENCHMARK_PROPERTY and isinstance(value, dict):
                self.entries.append(value)

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(
        self, config: pytest.Config, benchmarks: list[Any], output_json: dict[str, Any]
    ) -> None:
        """Keep the limit measured in this run beside the cases it is compared with."""
        book = config.stash.get(LIMIT_BOOK, None)
        if book is not None and book.results:
            output_json[LIMIT_KEY] = [r.extra_info() for _, r in sorted(book.results.items())]

    # -- the terminal summary and the report files --------------------------------------

    def _results(self) -> list[LoadResult]:
        return [
            LoadResult.from_extra_info(entry["extra_info"], entry["name"])
            for entry in self.entries
            if "operation" in entry["extra_info"]
        ]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if hasattr(self.config, "workerinput"):
            return
        results = report.sort_results(self._results())
        if not results:
            return
        terminalreporter.section("fileproto stress matrix")
        terminalreporter.write_line(report.render_text(results))
        limits = {r.size_bytes: r for r in results if r.limit_time_s}
        for size, r in sorted(limits.items()):
            terminalreporter.write_line(
                f"limit (bare pipeline, same run): {size / MIB:g} MiB in {r.limit_time_s:.3f} s"
                f" = {r.limit_Bps or 0:,.0f} B/s"
            )
        report_dir = Options.from_config(self.config).report_dir
        if report_dir is not None:
            _write_report(terminalreporter, report_dir, results, list(limits.values()))


def _write_report(
    terminalreporter: Any, folder: Path, results: list[LoadResult], limits: list[LoadResult]
) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.md").write_text(report.render_markdown(results))
    (folder / "results.csv").write_text(report.render_csv(results))
    written = ["results.md", "results.csv"]
    references = [
        {"reference": "limit", "size_mib": r.size_mib, "throughput_Bps": r.limit_Bps}
        for r in limits
    ]
    try:
        report.render_png(results, folder / "results.png", references=references)
        written.append("results.png")
    except RuntimeError as exc:
        terminalreporter.write_line(f"no plot: {exc}")
    terminalreporter.write_line(f"report written to {folder}: {', '.join(written)}")
