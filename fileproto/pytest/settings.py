"""The plugin's command-line options, and the ``Options`` a session reads them into."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from fileproto.argtypes import non_negative_factor, positive_seconds
from fileproto.cases.slowclients import DEFAULT_DEADLINE
from fileproto.client import parse_address
from fileproto.pytest.refine import BUDGET, FLOOR_S
from fileproto.server.policy import DEFAULT_SCHEDULE, SCHEDULES
from fileproto.server.registry import KINDS
from fileproto.stress import Method
from fileproto.stress.load_arguments import add_kind_options, add_load_options, add_probe_option
from fileproto.wire.events import Dialect

PREFIX = "fileproto-"


def add_plugin_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("fileproto", "fileproto servers and stress matrix")
    group.addoption(
        f"--{PREFIX}target",
        metavar="HOST:PORT",
        default=None,
        help="run the matrix and protocol tests against this running server "
        "instead of starting servers (server workers are then 'external')",
    )
    # Shared with `fileproto stress` (--dialect, --method, --rounds).
    add_load_options(group.addoption, PREFIX)
    add_kind_options(group.addoption, PREFIX)
    group.addoption(
        f"--{PREFIX}report",
        metavar="DIR",
        default=None,
        help="write the results table (Markdown, CSV), plot (PNG) and the whole report "
        "as one HTML page (index.html: findings, tables, charts, timelines) into DIR",
    )
    group.addoption(
        f"--{PREFIX}budget",
        type=non_negative_factor,
        default=BUDGET,
        metavar="FACTOR",
        help="where a comparison of two cases is still undecided after their own rounds "
        "(--fileproto-rounds), add rounds to the cases of that load, interleaved, for up "
        f"to FACTOR times what their own rounds took (at least {FLOOR_S:g} s per load); 0 "
        f"adds none (default: {BUDGET:g}; docs/statistics.md)",
    )
    group.addoption(
        f"--{PREFIX}allow-failures",
        action="store_true",
        help="record failed clients without failing the case (for other servers); a "
        "case in which every client failed measured nothing and is reported as an xfail",
    )
    add_probe_option(group.addoption, PREFIX)
    # On by default: the 108-case matrix with tracing measured no slower than without
    # (docs/trace.md); it makes the run's JSON larger.
    group.addoption(
        f"--{PREFIX}trace",
        dest="fileproto_trace",
        action="store_true",
        default=True,
        help="start our servers with --trace FILE and attach each case's server events "
        "(accepted, taken by a worker, response, closed...) to its results (docs/trace.md; "
        "the default)",
    )
    group.addoption(
        f"--{PREFIX}no-trace",
        dest="fileproto_trace",
        action="store_false",
        help="no server trace: the client side's timeline only, a smaller JSON",
    )
    group.addoption(
        f"--{PREFIX}schedule",
        choices=tuple(SCHEDULES),
        default=None,
        help="start the pools (thread, process) with this --schedule and record it with "
        "each case, to measure one schedule against another (fileproto compare, "
        "fileproto report --beside); default: the servers' own (" + DEFAULT_SCHEDULE + ")",
    )
    group.addoption(
        f"--{PREFIX}slow-deadline",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="the slowclients cases' deadline: clients still running this long after the "
        "start are stopped and counted as 'deadline' failures, what they moved still "
        f"counts (default: {DEFAULT_DEADLINE:g}, see fileproto.cases.slowclients)",
    )


def check_options(config: pytest.Config) -> None:
    """What argparse cannot check by itself; a UsageError at start, not a failure later."""
    target = config.getoption("--fileproto-target")
    if target:
        try:
            parse_address(target)
        except ValueError as exc:
            raise pytest.UsageError(f"--fileproto-target: {exc}") from None


@dataclass(frozen=True)
class Options:
    target: str | None
    dialect: Dialect
    rounds: int
    method: Method | None
    kinds: tuple[str, ...]
    report_dir: Path | None
    allow_failures: bool
    #: Run the LIST probe during every case.
    probe: bool = True
    #: Overrides the slowclients scenarios' deadline.
    slow_deadline: float | None = None
    #: Start our servers with --trace and attach their events to each case.
    trace: bool = False
    #: Added rounds may take this many times what a load's own rounds took.
    budget: float = BUDGET
    #: The pools' schedule (None: the servers' default; ``schedule_of`` names it).
    schedule: str | None = None

    def schedule_args(self, kind: str) -> tuple[str, ...]:
        """What a server of ``kind`` is started with for the chosen schedule (a pool's)."""
        if self.schedule is None or kind not in KINDS or not KINDS[kind].dispatches:
            return ()
        return ("--schedule", self.schedule)

    def schedule_of(self, kind: str, dispatch: str | None) -> str | None:
        """The schedule a server of ``kind`` runs under, for the record: the chosen one,
        else the servers' default; None where no run queue decides (an event loop, a
        thread per connection, the accept dispatch, a server not ours)."""
        if kind not in KINDS or not KINDS[kind].dispatches or dispatch != "ready":
            return None
        return self.schedule or DEFAULT_SCHEDULE

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        report = config.getoption("--fileproto-report")
        return cls(
            target=config.getoption("--fileproto-target"),
            dialect=config.getoption("--fileproto-dialect"),
            rounds=config.getoption("--fileproto-rounds"),
            method=config.getoption("--fileproto-method"),
            kinds=tuple(config.getoption("--fileproto-kinds")),
            report_dir=Path(report) if report else None,
            allow_failures=config.getoption("--fileproto-allow-failures"),
            probe=not config.getoption("--fileproto-no-probe"),
            slow_deadline=config.getoption("--fileproto-slow-deadline"),
            trace=config.getoption("fileproto_trace"),
            budget=config.getoption("--fileproto-budget"),
            schedule=config.getoption("--fileproto-schedule"),
        )
