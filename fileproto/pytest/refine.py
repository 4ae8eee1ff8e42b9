"""Where a comparison is still open, more rounds: interleaved, within a time budget
(docs/statistics.md).

The classic matrix runs load by load (operation, file size, client workers): the cases
of one load run back to back, each its ``--fileproto-rounds``. When the last case of a
load has run, the comparisons among that load's cases are judged
(:mod:`fileproto.cases.comparisons`). While one is undecided and the load's budget
allows, every case of an open comparison runs one more round, in an order that rotates
from one pass to the next, so that drift on a shared machine falls on both sides of a
comparison alike. A pass starts only if the rounds it adds, at what they cost last
time, still fit the budget; a case stops at :data:`MAX_ROUNDS`.

Under pytest-xdist the cases of one load must run on one worker: the matrix marks them
with an ``xdist_group`` per load, which ``--dist loadgroup`` honours (pytest.ini sets
it). With another distribution no rounds are added, and the summary says so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest

from fileproto.cases.classic import MatrixCase
from fileproto.cases.comparisons import Load, Stated, stated
from fileproto.results import LoadResult
from fileproto.results.document import BenchmarkEntry
from fileproto.results.verdict import CONFIDENCE, MARGIN, METHOD, Verdict

#: The most rounds a case runs, added ones included (every loop is bounded).
MAX_ROUNDS = 30
#: The default budget of a load's added rounds: this many times what its cases' own
#: rounds took, and never less than FLOOR_S (a load of small cases decides cheaply).
BUDGET = 2.5
FLOOR_S = 10.0
#: The user_properties key under which the last case of a load reports the records of
#: the cases it added rounds to, and what the load's refinement did.
UPDATE_PROPERTY = "fileproto_benchmark_update"
REFINED_PROPERTY = "fileproto_refined"


def matrix_case(item: pytest.Item) -> MatrixCase | None:
    callspec = getattr(item, "callspec", None)
    case = callspec.params.get("fileproto_case") if callspec is not None else None
    return case if isinstance(case, MatrixCase) else None


def load_key(case: MatrixCase) -> Load:
    return (case.operation, float(case.size_mib), case.clients)


def group_name(case: MatrixCase) -> str:
    """The ``xdist_group`` of a case: its load (UPLOAD-10MiB-c5)."""
    return f"{case.operation}-{case.size_mib}MiB-c{case.clients}"


def order_by_load(items: list[pytest.Item]) -> None:
    """Put the matrix cases of one load next to each other (in place; other tests keep
    their places): operation, size and clients outer, the server's kind and workers
    inner, as the matrix lists them."""
    slots = [i for i, item in enumerate(items) if matrix_case(item) is not None]
    cases = [items[i] for i in slots]
    first_seen: dict[Load, int] = {}
    for position, item in enumerate(cases):
        case = matrix_case(item)
        assert case is not None
        first_seen.setdefault(load_key(case), position)

    def key(pair: tuple[int, pytest.Item]) -> tuple[int, int]:
        case = matrix_case(pair[1])
        assert case is not None
        return first_seen[load_key(case)], pair[0]

    ordered = [item for _, item in sorted(enumerate(cases), key=key)]
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item


@dataclass
class CaseRun:
    """A classic case that ran its own rounds, as the refiner continues it."""

    result: LoadResult
    entry: BenchmarkEntry
    #: Seconds its own rounds took, verification included (the budget is counted in it).
    seconds: float
    #: Runs one more round of the case, verified and cleaned up: its record and timed
    #: duration.
    another: Callable[[], tuple[LoadResult, float]]
    #: Brings a one-round record in line with the case's (server memory, the limit).
    finish: Callable[[LoadResult], LoadResult]
    #: pytest-benchmark's record of the case (None when it is off), kept in step.
    metadata: Any = None
    #: Seconds the last added round took, all of it.
    round_cost: float = 0.0
    added: int = 0
    failures: int = 0
    first_error: str | None = None

    @property
    def id(self) -> str:
        return self.result.id

    @property
    def rounds(self) -> int:
        return self.result.rounds or 1

    def run_another(self, clock: Callable[[], float] = time.monotonic) -> None:
        started = clock()
        one, duration = self.another()
        self.round_cost = clock() - started
        self.result = self.finish(LoadResult.merge([self.result, one]))
        self.entry = BenchmarkEntry(
            name=self.entry.name,
            fullname=self.entry.fullname,
            group=self.entry.group,
            params=self.entry.params,
            param=self.entry.param,
            extra_info=self.result.extra_info(),
            options={**self.entry.options, "rounds": self.rounds},
            durations=[*self.entry.durations, duration],
        )
        self.added += 1
        if one.failures:
            self.failures += one.failures
            self.first_error = self.first_error or one.first_error
        if self.metadata is not None:
            self.metadata.update(duration)
            # pytest-benchmark's Stats caches what it computed from the rounds.
            stats = self.metadata.stats
            for name in [n for n in vars(stats) if n != "data"]:
                delattr(stats, name)
            self.metadata.extra_info.clear()
            self.metadata.extra_info.update(self.result.extra_info())


@dataclass
class Refined:
    """What the added rounds of one load did."""

    load: Load
    comparisons: int
    decided_before: int
    decided: int
    rounds_added: int
    seconds: float
    budget_s: float
    #: Why it stopped: "decided", "budget" or "max rounds".
    stopped: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "load": list(self.load),
            "comparisons": self.comparisons,
            "decided_before": self.decided_before,
            "decided": self.decided,
            "rounds_added": self.rounds_added,
            "seconds": self.seconds,
            "budget_s": self.budget_s,
            "stopped": self.stopped,
        }


@dataclass
class Refiner:
    """Adds rounds load by load; one per session, in the config's stash."""

    budget: float = BUDGET
    floor_s: float = FLOOR_S
    #: Why no rounds are added (None: they are).
    off: str | None = None
    #: Report progress, one line per load (None: silent).
    say: Callable[[str], None] | None = None
    clock: Callable[[], float] = time.monotonic
    _last_of_load: dict[Load, str] = field(default_factory=dict)
    _runs: dict[Load, list[CaseRun]] = field(default_factory=dict)
    done: list[Refined] = field(default_factory=list)

    def plan(self, items: Sequence[pytest.Item]) -> None:
        """Note the last selected case of each load: it adds the load's rounds."""
        self._last_of_load = {}
        for item in items:
            case = matrix_case(item)
            if case is not None:
                self._last_of_load[load_key(case)] = item.nodeid

    def finished(self, item: pytest.Item, case: MatrixCase, run: CaseRun) -> None:
        """A case ran its own rounds; at the last case of its load, refine the load.
        Added rounds in which clients failed fail this test, after the load is done."""
        load = load_key(case)
        self._runs.setdefault(load, []).append(run)
        if self._last_of_load.get(load) != item.nodeid:
            return
        runs = self._runs.pop(load)
        if self.off is None:
            self.done.append(self._refine(load, runs))
            item.user_properties.append((REFINED_PROPERTY, self.done[-1].as_dict()))
        for changed in (r for r in runs if r.added):
            item.user_properties.append((UPDATE_PROPERTY, changed.entry.as_dict()))
        failed = [r for r in runs if r.failures]
        if failed:
            pytest.fail(
                "; ".join(
                    f"{r.id}: {r.failures} client(s) failed in the {r.added} round(s) added "
                    f"to decide its comparisons; first error: {r.first_error}"
                    for r in failed
                ),
                pytrace=False,
            )

    def _refine(self, load: Load, runs: list[CaseRun]) -> Refined:
        budget_s = max(self.floor_s, self.budget * sum(r.seconds for r in runs))
        by_id = {r.id: r for r in runs}

        def judge() -> list[tuple[str, str]]:
            times = {r.id: r.result.times_of_rounds() for r in runs}
            verdicts = stated([r.result for r in runs], times)
            return [(s.pair.a, s.pair.b) for s in verdicts if not s.comparison.decided]

        open_pairs = judge()
        comparisons = len(stated([r.result for r in runs], {}))
        before = comparisons - len(open_pairs)
        spent, passes, stopped = 0.0, 0, "decided"
        started = self.clock()
        while open_pairs:
            wanted = list(dict.fromkeys(case_id for pair in open_pairs for case_id in pair))
            todo = [by_id[i] for i in wanted if by_id[i].rounds < MAX_ROUNDS]
            if not todo:
                stopped = "max rounds"
                break
            # A pass must fit what is left of the budget, at what its rounds cost last.
            estimate = sum(r.round_cost or r.seconds / r.rounds for r in todo)
            if spent + estimate > budget_s:
                stopped = "budget"
                break
            shift = passes % len(todo)
            for run in todo[shift:] + todo[:shift]:
                run.run_another(self.clock)
            passes += 1
            spent = self.clock() - started
            open_pairs = judge()
        refined = Refined(
            load,
            comparisons,
            before,
            comparisons - len(open_pairs),
            sum(r.added for r in runs),
            spent,
            budget_s,
            stopped,
        )
        if self.say is not None:
            operation, size, clients = load
            self.say(
                f"fileproto: {operation} {size:g} MiB, {clients} client(s): "
                f"{refined.decided} of {comparisons} comparisons decided"
                f" ({before} after the first rounds); {refined.rounds_added} round(s) added "
                f"in {spent:.1f} s of a {budget_s:.1f} s budget"
                + ("" if stopped == "decided" else f"; stopped: {stopped}")
            )
        return refined


