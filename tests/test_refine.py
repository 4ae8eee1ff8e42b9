"""The refiner: rounds added where a comparison of a load is open, interleaved, within
its budget. Cases here are stand-ins whose rounds take the times a test gives them; the
plugin's own runs of real servers are in tests/test_plugin.py and tests/test_matrix.py."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from fileproto.cases.classic import MatrixCase
from fileproto.pytest.refine import (
    MAX_ROUNDS,
    REFINED_PROPERTY,
    UPDATE_PROPERTY,
    CaseRun,
    Refiner,
    order_by_load,
)
from fileproto.results import LoadResult
from fileproto.results.document import BenchmarkEntry

pytestmark = pytest.mark.smoke


@dataclass
class Item:
    """What the refiner needs of a pytest item."""

    nodeid: str
    case: MatrixCase
    user_properties: list[tuple[str, Any]] = field(default_factory=list)

    @property
    def callspec(self) -> Any:
        return type("Callspec", (), {"params": {"fileproto_case": self.case}})()


def _result(case: MatrixCase, seconds: float, failures: int = 0) -> LoadResult:
    return LoadResult(
        operation=case.operation, size_mib=case.size_mib, size_bytes=case.size_mib << 20,
        client_workers=case.clients, server_workers=case.server_workers,
        server_kind=case.kind, method="thread", avg_time_s=seconds, throughput_Bps=1.0,
        aggregate_Bps=1.0, wall_time_s=seconds, successes=case.clients - failures,
        failures=failures, verified=not failures,
        first_error="client 0: reset" if failures else None, rounds=1,
    )  # fmt: skip


class Clock:
    """A fake clock that moves only when a stand-in round runs (by that round's time,
    plus a fixed cost of its setup), and the log of the rounds added."""

    def __init__(self, setup: float = 0.5) -> None:
        self.now = 0.0
        self.setup = setup
        self.log: list[str] = []

    def __call__(self) -> float:
        return self.now


def _run(
    case: MatrixCase,
    times: Iterator[float],
    clock: Clock,
    seconds: float = 1.0,
    failures: Callable[[], int] = lambda: 0,
) -> CaseRun:
    first = _result(case, next(times))
    entry = BenchmarkEntry(case.id, f"tests/test_matrix.py::test_matrix[{case.id}]",
                           first.extra_info(), [first.avg_time_s])  # fmt: skip

    def another() -> tuple[LoadResult, float]:
        clock.log.append(case.id)
        one = _result(case, next(times), failures())
        clock.now += one.avg_time_s + clock.setup
        return one, one.avg_time_s

    return CaseRun(first, entry, seconds, another, finish=lambda r: r)


def _cases(clients: int = 50, workers: tuple[int, ...] = (1, 50)) -> list[MatrixCase]:
    return [MatrixCase("thread", "UPLOAD", 10, clients, w) for w in workers]


def _refine(
    refiner: Refiner, cases: list[MatrixCase], runs: list[CaseRun]
) -> list[tuple[str, Any]]:
    items = [Item(f"test_matrix[{c.id}]", c) for c in cases]
    refiner.plan(items)  # type: ignore[arg-type]
    for item, case, run in zip(items, cases, runs, strict=True):
        refiner.finished(item, case, run)  # type: ignore[arg-type]
    return items[-1].user_properties


def _steady(value: float, spread: float = 0.01) -> Iterator[float]:
    return (value * (1 + spread * s) for s in itertools.cycle((0, 1, -1, 0.5, -0.5)))


def test_a_clear_difference_gets_just_the_rounds_it_needs_interleaved() -> None:
    clock = Clock()
    cases = _cases()
    runs = [_run(cases[0], _steady(1.0), clock), _run(cases[1], _steady(0.2), clock)]
    properties = _refine(Refiner(budget=100.0, clock=clock), cases, runs)
    # Far apart and tight: two rounds each decide; the added ones are interleaved.
    assert [r.rounds for r in runs] == [2, 2]
    assert clock.log == [cases[0].id, cases[1].id]
    refined = dict(properties)[REFINED_PROPERTY]
    assert (refined["comparisons"], refined["decided"], refined["stopped"]) == (1, 1, "decided")
    updates = [v for k, v in properties if k == UPDATE_PROPERTY]
    assert [u["extra_info"]["round_times_s"] for u in updates][1] == pytest.approx([0.2, 0.202])
    assert [len(u["stats"]["data"]) for u in updates] == [2, 2]


def test_a_decided_load_adds_nothing_and_only_open_cases_get_rounds() -> None:
    clock = Clock()
    cases = _cases(workers=(1, 5, 50))
    decided = [
        _run(cases[0], _steady(1.0), clock),
        _run(cases[1], _steady(0.5), clock),
        _run(cases[2], _steady(0.1), clock),
    ]
    for run in decided:  # already four rounds each, far apart
        for _ in range(3):
            run.run_another()
    clock.log.clear()
    _refine(Refiner(budget=100.0), cases, decided)
    assert clock.log == []


@pytest.mark.parametrize("budget", [0.5, 2.0, 5.0])
def test_rounds_stop_within_the_budget(budget: float) -> None:
    clock = Clock()
    cases = _cases()
    # Alike, but spread far wider than the margin: never decided.
    noisy = itertools.cycle((1.0, 3.0, 0.33, 2.5, 0.4))
    runs = [_run(c, noisy, clock, seconds=1.5) for c in cases]
    properties = _refine(Refiner(budget=budget, floor_s=0.0, clock=clock), cases, runs)
    refined = dict(properties)[REFINED_PROPERTY]
    assert refined["budget_s"] == pytest.approx(budget * 3.0)
    assert refined["stopped"] == "budget"
    # As many passes as fit: the next one, at what the last cost, would not have.
    next_pass = sum(r.round_cost or r.seconds for r in runs)
    assert clock.now <= refined["budget_s"] < clock.now + next_pass
    assert len(clock.log) == {0.5: 0, 2.0: 2, 5.0: 8}[budget]


def test_no_case_runs_more_than_the_most_rounds() -> None:
    clock = Clock()
    cases = _cases()
    noisy = itertools.cycle((1.0, 3.0, 0.33, 2.5, 0.4))
    runs = [_run(c, noisy, clock, seconds=1e6) for c in cases]
    properties = _refine(Refiner(), cases, runs)
    assert [r.rounds for r in runs] == [MAX_ROUNDS, MAX_ROUNDS]
    assert dict(properties)[REFINED_PROPERTY]["stopped"] == "max rounds"


def test_failed_clients_in_an_added_round_fail_the_last_case_of_the_load() -> None:
    clock = Clock()
    cases = _cases()
    fails = iter([2, 0, 0, 0, 0, 0])
    runs = [
        _run(cases[0], _steady(1.0), clock, failures=lambda: next(fails)),
        _run(cases[1], _steady(0.2), clock),
    ]
    with pytest.raises(pytest.fail.Exception, match="2 client\\(s\\) failed in the 1 round"):
        _refine(Refiner(budget=100.0), cases, runs)
    assert runs[0].result.failures == 2


def test_an_off_refiner_adds_no_round() -> None:
    clock = Clock()
    cases = _cases()
    runs = [_run(cases[0], _steady(1.0), clock), _run(cases[1], _steady(0.2), clock)]
    properties = _refine(Refiner(off="no rounds added (--fileproto-budget 0)"), cases, runs)
    assert clock.log == [] and properties == []


def test_the_matrix_runs_load_by_load_and_other_tests_keep_their_places() -> None:
    plain = [type("Plain", (), {"nodeid": f"test_other[{i}]"})() for i in range(2)]
    matrix = [
        Item(f"test_matrix[{c.id}]", c)
        for c in (
            MatrixCase(kind, "UPLOAD", 10, clients, workers)
            for kind, workers, clients in itertools.product(("thread", "process"), (1, 5), (1, 5))
        )
    ]
    items: list[Any] = [plain[0], *matrix, plain[1]]
    order_by_load(items)
    assert items[0] is plain[0] and items[-1] is plain[1]
    assert [item.case.clients for item in items[1:-1]] == [1, 1, 1, 1, 5, 5, 5, 5]
    kinds = [(item.case.kind, item.case.server_workers) for item in items[1:5]]
    assert kinds == [("thread", 1), ("thread", 5), ("process", 1), ("process", 5)]
