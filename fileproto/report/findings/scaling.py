"""Scaling: how the time per client grows with clients at each server-worker count, and
where adding server workers stops helping."""

from __future__ import annotations

from fileproto.report.findings.index import Index
from fileproto.report.findings.noise import Noise, compare, geomean
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients as clients_text
from fileproto.report.findings.words import pairs_text, times
from fileproto.report.findings.words import workers as workers_text


def scaling(index: Index, noise: Noise) -> list[Finding]:
    """Per model: how time per client grows from the fewest to the most clients."""
    if len(index.clients) < 2:
        return []
    low, high = index.clients[0], index.clients[-1]
    out = []
    for model in index.models:
        parts = []
        for workers in index.workers:
            pairs = [
                (a, b)
                for op, size in index.pairs()
                if (a := index.get(model, op, size, low, workers))
                and (b := index.get(model, op, size, high, workers))
            ]
            compared = compare(noise, pairs)
            if not compared.n:
                continue
            growth = geomean(compared.ratios)
            spread = (
                f" ({times(min(compared.ratios))} to {times(max(compared.ratios))})"
                if compared.n > 1
                else ""
            )
            if compared.slower == 0:
                parts.append(f"no growth beyond noise on {workers_text(workers)}")
            else:
                parts.append(f"{times(growth)} on {workers_text(workers)}{spread}")
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


def workers_help(index: Index, noise: Noise) -> list[Finding]:
    """Per model and client count: each step up in server workers, and where it stops
    helping."""
    if len(index.workers) < 2:
        return []
    out = []
    for model in index.models:
        # One client keeps one worker busy: more workers cannot help it.
        for clients in (c for c in index.clients if c > 1):
            steps, hurt, helped_to = [], [], index.workers[0]
            stopped = False
            for fewer, more in zip(index.workers, index.workers[1:], strict=False):
                pairs = [
                    (a, b)
                    for op, size in index.pairs()
                    if (a := index.get(model, op, size, clients, fewer))
                    and (b := index.get(model, op, size, clients, more))
                ]
                compared = compare(noise, pairs)
                if not compared.n:
                    continue
                steps.append(
                    f"{more} workers instead of {fewer}: {times(geomean(compared.ratios))} "
                    f"the time ({compared.summary()})"
                )
                if compared.slower > compared.n / 2:
                    hurt.append(f"{more} workers instead of {fewer}")
                if not stopped and compared.faster > compared.n / 2:
                    helped_to = more
                else:
                    stopped = True
            if not steps:
                continue
            if helped_to == index.workers[0]:
                verdict = f"adding workers beyond {index.workers[0]} did not help"
            elif helped_to == index.workers[-1]:
                verdict = f"adding workers helped up to {helped_to}, the most tried"
            else:
                verdict = f"adding workers helped up to {helped_to} and stopped helping there"
            if hurt:
                verdict += f", and {' and '.join(hurt)} made clients slower"
            out.append(
                Finding(
                    "workers",
                    f"{model}, {clients} clients: {verdict}. " + "; ".join(steps) + ".",
                )
            )
    return out