def terminal_line(config: pytest.Config) -> Callable[[str], None] | None:
    """A writer of whole lines to the terminal while a test runs, past pytest's capture
    (None on a pytest-xdist worker, whose terminal nobody sees). The terminal is looked
    up at each line: it registers after this plugin is configured."""
    if hasattr(config, "workerinput"):
        return None

    def say(line: str) -> None:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        capture = config.pluginmanager.get_plugin("capturemanager")
        if reporter is None or capture is None:
            return
        with capture.global_and_fixture_disabled():
            reporter.ensure_newline()
            reporter.write_line(line)

    return say


#: Where the session's Refiner is kept.
REFINER = pytest.StashKey["Refiner"]()


def _grouped(config: pytest.Config) -> bool:
    """Whether one load's cases run in one process: no pytest-xdist, or --dist loadgroup
    (a worker knows it by the option xdist sets there)."""
    if hasattr(config, "workerinput"):
        return bool(config.getoption("loadgroup", False))
    return config.getoption("dist", "no") in ("no", "loadgroup")


#: The workerinput key that tells a pytest-xdist worker the run groups tests by load.
_WORKER_KEY = "fileproto_loadgroup"


def group_by_load(config: pytest.Config) -> None:
    """``-n N`` alone distributes tests one by one (``--dist load``); make it
    ``loadgroup``, the same except that tests marked with one ``xdist_group`` (one load's
    cases) go to one worker. An explicit other mode is kept (no rounds are added then).
    A worker parses the command line anew, so it learns it from its workerinput."""
    worker = getattr(config, "workerinput", None)
    if isinstance(worker, dict):
        if worker.get(_WORKER_KEY):
            config.option.loadgroup = True
        return
    if config.getoption("dist", "no") == "load" and not _dist_given(config):
        config.option.dist = "loadgroup"


