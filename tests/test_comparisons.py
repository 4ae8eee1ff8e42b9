"""Which comparisons the suite states over a run's cases, and their verdicts."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from fileproto.cases.classic import matrix_cases
from fileproto.cases.comparisons import pairs, stated
from fileproto.results import LoadResult
from fileproto.results.verdict import Verdict
from fileproto.server.registry import KINDS

pytestmark = pytest.mark.smoke

_BASE = LoadResult(
    operation="UPLOAD", size_mib=10, size_bytes=10 << 20, client_workers=1, server_workers=1,
    server_kind="thread", method="thread", avg_time_s=1.0, throughput_Bps=1.0,
    aggregate_Bps=1.0, wall_time_s=1.0, successes=1, failures=0, verified=True,
    first_error=None,
)  # fmt: skip


def _case(kind: str, op: str, size: int, clients: int, workers: int) -> LoadResult:
    return dataclasses.replace(
        _BASE, server_kind=kind, operation=op, size_mib=size, client_workers=clients,
        server_workers=workers,
    )  # fmt: skip


def test_the_classic_matrix_states_162_comparisons() -> None:
    cases = [
        _case(c.kind, c.operation, c.size_mib, c.clients, c.server_workers) for c in matrix_cases()
    ]
    found = pairs(cases)
    assert len(found) == 162
    assert sum(p.axis == "workers" for p in found) == 108
    assert len({(p.a, p.b) for p in found}) == 162
    for pair in found:
        a, b = pair.a.split("-"), pair.b.split("-")
        # One thing differs: the workers (fewer first) or the kind (registry order).
        if pair.axis == "workers":
            assert a[:4] == b[:4] and int(a[4][1:]) < int(b[4][1:])
        else:
            assert a[1:] == b[1:] and (a[0], b[0]) == ("thread", "process")


def test_slow_client_cases_and_lone_cases_are_not_compared() -> None:
    lone = _case("thread", "UPLOAD", 10, 5, 1)
    slow = dataclasses.replace(_case("thread", "UPLOAD", 10, 5, 5), scenario="idle")
    other_load = _case("thread", "UPLOAD", 10, 50, 5)
    assert pairs([lone, slow, other_load]) == []


def test_verdicts_come_from_each_cases_rounds() -> None:
    few, many = _case("thread", "UPLOAD", 10, 50, 1), _case("thread", "UPLOAD", 10, 50, 50)
    rounds = {few.id: [1.0, 1.02, 0.98, 1.01], many.id: [0.5, 0.51, 0.49, 0.5]}
    (entry,) = stated([few, many], rounds)
    assert entry.comparison.verdict is Verdict.FASTER
    assert entry.as_dict()["a"] == few.id and entry.as_dict()["b"] == many.id
    assert entry.as_dict()["ratio"] == pytest.approx(0.5, rel=0.05)
    (open_,) = stated([few, many], {few.id: [1.0]})
    assert open_.comparison.verdict is Verdict.UNDECIDED


def test_any_kind_that_ran_is_compared_with_the_others() -> None:
    kinds = ("thread", "process", "asyncio")
    cases = [_case(k, "UPLOAD", 10, 5, 5) for k in kinds]
    found = {(p.a.split("-")[0], p.b.split("-")[0]) for p in pairs(cases)}
    assert found == set(itertools.combinations(kinds, 2))


def test_a_kind_no_workers_option_sizes_runs_once_per_load() -> None:
    unsized = [name for name, kind in KINDS.items() if not kind.sized]
    assert unsized, "the registry has a kind that starts what each connection needs"
    for name in unsized:
        cases = matrix_cases((name,))
        assert len(cases) == 18 and {c.server_workers for c in cases} == {1}
    every = [
        _case(c.kind, c.operation, c.size_mib, c.clients, c.server_workers)
        for c in matrix_cases(tuple(KINDS))
    ]
    found = pairs(every)
    # Within a sized model 3 worker pairs per load; models at 1 worker: every pair of
    # kinds; at 5 and 50: the sized ones only.
    sized = len(KINDS) - len(unsized)
    per_load = 3 * sized + len(KINDS) * (len(KINDS) - 1) // 2 + 2 * sized * (sized - 1) // 2
    assert len(found) == 18 * per_load
