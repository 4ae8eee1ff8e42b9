"""The models compared: each pair of models (thread vs process, thread vs asyncio,
process vs asyncio), per operation and size, over the client/worker pairs both ran."""

from __future__ import annotations

import itertools
import math

from fileproto.report.findings.index import Index
from fileproto.report.findings.noise import Noise, compare, geomean
from fileproto.report.findings.topics import Finding
from fileproto.report.findings.words import clients, times, workers
from fileproto.report.order import size_text


def models(index: Index, noise: Noise) -> list[Finding]:
    """Each pair of models, per operation and size."""
    out = []
    for op, size in index.pairs():
        for base, other in itertools.combinations(index.models, 2):
            pairs = [
                (a, b)
                for n_clients in index.clients
                for n_workers in index.workers
                if (a := index.get(base, op, size, n_clients, n_workers))
                and (b := index.get(other, op, size, n_clients, n_workers))
            ]
            compared = compare(noise, pairs)
            if not compared.n:
                continue
            label = f"{op} {size_text(int(size) if size.is_integer() else size)} MiB"
            if not compared.faster and not compared.slower:
                text = (
                    f"{label}: {other} and {base} are not told apart "
                    f"(within noise in all {compared.n} client/worker pairs; "
                    f"{times(geomean(compared.ratios))} the time on average)"
                )
            else:
                worst = max(
                    zip(compared.ratios, pairs, strict=True), key=lambda x: abs(math.log(x[0]))
                )
                a, b = worst[1]
                text = (
                    f"{label}: {other} takes {times(geomean(compared.ratios))} the time of "
                    f"{base} (geometric mean over {compared.n} client/worker pairs; "
                    f"{compared.summary()}). Largest difference: "
                    f"{clients(a.result.client_workers)} on {workers(a.result.server_workers)}, "
                    f"{b.result.avg_time_s:.3f} s vs {a.result.avg_time_s:.3f} s"
                )
            out.append(Finding("models", text + "."))
    return out
