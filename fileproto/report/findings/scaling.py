"""Scaling: how the time per client grows with clients at each server-worker count (a
measured figure: the suite states no verdict across client counts), and where adding
server workers stops helping (the run's verdicts on server workers within a model)."""

from __future__ import annotations

from fileproto.report.cases import Case
from fileproto.report.findings.index import Index
from fileproto.report.findings.method import Verdicts, compare, geomean
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients as clients_text
from fileproto.report.findings.words import pairs_text, times
from fileproto.report.findings.words import workers as workers_text
from fileproto.report.order import size_text
from fileproto.report.units import throughput_cell
from fileproto.results.verdict import Verdict


def _ratio(a: Case, b: Case) -> float | None:
    ta, tb = a.result.avg_time_s, b.result.avg_time_s
    return tb / ta if ta > 0 and tb > 0 else None


def scaling(index: Index) -> list[Finding]:
    """Per model: how time per client grows from the fewest to the most clients."""
    if len(index.clients) < 2:
        return []
    low, high = index.clients[0], index.clients[-1]
    out = []
    for model in index.models:
        parts = []
        for workers in index.workers:
            ratios = [
                ratio
                for op, size in index.pairs()
                if (a := index.get(model, op, size, low, workers))
                and (b := index.get(model, op, size, high, workers))
                and (ratio := _ratio(a, b)) is not None
            ]
            if not ratios:
                continue
            spread = f" ({times(min(ratios))} to {times(max(ratios))})" if len(ratios) > 1 else ""
            parts.append(f"{times(geomean(ratios))} on {workers_text(workers)}{spread}")
        if parts:
            n = len(index.pairs())
            out.append(
                Finding(
                    "scaling",
                    f"{model}: from {clients_text(low)} to {high}, the time per client grows "
                    + "; ".join(parts)
                    + (
                        f" (geometric mean over the {pairs_text(n)}, with the range)"
                        if n > 1
                        else f" ({pairs_text(n)})"
                    )
                    + ". "
                    f"{high}x would mean the clients shared the server evenly at the "
                    f"speed one client gets alone.",
                )
            )
    return out


def _pairs(
    index: Index, model: str, clients: int, fewer: int, more: int
) -> list[tuple[Case, Case]]:
    return [
        (a, b)
        for op, size in index.pairs()
        if (a := index.get(model, op, size, clients, fewer))
        and (b := index.get(model, op, size, clients, more))
    ]


def _path(index: Index, model: str, op: str, size: float, clients: int) -> str:
    """One operation/size's time on every worker count, fewest to most."""
    found = [c for w in index.workers if (c := index.get(model, op, size, clients, w))]
    return (
        f"{op} {size_text(int(size) if size.is_integer() else size)} MiB, "
        f"{clients_text(clients)}: "
        + " -> ".join(f"{c.result.avg_time_s:.3f} s" for c in found)
        + f" on {' / '.join(str(c.result.server_workers) for c in found)} workers"
    )


