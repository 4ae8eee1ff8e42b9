"""The models compared: each pair of models (thread vs process, thread vs asyncio,
process vs asyncio), per operation and size and per server-worker count, over the
client counts both ran. Per worker count, because one model can be slower on many
workers and faster on one: a mean over both would hide each."""

from __future__ import annotations

import itertools

from fileproto.report.cases import Case
from fileproto.report.findings.index import Index
from fileproto.report.findings.noise import Noise, compare
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients, times, workers
from fileproto.report.order import size_text


def _direction(word: str, found: list[tuple[float, Case, Case]], n: int) -> str:
    """'slower in 2 of 3 (3.07x to 5.67x)', or with one pair its case and times."""
    if len(found) == 1:
        ratio, a, b = found[0]
        return (
            f"{word} with {clients(a.result.client_workers)} ({times(ratio)}: "
            f"{b.result.avg_time_s:.3f} s vs {a.result.avg_time_s:.3f} s)"
        )
    ratios = sorted(r for r, _, _ in found)
    return f"{word} in {len(found)} of {n} ({times(ratios[0])} to {times(ratios[-1])})"


def models(index: Index, noise: Noise) -> list[Finding]:
    """Each pair of models, per operation and size, per server-worker count."""
    out = []
    for op, size in index.pairs():
        label = f"{op} {size_text(int(size) if size.is_integer() else size)} MiB"
        for base, other in itertools.combinations(index.models, 2):
            parts, any_apart = [], False
            for n_workers in index.workers:
                pairs = [
                    (a, b)
                    for n_clients in index.clients
                    if (a := index.get(base, op, size, n_clients, n_workers))
                    and (b := index.get(other, op, size, n_clients, n_workers))
                ]
                compared = compare(noise, pairs)
                if not compared.n:
                    continue
                found = [
                    (b.result.avg_time_s / a.result.avg_time_s, a, b, noise.verdict(a, b))
                    for a, b in pairs
                    if a.result.avg_time_s > 0 and b.result.avg_time_s > 0
                ]
                slower = [(r, a, b) for r, a, b, v in found if v > 0]
                faster = [(r, a, b) for r, a, b, v in found if v < 0]
                same = [r for r, _, _, v in found if v == 0]
                where = f"on {workers(n_workers)}"
                if not slower and not faster:
                    spread = (
                        f"{times(min(same))} to {times(max(same))}"
                        if len(same) > 1
                        else times(same[0])
                    )
                    parts.append(f"{where} within noise in all {len(same)} ({spread})")
                    continue
                any_apart = True
                n = len(found)
                bits = [_direction("slower", slower, n) if slower else "",
                        _direction("faster", faster, n) if faster else "",
                        f"within noise in {len(same)} of {n}" if same else ""]  # fmt: skip
                parts.append(f"{where} {', '.join(b for b in bits if b)}")
            if not parts:
                continue
            verdict = "" if any_apart else ", not told apart"
            out.append(
                Finding(
                    "models",
                    f"{label}, {other} against {base}{verdict} (its time over {base}'s, per "
                    f"server-worker count over the client counts): " + "; ".join(parts) + ".",
                )
            )
    return out
