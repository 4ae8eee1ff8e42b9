"""The models compared: each pair of models (thread vs process, thread vs asyncio,
process vs asyncio), per operation and size and per server-worker count, over the
client counts both ran, each with the run's verdict. Per worker count, because one model
can be slower on many workers and faster on one: a mean over both would hide each."""

from __future__ import annotations

import itertools

from fileproto.report.cases import Case
from fileproto.report.findings.index import Index
from fileproto.report.findings.method import Verdicts, compare
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients, times, workers
from fileproto.report.order import size_text
from fileproto.results.verdict import Verdict


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


def _spread(ratios: list[float]) -> str:
    return f"{times(min(ratios))} to {times(max(ratios))}" if len(ratios) > 1 else times(ratios[0])


def models(index: Index, verdicts: Verdicts) -> list[Finding]:
    """Each pair of models, per operation and size, per server-worker count."""
    same_words = verdicts.margin_words
    out = []
    for op, size in index.pairs():
        label = f"{op} {size_text(int(size) if size.is_integer() else size)} MiB"
        for base, other in itertools.combinations(index.models, 2):
            parts, decided, apart = [], False, False
            for n_workers in index.workers:
                pairs = [
                    (a, b)
                    for n_clients in index.clients
                    if (a := index.get(base, op, size, n_clients, n_workers))
                    and (b := index.get(other, op, size, n_clients, n_workers))
                ]
                compared = compare(verdicts, pairs)
                if not compared.ratios:
                    continue
                by_verdict: dict[Verdict, list[tuple[float, Case, Case]]] = {}
                for a, b in pairs:
                    stated = verdicts.of(a, b)
                    if stated is not None:
                        by_verdict.setdefault(stated.comparison.verdict, []).append(
                            (stated.comparison.ratio, a, b)
                        )
                slower = by_verdict.get(Verdict.SLOWER, [])
                faster = by_verdict.get(Verdict.FASTER, [])
                same = [r for r, _, _ in by_verdict.get(Verdict.SAME, [])]
                undecided = [r for r, _, _ in by_verdict.get(Verdict.UNDECIDED, [])]
                where = f"on {workers(n_workers)}"
                n = compared.n
                decided = decided or compared.open < n
                apart = apart or bool(slower or faster)
                if len(same) == n:
                    parts.append(f"{where} {same_words} in all {n} ({_spread(same)})")
                    continue
                if len(undecided) == n:
                    parts.append(f"{where} not decided in all {n} ({_spread(undecided)})")
                    continue
                bits = [_direction("slower", slower, n) if slower else "",
                        _direction("faster", faster, n) if faster else "",
                        f"{same_words} in {len(same)} of {n}" if same else "",
                        f"not decided in {len(undecided)} of {n}" if undecided else ""]  # fmt: skip
                parts.append(f"{where} {', '.join(b for b in bits if b)}")
            if not parts:
                continue
            verdict = "" if apart else (", none faster or slower" if decided else ", not decided")
            out.append(
                Finding(
                    "models",
                    f"{label}, {other} against {base}{verdict} (its time over {base}'s, per "
                    f"server-worker count over the client counts): " + "; ".join(parts) + ".",
                )
            )
    return out