def workers_help(index: Index, verdicts: Verdicts) -> list[Finding]:
    """Per model and client count: each step up in server workers and the ends (fewest
    against most workers), and whether more workers helped or made clients slower."""
    if len(index.workers) < 2:
        return []
    out = []
    fewest, most = index.workers[0], index.workers[-1]
    for model in index.models:
        # One client keeps one worker busy: more workers cannot help it.
        for clients in (c for c in index.clients if c > 1):
            steps, helped_to = [], fewest
            stopped, open_there = False, False
            for fewer, more in zip(index.workers, index.workers[1:], strict=False):
                compared = compare(verdicts, _pairs(index, model, clients, fewer, more))
                if not compared.ratios:
                    continue
                steps.append(
                    f"{more} workers instead of {fewer}: {times(geomean(compared.ratios))} "
                    f"the time ({compared.summary(verdicts.margin)})"
                )
                if not stopped and compared.faster > compared.n / 2:
                    helped_to = more
                elif not stopped:
                    # Where helping ended: decided (the same or slower), or not known.
                    stopped, open_there = True, compared.open >= compared.n / 2
            if not steps:
                continue
            ends_pairs = _pairs(index, model, clients, fewest, most)
            ends = compare(verdicts, ends_pairs)
            if len(index.workers) > 2 and ends.ratios:
                steps.append(
                    f"{most} workers instead of {fewest}: {times(geomean(ends.ratios))} the "
                    f"time ({ends.summary(verdicts.margin)}, {times(min(ends.ratios))} to "
                    f"{times(max(ends.ratios))})"
                )
            if ends.n and ends.slower > ends.n / 2:
                worst = max(
                    (s for s in ends.found if s.comparison.verdict is Verdict.SLOWER),
                    key=lambda s: s.comparison.ratio,
                )
                op, size, _ = worst.pair.load
                path = _path(index, model, op, size, clients)
                verdict = (
                    f"more workers made clients slower: {most} workers instead of {fewest} "
                    f"were slower in {ends.slower} of {ends.n} operation/size pairs "
                    f"(at the most, {path})"
                )
            elif helped_to == most:
                verdict = f"adding workers helped up to {helped_to}, the most tried"
            elif open_there:
                verdict = (
                    f"whether adding workers beyond {helped_to} helps is not decided"
                    if helped_to == fewest
                    else f"adding workers helped up to {helped_to}; beyond it, not decided"
                )
            elif helped_to == fewest:
                verdict = f"adding workers beyond {fewest} did not help"
            else:
                verdict = f"adding workers helped up to {helped_to} and stopped helping there"
            out.append(
                Finding(
                    "workers",
                    f"{model}, {clients} clients: {verdict}. " + "; ".join(steps) + ".",
                )
            )
    out += _aggregate_with_workers(index, verdicts)
    return out


def _aggregate_with_workers(index: Index, verdicts: Verdicts) -> list[Finding]:
    """Per operation, at the most clients: a model whose time grows with server workers
    (most workers against fewest, slower in most sizes) beside one whose time stays the
    same within the margin in every size, with the aggregate throughput (all clients'
    bytes over the case's time) on each worker count."""
    if len(index.workers) < 2 or len(index.models) < 2 or len(index.clients) < 2:
        return []
    top, fewest, most = index.clients[-1], index.workers[0], index.workers[-1]

    def ends(model: str, op: str) -> tuple[list[tuple[Case, Case]], int, int]:
        pairs = [
            (a, b)
            for size in index.sizes
            if (a := index.get(model, op, size, top, fewest))
            and (b := index.get(model, op, size, top, most))
            and verdicts.of(a, b) is not None
        ]
        compared = compare(verdicts, pairs)
        return pairs, compared.slower, compared.same

    def aggregate(model: str, op: str, size: float) -> str:
        found = [c for w in index.workers if (c := index.get(model, op, size, top, w))]
        return " -> ".join(throughput_cell(c.result.aggregate_Bps) for c in found) + " MiB/s"

    out = []
    for op in index.ops:
        growing, flat = [], []
        for model in index.models:
            pairs, slower, same = ends(model, op)
            if not pairs:
                continue
            if slower > len(pairs) / 2:
                growing.append((model, pairs, slower))
            elif same == len(pairs):
                flat.append((model, pairs))
        if not growing or not flat:
            continue
        for model, pairs, slower in growing:
            sizes = f"{len(pairs)} size{'' if len(pairs) == 1 else 's'}"
            a, _ = max(pairs, key=lambda p: p[1].result.avg_time_s / p[0].result.avg_time_s)
            size = float(a.result.size_mib)
            label = f"{op} {size_text(int(size) if size.is_integer() else size)} MiB"
            others = " and ".join(
                f"{other}'s stays flat ({verdicts.margin_words} in {len(o_pairs)} of "
                f"{len(o_pairs)} size{'' if len(o_pairs) == 1 else 's'}; "
                f"{aggregate(other, op, size)})"
                for other, o_pairs in flat
            )
            out.append(
                Finding(
                    "workers",
                    f"{op} with {top} clients: {model}'s time grows with server workers on "
                    f"the machine that ran this ({most} workers instead of {fewest}: slower "
                    f"in {slower} of {sizes}; "
                    "aggregate throughput of "
                    f"{label} on {' / '.join(map(str, index.workers))} workers: "
                    f"{aggregate(model, op, size)}), while {others}.",
                )
            )
    return out
