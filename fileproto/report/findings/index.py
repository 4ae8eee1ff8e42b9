"""The classic cases by model, operation, size, clients and server workers, and the
models' names as the findings say them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fileproto.cases.slowclients import DISPATCH_LABELS
from fileproto.report.cases import Case
from fileproto.report.order import kind_label, kind_order, operation_rank, rank
from fileproto.results import LoadResult


def model_of(case: LoadResult, dispatches: dict[str, set[str]]) -> str:
    """The model's name: the kind's label, with its dispatch if the run had several."""
    label = kind_label(case.server_kind)
    if case.dispatch and len(dispatches.get(case.server_kind, set())) > 1:
        return f"{label} ({case.dispatch})"
    return label


def dispatches_of(cases: Iterable[Case]) -> dict[str, set[str]]:
    """The dispatches each server kind ran with."""
    found: dict[str, set[str]] = {}
    for case in cases:
        found.setdefault(case.result.server_kind, set()).add(case.result.dispatch or "")
    return found


def _model_key(case: Case) -> tuple[tuple[int, str], tuple[int, str]]:
    r = case.result
    return rank(r.server_kind, kind_order()), rank(r.dispatch or "", DISPATCH_LABELS)


class Index:
    """Classic cases by (model, operation, size, clients, workers)."""

    def __init__(self, cases: Sequence[Case]) -> None:
        self.dispatches = dispatches_of(cases)
        self.cases = [c for c in cases if isinstance(c.result.server_workers, int)]
        self.by_key: dict[tuple[str, str, float, int, int], Case] = {}
        for case in self.cases:
            r = case.result
            key = (self.model(case), r.operation, float(r.size_mib), r.client_workers,
                   int(r.server_workers))  # fmt: skip
            self.by_key[key] = case
        ordered = sorted(self.cases, key=_model_key)
        self.models = list(dict.fromkeys(self.model(c) for c in ordered))
        self.ops = sorted({c.result.operation for c in self.cases}, key=operation_rank)
        self.sizes = sorted({float(c.result.size_mib) for c in self.cases})
        self.clients = sorted({c.result.client_workers for c in self.cases})
        self.workers = sorted({int(c.result.server_workers) for c in self.cases})

    def model(self, case: Case) -> str:
        return model_of(case.result, self.dispatches)

    def get(self, model: str, op: str, size: float, clients: int, workers: int) -> Case | None:
        return self.by_key.get((model, op, size, clients, workers))

    def pairs(self) -> list[tuple[str, float]]:
        return [(op, size) for op in self.ops for size in self.sizes]
