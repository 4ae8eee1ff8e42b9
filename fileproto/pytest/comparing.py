"""``--fileproto-compare OLD.json``: this session's matrix cases against an earlier run,
printed at the end of the session, and ``--fileproto-compare-fail PERCENT``, a gate
that fails the session like pytest-benchmark's ``--benchmark-compare-fail``.

The comparison is ``fileproto compare``'s (:mod:`fileproto.report.compare`), read from
the entries every case reports to the controller (:mod:`.recording`), so it works the
same with and without pytest-xdist and needs no ``--benchmark-json``.
"""

from __future__ import annotations

from typing import Any

import pytest

from fileproto.argtypes import percent
from fileproto.pytest.recording import Recorder, xdist_controller
from fileproto.report.compare import MORE_ROUNDS, Run, RunComparison, compare_runs
from fileproto.report.compare_render import render_text
from fileproto.results.verdict import rounds_to_decide

#: Under this name the plugin object is registered.
PLUGIN_NAME = "fileproto-comparer"


def add_compare_options(parser: pytest.Parser) -> None:
    """The two options, in the plugin's option group."""
    group = parser.getgroup("fileproto")
    group.addoption(
        "--fileproto-compare",
        metavar="OLD.json",
        default=None,
        help="at the end of the run, compare each matrix case's time per client with "
        "the same case in OLD.json (a --benchmark-json file): ratio, interval and verdict "
        "(faster, slower, unchanged, undecided) from the rounds of both runs; as "
        "'fileproto compare OLD.json NEW.json' does (docs/compare.md)",
    )
    group.addoption(
        "--fileproto-compare-fail",
        metavar="PERCENT",
        type=percent,
        default=None,
        help="with --fileproto-compare: fail the session (exit 1) when a case is slower "
        "than in OLD.json beyond noise by more than PERCENT (its whole interval of "
        "NEW/OLD above 1 + PERCENT/100, and slower beyond the margin); exit 4 when no "
        "case could be judged (too few rounds, no case in common)",
    )


def configure(config: pytest.Config) -> None:
    """Read OLD at start (a wrong path is a usage error now, not after the run) and
    register the plugin object that compares at the end."""
    old_path = config.getoption("--fileproto-compare")
    threshold = config.getoption("--fileproto-compare-fail")
    if old_path is None:
        if threshold is not None:
            raise pytest.UsageError("--fileproto-compare-fail needs --fileproto-compare OLD.json")
        return
    if hasattr(config, "workerinput"):  # pytest-xdist workers: the controller compares
        return
    try:
        old = Run.load(old_path)
    except FileNotFoundError:
        raise pytest.UsageError(f"--fileproto-compare: {old_path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise pytest.UsageError(f"--fileproto-compare: {exc}") from None
    config.pluginmanager.register(Comparer(config, old, threshold), PLUGIN_NAME)


class Comparer:
    """A plugin object: compares at the session's end, prints in the terminal summary."""

    def __init__(self, config: pytest.Config, old: Run, threshold: float | None) -> None:
        self.config = config
        self.old = old
        self.threshold = threshold
        self.comparison: RunComparison | None = None
        #: Why nothing could be compared or judged, to print in the summary.
        self.problem: str | None = None
        self.failing: list[str] = []

    def _this_run(self) -> Run:
        recorder = self.config.pluginmanager.get_plugin("fileproto-recorder")
        entries = recorder.entries if isinstance(recorder, Recorder) else []
        parallel = xdist_controller(self.config)
        document = {"benchmarks": entries, "machine_info": {"parallel": parallel}}
        return Run.load(document, label="this run")

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        try:
            self.comparison = compare_runs(self.old, self._this_run())
        except ValueError as exc:
            self.problem = f"nothing compared: {exc}"
            self._fail(session, pytest.ExitCode.USAGE_ERROR)
            return
        if self.threshold is None:
            return
        if len(self.comparison.too_few_rounds()) == len(self.comparison.changes):
            self.problem = (
                f"--fileproto-compare-fail {self.threshold:g}: no case has rounds enough to "
                f"be judged ({rounds_to_decide()} in each run at least): run both again, "
                f"{MORE_ROUNDS}"
            )
            self._fail(session, pytest.ExitCode.USAGE_ERROR)
            return
        self.failing = [c.id for c in self.comparison.slower_beyond(self.threshold)]
        if self.failing:
            self._fail(session, pytest.ExitCode.TESTS_FAILED)

    def _fail(self, session: pytest.Session, code: pytest.ExitCode) -> None:
        # Only with a gate, and never hiding an earlier failure's own status.
        if self.threshold is not None and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = code

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.comparison is None and self.problem is None:
            return
        terminalreporter.section(f"fileproto compare: this run against {self.old.label}")
        if self.comparison is not None:
            text = render_text(self.comparison, self.threshold, list_only=False)
            terminalreporter.write(text)
        if self.problem is not None:
            terminalreporter.write_line(f"fileproto: {self.problem}", red=True)
        if self.failing:
            terminalreporter.write_line(
                f"fileproto: the session fails: {len(self.failing)} case(s) slower than in "
                f"{self.old.label} beyond noise by more than {self.threshold:g}%",
                red=True,
            )