def tell_worker(config: pytest.Config, workerinput: dict[str, Any]) -> None:
    workerinput[_WORKER_KEY] = config.getoption("dist", "no") == "loadgroup"


def _dist_given(config: pytest.Config) -> bool:
    args = [*config.invocation_params.args, *config.getini("addopts")]
    return any(a in ("--dist", "-d") or a.startswith("--dist=") for a in map(str, args))


def refiner_for(config: pytest.Config, budget: float) -> Refiner:
    """The session's refiner, off (and why) where it cannot add rounds."""
    off = None
    if budget <= 0:
        off = "no rounds added (--fileproto-budget 0)"
    elif config.getoption("--fileproto-target", None):
        off = "no rounds added: someone else's server has no worker counts to compare"
    elif not _grouped(config):
        off = (
            "no rounds added: under pytest-xdist one load's cases must run on one worker "
            "(--dist loadgroup)"
        )
    return Refiner(budget=budget, off=off, say=terminal_line(config))


def statistics_of(
    verdicts: Sequence[Stated],
    first_rounds: int,
    budget: float,
    refined: Sequence[dict[str, Any]],
    off: str | None,
    floor_s: float = FLOOR_S,
) -> dict[str, Any]:
    """The benchmark JSON's ``fileproto_statistics``: how the run's verdicts were reached."""
    counts = {str(v): 0 for v in Verdict}
    for entry in verdicts:
        counts[str(entry.comparison.verdict)] += 1
    rounds = [n for entry in verdicts for n in entry.comparison.rounds]
    return {
        "method": METHOD,
        "confidence": CONFIDENCE,
        "margin": MARGIN,
        "comparisons": len(verdicts),
        "verdicts": counts,
        "first_rounds": first_rounds,
        "rounds": {"min": min(rounds), "max": max(rounds)} if rounds else None,
        "budget": budget,
        "floor_s": floor_s,
        "max_rounds": MAX_ROUNDS,
        "rounds_added": sum(int(r.get("rounds_added", 0)) for r in refined),
        "seconds_added": sum(float(r.get("seconds", 0.0)) for r in refined),
        "not_added": off,
        "loads": list(refined),
    }
