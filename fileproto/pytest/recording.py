"""What a session keeps of its benchmarks: the terminal summary, the report files, the
limit in the benchmark JSON, and the benchmark JSON itself under pytest-xdist.

Each matrix case puts its pytest-benchmark entry in the test report's
``user_properties``; those travel from pytest-xdist workers to the controller, so the
controller sees every case however the run was distributed.

pytest-benchmark switches itself off under pytest-xdist ("cannot be performed reliably
in a parallelized environment") and then writes no ``--benchmark-json`` file; the only
sign is a warning. Here the controller writes that file from the entries the workers
report, in pytest-benchmark's format, with ``machine_info["parallel"]`` saying the cases
ran side by side (their figures are not those of a serial run). Saving into the
benchmark storage (``--benchmark-save``/``--benchmark-autosave``) under pytest-xdist is
refused at start rather than skipped in silence.
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
from pathlib import Path
from typing import Any

import pytest

from fileproto import report
from fileproto.cases.comparisons import Stated, stated
from fileproto.pytest.fixtures import LIMIT_BOOK
from fileproto.pytest.refine import (
    FLOOR_S,
    REFINED_PROPERTY,
    REFINER,
    UPDATE_PROPERTY,
    statistics_of,
)
from fileproto.pytest.settings import Options
from fileproto.report.answer_render import explained, render_answer_text
from fileproto.report.compose import report_markdown
from fileproto.report.findings import findings, render_findings_text
from fileproto.report.order import kinds_note
from fileproto.report.units import throughput_text, time_text
from fileproto.results import LoadResult
from fileproto.results.document import (
    LIMIT_KEY,
    STATISTICS_KEY,
    VERDICTS_KEY,
    BenchmarkEntry,
    benchmark_document,
    machine_info,
    write_document,
)
from fileproto.units import MIB

#: The user_properties key of a case's benchmark entry.
BENCHMARK_PROPERTY = "fileproto_benchmark"


def record(item: pytest.Item, entry: BenchmarkEntry) -> None:
    item.user_properties.append((BENCHMARK_PROPERTY, entry.as_dict()))


def xdist_controller(config: pytest.Config) -> bool:
    """This is the controller of a pytest-xdist run (pytest-benchmark's own test)."""
    return not hasattr(config, "workerinput") and config.getoption("dist", "no") != "no"


def _benchmarks_on(config: pytest.Config) -> bool:
    """pytest-benchmark would time benchmarks, were it not for pytest-xdist."""
    skip = config.getoption("benchmark_skip", False)
    disabled = config.getoption("benchmark_disable", False) and not config.getoption(
        "benchmark_enable", False
    )
    return not skip and not disabled


def check_xdist_saving(config: pytest.Config) -> None:
    """A UsageError at start for what cannot be done under pytest-xdist."""
    if not xdist_controller(config) or not _benchmarks_on(config):
        return
    for option in ("benchmark_save", "benchmark_autosave"):
        if config.getoption(option, None):
            flag = "--" + option.replace("_", "-")
            raise pytest.UsageError(
                f"{flag} saves nothing under pytest-xdist (-n): pytest-benchmark switches "
                "itself off there. Drop -n to save timed runs, or use --benchmark-json=FILE, "
                "which the fileproto plugin writes from the workers' results (marked as a "
                "parallel run)."
            )


class Recorder:
    """A plugin object: collects the cases' entries, writes what is asked for."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.entries: list[dict[str, Any]] = []
        #: What the added rounds of each load did (fileproto.pytest.refine).
        self.refined: list[dict[str, Any]] = []
        self.workers: set[str] = set()
        self.json_written: Path | None = None

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if not isinstance(value, dict):
                continue
            if key == BENCHMARK_PROPERTY:
                self.entries.append(value)
                worker = getattr(getattr(report, "node", None), "workerinput", {})
                if isinstance(worker, dict) and "workerid" in worker:
                    self.workers.add(str(worker["workerid"]))
            elif key == UPDATE_PROPERTY:
                # A case that gained rounds after its own test ended: its record again.
                names = [entry.get("fullname") for entry in self.entries]
                if value.get("fullname") in names:
                    self.entries[names.index(value.get("fullname"))] = value
                else:
                    self.entries.append(value)
            elif key == REFINED_PROPERTY:
                self.refined.append(value)

    def verdicts(self) -> list[Stated]:
        """The comparisons the run states, from every case's rounds as they are now."""
        results = self._results()
        return stated(results, {r.id: r.times_of_rounds() for r in results})

    def statistics(self) -> dict[str, Any]:
        """How the verdicts were reached: the method, the rounds and the budget."""
        options = Options.from_config(self.config)
        refiner = self.config.stash.get(REFINER, None)
        return statistics_of(
            self.verdicts(),
            first_rounds=options.rounds,
            budget=options.budget,
            refined=self.refined,
            off=None if refiner is None else refiner.off,
            floor_s=FLOOR_S if refiner is None else refiner.floor_s,
        )

    @pytest.hookimpl(optionalhook=True)
    def pytest_benchmark_update_json(
        self, config: pytest.Config, benchmarks: list[Any], output_json: dict[str, Any]
    ) -> None:
        """Keep the limit measured in this run beside the cases it is compared with."""
        book = config.stash.get(LIMIT_BOOK, None)
        if book is not None and book.results:
            output_json[LIMIT_KEY] = [r.extra_info() for _, r in sorted(book.results.items())]
        verdicts = self.verdicts()
        if verdicts:
            output_json[VERDICTS_KEY] = [v.as_dict() for v in verdicts]
            output_json[STATISTICS_KEY] = self.statistics()

    # -- the benchmark JSON under pytest-xdist ------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        config = self.config
        target = config.getoption("benchmark_json", None)
        if not target or not xdist_controller(config) or not _benchmarks_on(config):
            return
        write_document(self._parallel_document(), target)
        # pytest-benchmark 5 gives a Path; 4 gave the file it opened.
        path = target if isinstance(target, str | os.PathLike) else target.name
        self.json_written = Path(path)

    def _parallel_document(self) -> dict[str, Any]:
        config = self.config
        hook = config.hook
        machine, commit, version = _machine_and_commit(config)
        machine["parallel"] = {
            "runner": "pytest-xdist",
            "workers": len(self.workers) or config.getoption("numprocesses", None),
            "note": "cases ran side by side, written by the fileproto plugin; their "
            "figures are not those of a serial run",
        }
        entries = [BenchmarkEntry.from_dict(entry) for entry in self.entries]
        document = benchmark_document(entries, machine=machine, commit=commit, version=version)
        limits = _limits(entries)
        if limits:
            document[LIMIT_KEY] = limits
        hook.pytest_benchmark_update_json(config=config, benchmarks=[], output_json=document)
        return document

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
        if self.json_written is not None:
            terminalreporter.write_line(
                f"fileproto: wrote the benchmark JSON of this pytest-xdist run "
                f"({len(self.entries)} benchmark(s), marked parallel) to {self.json_written}"
            )
        classic, slow = report.split(self._results())
        results = report.sort_results(classic)
        if not results and not slow:
            return
        document = self._report_document()
        cases = report.load_cases(document)
        verdicts = self.verdicts()
        answer = explained(document, cases, verdicts)
        if answer is not None:
            # The answer first: which model and worker count suits which load, and why.
            terminalreporter.section("fileproto: the answer")
            terminalreporter.write_line(render_answer_text(answer))
        if results:
            terminalreporter.section("fileproto stress matrix")
            terminalreporter.write_line(report.render_text(results))
            for line in _measured_nothing(results):
                terminalreporter.write_line(line)
            terminalreporter.write_line(verdicts_line(self.statistics()))
        limits = {r.size_bytes: r for r in results if r.limit_time_s}
        for size, r in sorted(limits.items()):
            terminalreporter.write_line(
                f"limit (bare pipeline, same run): {size / MIB:g} MiB in "
                f"{time_text(r.limit_time_s or 0.0)} = {throughput_text(r.limit_Bps or 0.0)}"
            )
        if slow:
            terminalreporter.section("fileproto slow clients")
            terminalreporter.write_line(report.render_slow_text(slow))
        # What the run shows, in words, under its tables (the same as the report's).
        terminalreporter.section("fileproto findings")
        note = None if answer else kinds_note(r for r in (*results, *slow))
        if note:
            terminalreporter.write_line(note)
        terminalreporter.write_line(render_findings_text(findings(cases, verdicts)))
        report_dir = Options.from_config(self.config).report_dir
        if report_dir is not None:
            markdown = report_markdown(cases, verdicts, answer)
            _write_report(
                terminalreporter, report_dir, results, list(limits.values()), slow, markdown
            )
            _write_html(terminalreporter, report_dir, document, self.config)

    def _report_document(self) -> dict[str, Any]:
        """The session's cases as a benchmark document, for the HTML report."""
        entries = [BenchmarkEntry.from_dict(entry) for entry in self.entries]
        machine, commit, version = _machine_and_commit(self.config)
        document = benchmark_document(entries, machine=machine, commit=commit, version=version)
        limits = _limits(entries)
        if limits:
            document[LIMIT_KEY] = limits
        return document


def verdicts_line(statistics: dict[str, Any]) -> str:
    """The run's verdicts in one line: how many, how decided, at what cost."""
    counts = statistics["verdicts"]
    if not statistics["comparisons"]:
        return "fileproto verdicts: no two cases of one load to compare"
    rounds = statistics["rounds"] or {}
    text = (
        f"fileproto verdicts: {statistics['comparisons']} comparisons: {counts['faster']} "
        f"faster, {counts['slower']} slower, {counts['same']} the same within "
        f"{statistics['margin']:.0%}, {counts['undecided']} undecided "
        f"({statistics['confidence']:.0%} confidence; {rounds.get('min')} to "
        f"{rounds.get('max')} rounds per case"
    )
    if statistics["not_added"]:
        return f"{text}; {statistics['not_added']})"
    return (
        f"{text}; {statistics['rounds_added']} round(s) added in "
        f"{statistics['seconds_added']:.0f} s; docs/statistics.md)"
    )


def _machine_and_commit(config: pytest.Config) -> tuple[dict[str, Any], dict[str, Any], str]:
    """machine_info, commit_info and version as pytest-benchmark would write them."""
    hook = config.hook
    if hasattr(hook, "pytest_benchmark_generate_machine_info"):
        machine = hook.pytest_benchmark_generate_machine_info(config=config)
        hook.pytest_benchmark_update_machine_info(config=config, machine_info=machine)
        commit = hook.pytest_benchmark_generate_commit_info(config=config)
        hook.pytest_benchmark_update_commit_info(config=config, commit_info=commit)
        return machine, commit, importlib.metadata.version("pytest-benchmark")
    return machine_info(), {}, "unknown"


def _measured_nothing(results: list[LoadResult]) -> list[str]:
    """A line per case in which every client failed (only under --fileproto-allow-
    failures does such a case get this far): its zeros are not figures."""
    return [
        f"fileproto: {report.MARK} no client succeeded in {r.name or r.id}: every client "
        f"failed ({r.failures} of {r.failures}), so its times and rates measure nothing; "
        f"first error: {' '.join((r.first_error or 'none recorded').split())}"
        for r in results
        if r.successes == 0
    ]


def _limits(entries: list[BenchmarkEntry]) -> list[dict[str, Any]]:
    """The limit per size from the cases' extra_info (each worker measured its own; the
    fastest is the machine's ceiling)."""
    best: dict[int, dict[str, Any]] = {}
    for entry in entries:
        info = entry.extra_info
        seconds, size = info.get("limit_time_s"), info.get("size_bytes")
        if not seconds or not isinstance(size, int):
            continue
        if size not in best or seconds < best[size]["time_s"]:
            best[size] = {
                "reference": "limit",
                "size_mib": info.get("size_mib"),
                "size_bytes": size,
                "time_s": seconds,
                "throughput_Bps": info.get("limit_Bps"),
            }
    return [best[size] for size in sorted(best)]


def _write_html(
    terminalreporter: Any, folder: Path, document: dict[str, Any], config: pytest.Config
) -> None:
    """index.html: the whole report on one page, with this session's command line."""
    from fileproto.report.html import render_html

    args = shlex.join(str(a) for a in config.invocation_params.args)
    commands = ['pip install -e ".[test]"', f"pytest {args}".rstrip()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        page = render_html(document, commands=commands)
    except RuntimeError as exc:  # matplotlib is missing
        terminalreporter.write_line(f"no HTML report: {exc}")
        return
    (folder / "index.html").write_text(page, encoding="utf-8")
    terminalreporter.write_line(f"HTML report written to {folder / 'index.html'}")


def _write_report(
    terminalreporter: Any,
    folder: Path,
    results: list[LoadResult],
    limits: list[LoadResult],
    slow: list[LoadResult],
    markdown: str,
) -> None:
    """results.md (``markdown``: the answer, the findings and every table, as
    ``fileproto report --md`` writes them), and per part of the run its CSV and chart:
    results.csv and results.png for the classic matrix, results-slowclients.csv and .png
    for the slow-client cases."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "results.md").write_text(markdown)
    written = ["results.md"]
    charts: list[tuple[str, Any]] = []
    if results:
        (folder / "results.csv").write_text(report.render_csv(results))
        written.append("results.csv")
        references = [
            {"reference": "limit", "size_mib": r.size_mib, "throughput_Bps": r.limit_Bps}
            for r in limits
        ]
        charts.append(
            ("results.png", lambda p: report.render_png(results, p, references=references))
        )
    if slow:
        (folder / "results-slowclients.csv").write_text(report.render_slow_csv(slow))
        written.append("results-slowclients.csv")
        charts.append(("results-slowclients.png", lambda p: report.render_slow_png(slow, p)))
    for name, draw in charts:
        try:
            draw(folder / name)
            written.append(name)
        except RuntimeError as exc:
            terminalreporter.write_line(f"no plot: {exc}")
            break
    terminalreporter.write_line(f"report written to {folder}: {', '.join(written)}")
