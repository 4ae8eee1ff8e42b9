"""What a run shows, in words, each statement with its numbers; all computed from the
cases, none written in advance.

A difference is stated only when it is larger than the run's own noise:

- with several rounds per case, the two cases' rounds (their durations) must differ by
  the Mann-Whitney U test at p < 0.05, as benchstat decides;
- with one round there is nothing to test, so a difference must exceed the largest
  spread between cases that should measure the same: one client on 1, 5 or 50 server
  workers (one client keeps one worker busy, the others idle), and at least 1.3x
  (README: single figures move by about 30% between runs on a shared machine).

Topics, in the order they are printed: the noise rule itself, how time per client grows
with clients, where adding server workers stops helping, the models compared per
operation and size, the share of a client's time spent queued (from timelines), failed
clients, and how responsive the server stayed (the LIST probe).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fileproto.cases.slowclients import DISPATCH_LABELS
from fileproto.load.latency import PROBE_TIMEOUT
from fileproto.report.cases import (
    QUEUED,
    SERVED,
    SERVER_PHASES,
    WAITING_ON_CLIENT,
    WAITING_TO_CONNECT,
    Case,
)
from fileproto.report.order import kind_order, operation_rank, rank, size_text
from fileproto.report.ranktest import ALPHA, mann_whitney_p, smallest_p
from fileproto.results import LoadResult
from fileproto.results.felt import Percentiles, percentiles_of

#: No threshold below this with one round (README: single figures move ~30% between runs).
NOISE_FLOOR = 1.3
#: Failed cases listed one by one; the rest are counted.
_FAILURES_LISTED = 8


@dataclass(frozen=True)
class Finding:
    topic: str
    text: str


# -- the run's noise ----------------------------------------------------------------------


@dataclass(frozen=True)
class Noise:
    """How this run tells a real difference from noise."""

    #: The fewest rounds any classic case has.
    rounds: int
    #: One round: the ratio a difference must reach.
    threshold: float
    #: Why that threshold (one round), or what the rank test can reach (several).
    basis: str

    @property
    def tested(self) -> bool:
        return self.rounds >= 2

    def verdict(self, a: Case, b: Case) -> int:
        """-1 if b is faster than a beyond noise, 1 if slower, 0 if not told apart."""
        ta, tb = a.result.avg_time_s, b.result.avg_time_s
        if ta <= 0 or tb <= 0:
            return 0
        if self.tested and len(a.durations) >= 2 and len(b.durations) >= 2:
            if mann_whitney_p(a.durations, b.durations) >= ALPHA:
                return 0
            return 1 if tb > ta else -1
        ratio = tb / ta
        if ratio >= self.threshold:
            return 1
        if ratio <= 1 / self.threshold:
            return -1
        return 0


def model_of(case: LoadResult, dispatches: dict[str, set[str]]) -> str:
    """The model's name: the kind's label, with its dispatch if the run had several."""
    from fileproto.report.order import kind_label

    label = kind_label(case.server_kind)
    if case.dispatch and len(dispatches.get(case.server_kind, set())) > 1:
        return f"{label} ({case.dispatch})"
    return label


def _dispatches(cases: Iterable[Case]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for case in cases:
        found.setdefault(case.result.server_kind, set()).add(case.result.dispatch or "")
    return found


def _model_key(case: Case) -> tuple[tuple[int, str], tuple[int, str]]:
    r = case.result
    return rank(r.server_kind, kind_order()), rank(r.dispatch or "", DISPATCH_LABELS)


def noise_of(cases: Sequence[Case]) -> Noise:
    rounds = min((max(len(c.durations), c.result.rounds or 1) for c in cases), default=1)
    if rounds >= 2:
        reach = smallest_p(rounds, rounds)
        basis = (
            f"{rounds} rounds per case: two cases differ only if their rounds' durations "
            f"differ by the Mann-Whitney U test at p < {ALPHA:g} (as benchstat decides)"
        )
        if reach >= ALPHA:
            basis += (
                f"; with {rounds} rounds the smallest p reachable is {reach:.2f}, so no "
                "difference can be told from noise: run at least 4 rounds "
                "(--fileproto-rounds 4)"
            )
        # The floor still applies to any pair of cases without rounds to rank.
        return Noise(rounds, NOISE_FLOOR, basis)
    dispatches = _dispatches(cases)
    groups: dict[tuple[str, str, str, float], list[Case]] = {}
    for case in cases:
        r = case.result
        if r.client_workers == 1 and isinstance(r.server_workers, int):
            key = (r.server_kind, r.dispatch or "", r.operation, float(r.size_mib))
            groups.setdefault(key, []).append(case)
    spread, where = 0.0, ""
    for group in groups.values():
        times = [c.result.avg_time_s for c in group if c.result.avg_time_s > 0]
        if len(times) < 2:
            continue
        ratio = max(times) / min(times)
        if ratio > spread:
            r = group[0].result
            spread = ratio
            where = (
                f"{model_of(r, dispatches)} {r.operation} {size_text(r.size_mib)} MiB: "
                f"{min(times):.3f} s vs {max(times):.3f} s"
            )
    threshold = max(NOISE_FLOOR, spread)
    if spread:
        basis = (
            f"One round per case, so no rank test: differences under {threshold:.2f}x are "
            "held back. The largest spread between cases that should measure the same (one "
            "client on different server-worker counts: one client keeps one worker busy) "
            f"is {spread:.2f}x here ({where})"
            + (
                f"; the threshold is never under {NOISE_FLOOR:g}x (single figures move by "
                "about 30% between runs on a shared machine)"
                if spread < NOISE_FLOOR
                else ""
            )
            + ". Run --fileproto-rounds 5 for a rank test."
        )
    else:
        basis = (
            f"One round per case, so no rank test: differences under {threshold:.2f}x are "
            "held back (single figures move by about 30% between runs on a shared machine; "
            "this run has no cases that should measure the same to estimate its own noise)."
        )
    return Noise(1, threshold, basis)


# -- helpers --------------------------------------------------------------------------------


def _geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


def _times(value: float) -> str:
    return f"{value:.2f}x" if value < 10 else f"{value:,.0f}x"


def _pairs_text(n: int) -> str:
    return f"{n} operation/size pair{'' if n == 1 else 's'}"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 10 else f"{seconds:,.1f} s"


def _workers(n: int | str) -> str:
    return f"{n} worker{'' if n == 1 else 's'}"


def _clients(n: int) -> str:
    return f"{n} client{'' if n == 1 else 's'}"


class _Index:
    """Classic cases by (model, operation, size, clients, workers)."""

    def __init__(self, cases: Sequence[Case]) -> None:
        self.dispatches = _dispatches(cases)
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


@dataclass(frozen=True)
class _Compared:
    ratios: list[float]
    faster: int
    slower: int
    same: int

    @property
    def n(self) -> int:
        return len(self.ratios)

    def summary(self) -> str:
        parts = [f"slower in {self.slower}" if self.slower else "",
                 f"faster in {self.faster}" if self.faster else "",
                 f"within noise in {self.same}" if self.same else ""]  # fmt: skip
        return ", ".join(p for p in parts if p) + f" of {self.n}"


def _compare(noise: Noise, pairs: Iterable[tuple[Case, Case]]) -> _Compared:
    ratios, verdicts = [], []
    for a, b in pairs:
        if a.result.avg_time_s > 0 and b.result.avg_time_s > 0:
            ratios.append(b.result.avg_time_s / a.result.avg_time_s)
            verdicts.append(noise.verdict(a, b))
    return _Compared(ratios, verdicts.count(-1), verdicts.count(1), verdicts.count(0))


# -- the findings ---------------------------------------------------------------------------


def _scaling(index: _Index, noise: Noise) -> list[Finding]:
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
            compared = _compare(noise, pairs)
            if not compared.n:
                continue
            growth = _geomean(compared.ratios)
            spread = (
                f" ({_times(min(compared.ratios))} to {_times(max(compared.ratios))})"
                if compared.n > 1
                else ""
            )
            if compared.slower == 0:
                parts.append(f"no growth beyond noise on {_workers(workers)}")
            else:
                parts.append(f"{_times(growth)} on {_workers(workers)}{spread}")
        if parts:
            n = len(index.pairs())
            out.append(
                Finding(
                    "scaling",
                    f"{model}: from {_clients(low)} to {high}, the time per client grows "
                    + "; ".join(parts)
                    + (
                        f" (geometric mean over the {_pairs_text(n)}, with the range)"
                        if n > 1
                        else f" ({_pairs_text(n)})"
                    )
                    + ". "
                    f"{high}x would mean the clients shared the server evenly at the "
                    f"speed one client gets alone.",
                )
            )
    return out


def _workers_help(index: _Index, noise: Noise) -> list[Finding]:
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
                compared = _compare(noise, pairs)
                if not compared.n:
                    continue
                steps.append(
                    f"{more} workers instead of {fewer}: {_times(_geomean(compared.ratios))} "
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


def _models(index: _Index, noise: Noise) -> list[Finding]:
    """Each pair of models, per operation and size (thread vs process, thread vs asyncio,
    process vs asyncio)."""
    out = []
    for op, size in index.pairs():
        for base, other in itertools.combinations(index.models, 2):
            pairs = [
                (a, b)
                for clients in index.clients
                for workers in index.workers
                if (a := index.get(base, op, size, clients, workers))
                and (b := index.get(other, op, size, clients, workers))
            ]
            compared = _compare(noise, pairs)
            if not compared.n:
                continue
            label = f"{op} {size_text(int(size) if size.is_integer() else size)} MiB"
            if not compared.faster and not compared.slower:
                text = (
                    f"{label}: {other} and {base} are not told apart "
                    f"(within noise in all {compared.n} client/worker pairs; "
                    f"{_times(_geomean(compared.ratios))} the time on average)"
                )
            else:
                worst = max(
                    zip(compared.ratios, pairs, strict=True), key=lambda x: abs(math.log(x[0]))
                )
                a, b = worst[1]
                text = (
                    f"{label}: {other} takes {_times(_geomean(compared.ratios))} the time of "
                    f"{base} (geometric mean over {compared.n} client/worker pairs; "
                    f"{compared.summary()}). Largest difference: "
                    f"{_clients(a.result.client_workers)} on {_workers(a.result.server_workers)}, "
                    f"{b.result.avg_time_s:.3f} s vs {a.result.avg_time_s:.3f} s"
                )
            out.append(Finding("models", text + "."))
    return out


def phase_shares(case: Case) -> dict[str, float] | None:
    """Share of the clients' summed time per phase (server phases when the server's
    events are joined, else the client's own); None without a timeline."""
    if not case.requests:
        return None
    joined = case.conn_events()
    totals: dict[str, float] = {}
    for request in case.requests:
        events = joined.get(request.port) if request.port is not None else None
        for segment in case.segments(request, events):
            totals[segment.phase] = totals.get(segment.phase, 0.0) + (segment.end - segment.start)
    whole = sum(totals.values())
    return {k: v / whole for k, v in totals.items()} if whole > 0 else None


def _queued(index: _Index, cases: Sequence[Case]) -> list[Finding]:
    with_timeline = [c for c in cases if c.requests]
    if not with_timeline:
        return [
            Finding(
                "queued",
                f"No timelines in this run (0 of {len(cases)} cases recorded one): how "
                "much of a client's time was spent queued rather than served is not known.",
            )
        ]
    traced = [c for c in with_timeline if c.server_events]
    out = []
    if not traced:
        out.append(
            Finding(
                "queued",
                f"The server's events were not recorded (0 of {len(with_timeline)} cases "
                "with a timeline have them: a server of someone else's, or tracing off): "
                "queued and served time cannot be told apart; the timelines show the "
                "clients' own phases.",
            )
        )
        return out
    top = max(c.result.client_workers for c in traced)
    groups: dict[tuple[str, int | str], list[dict[str, float]]] = {}
    for case in traced:
        if case.result.client_workers != top:
            continue
        shares = phase_shares(case)
        if shares:
            groups.setdefault((index.model(case), case.result.server_workers), []).append(shares)
    for (model, workers), found in sorted(
        groups.items(), key=lambda kv: (index.models.index(kv[0][0])
                                        if kv[0][0] in index.models else 99, str(kv[0][1]))
    ):  # fmt: skip
        mean = {p: sum(s.get(p, 0.0) for s in found) / len(found) for p in SERVER_PHASES}
        n = len(found)
        out.append(
            Finding(
                "queued",
                f"{model}, {top} clients on {_workers(workers)}: "
                f"{mean[QUEUED]:.0%} of the clients' time was spent queued for a worker, "
                f"{mean[SERVED]:.0%} being served, {mean[WAITING_ON_CLIENT]:.0%} given back "
                "until a worker took the connection again (waiting on the client's bytes, "
                "then in the queue: the trace does not tell the two apart), "
                f"{mean[WAITING_TO_CONNECT]:.0%} waiting to be accepted "
                f"(mean over {n} case{'' if n == 1 else 's'}, from the server's events).",
            )
        )
    return out


def _failures(cases: Sequence[Case]) -> list[Finding]:
    clients = sum(c.result.successes + c.result.failures for c in cases)
    failed = [c for c in cases if c.result.failed]
    if not failed:
        return [
            Finding(
                "failures",
                f"No client failed: {clients:,} clients in {len(cases)} cases, every "
                "transferred file verified byte for byte.",
            )
        ]
    dispatches = _dispatches(cases)
    lost = sum(c.result.failures for c in failed)
    out = [
        Finding(
            "failures",
            f"{lost:,} of {clients:,} clients failed, in {len(failed)} of {len(cases)} cases.",
        )
    ]
    for case in failed[:_FAILURES_LISTED]:
        r = case.result
        text = (
            f"{model_of(r, dispatches)}, {_scenario(r)}{r.operation} {size_text(r.size_mib)} "
            f"MiB, {_clients(r.client_workers)} on {_workers(r.server_workers)}: "
            f"{r.failures} of {r.successes + r.failures} failed"
        )
        if r.failure_kinds:
            text += " (" + ", ".join(f"{k} {v}" for k, v in r.failure_kinds.items()) + ")"
        if not r.verified and not r.failures:
            text += "; not every file was verified byte for byte"
        if r.first_error:
            text += f"; first error: {' '.join(r.first_error.split())}"
        out.append(Finding("failures", text + "."))
    if len(failed) > _FAILURES_LISTED:
        out.append(
            Finding("failures", f"... and {len(failed) - _FAILURES_LISTED} more failed cases.")
        )
    return out


def _scenario(r: LoadResult) -> str:
    return f"scenario {r.scenario}, " if r.scenario else ""


#: Where a record keeps the probe's latency timed from each probe's actual start (the
#: uncorrected figure beside probe_s, which is timed from each probe's due time).
UNCORRECTED_KEYS = ("probe_sent_s",)


def probe_figures(case: Case) -> tuple[Percentiles | None, Percentiles | None]:
    """(corrected, uncorrected) LIST probe latency: from the timeline's probes when
    present (from when each was due, and from when it was sent), else the record's
    probe_s and, if the record has it, its uncorrected figure."""
    if case.probes:
        due = [p.corrected_s for p in case.probes]
        sent = [p.uncorrected_s for p in case.probes if p.uncorrected_s is not None]
        return Percentiles.of(due), Percentiles.of(sent)
    uncorrected: Percentiles | None = None
    for key in UNCORRECTED_KEYS:
        raw = case.info.get(key)
        if isinstance(raw, dict):
            try:
                uncorrected = percentiles_of(raw)
            except (TypeError, ValueError):
                continue
            break
    return case.result.probe_s, uncorrected


def _unanswered(case: Case) -> str:
    failures = case.result.probe_failures
    return f" ({failures} unanswered within {PROBE_TIMEOUT:g} s)" if failures else ""


def _probe_text(corrected: Percentiles, uncorrected: Percentiles | None) -> str:
    count = f"{corrected.count} probe{'' if corrected.count == 1 else 's'}"
    text = (
        f"p50 {_ms(corrected.p50)}, p99 {_ms(corrected.p99)}, max {_ms(corrected.max)} over {count}"
    )
    if uncorrected is not None:
        text += (
            f" (timed from each probe's start instead of its due time: p99 {_ms(uncorrected.p99)})"
        )
    return text


def _responsiveness(index: _Index, cases: Sequence[Case]) -> list[Finding]:
    out = []
    classic = [c for c in index.cases if not c.result.scenario]
    for model in index.models:
        mine = [(c, probe_figures(c)) for c in classic if index.model(c) == model]
        mine = [(c, f) for c, f in mine if f[0] is not None]
        if len(mine) < 2:
            continue
        light = min(mine, key=lambda x: (x[0].result.client_workers, x[0].result.size_mib,
                                         x[0].result.avg_time_s))  # fmt: skip
        heavy = max(mine, key=lambda x: x[1][0].p99 if x[1][0] else 0.0)
        lc, (lp, lu) = light
        hc, (hp, hu) = heavy
        assert lp is not None and hp is not None
        where = (
            f"{_clients(lc.result.client_workers)} ({lc.result.operation} "
            f"{size_text(lc.result.size_mib)} MiB)"
        )
        if hc is lc:
            out.append(
                Finding(
                    "responsiveness",
                    f"{model}: the LIST probe (a new connection every 100 ms) was answered "
                    f"in {_probe_text(lp, lu)} beside {where}: its lightest load was "
                    "also its worst.",
                )
            )
            continue
        out.append(
            Finding(
                "responsiveness",
                f"{model}: the LIST probe (a new connection every 100 ms) was answered in "
                f"{_probe_text(lp, lu)}, beside {_clients(lc.result.client_workers)} "
                f"({lc.result.operation} {size_text(lc.result.size_mib)} MiB); at its worst, "
                f"{_probe_text(hp, hu)}{_unanswered(hc)}, beside "
                f"{_clients(hc.result.client_workers)} ({hc.result.operation} "
                f"{size_text(hc.result.size_mib)} MiB on {_workers(hc.result.server_workers)}).",
            )
        )
    measured = [c for c in classic if c.result.probe_s is not None]
    if measured and not any(c.probes or "probe_sent_s" in c.info for c in measured):
        out.append(
            Finding(
                "responsiveness",
                f"The {len(measured)} cases' probe figures count from each probe's actual "
                "start: the run predates timing from the due time, so a stalled server shows "
                "in one sample per stall (coordinated omission), not in every probe it kept "
                "waiting.",
            )
        )
    slow = [c for c in cases if c.result.scenario]
    dispatches = _dispatches(slow)
    scenarios = list(dict.fromkeys(c.result.scenario for c in slow))
    for scenario in scenarios:
        parts = []
        for case in (c for c in slow if c.result.scenario == scenario):
            corrected, _ = probe_figures(case)
            if corrected is None:
                continue
            failures = case.result.probe_failures
            fail_text = f", {failures} unanswered" if failures else ""
            parts.append(
                (
                    corrected.p99,
                    f"{model_of(case.result, dispatches)} on {_workers(case.result.server_workers)}"
                    f" p99 {_ms(corrected.p99)}{fail_text}",
                )
            )
        if parts:
            parts.sort(key=lambda p: p[0])
            out.append(
                Finding(
                    "responsiveness",
                    f"Scenario {scenario}: LIST probe, best to worst: "
                    + "; ".join(text for _, text in parts)
                    + ".",
                )
            )
    return out


def _slow_completion(cases: Sequence[Case]) -> list[Finding]:
    """Slow-client scenarios: who finished, per scenario."""
    slow = [c for c in cases if c.result.scenario]
    dispatches = _dispatches(slow)
    out = []
    for scenario in dict.fromkeys(c.result.scenario for c in slow):
        mine = [c for c in slow if c.result.scenario == scenario]
        done = sorted(mine, key=lambda c: -c.result.successes / max(1, c.result.client_workers))
        parts = [
            f"{model_of(c.result, dispatches)} on {_workers(c.result.server_workers)} "
            f"{c.result.successes}/{c.result.successes + c.result.failures}"
            for c in done
        ]
        out.append(
            Finding(
                "slow clients",
                f"Scenario {scenario}: clients completed, most to fewest: "
                + "; ".join(parts)
                + ".",
            )
        )
    return out


TOPICS: tuple[tuple[str, str], ...] = (
    ("noise", "How differences are told from noise"),
    ("scaling", "Time per client as clients grow"),
    ("workers", "Adding server workers"),
    ("models", "The models compared, per operation and size"),
    ("queued", "Queued or served"),
    ("failures", "Failed clients"),
    ("slow clients", "Slow clients"),
    ("responsiveness", "Responsiveness under load"),
)


def findings(cases: Sequence[Case]) -> list[Finding]:
    """Every finding of the run, topic by topic (TOPICS' order)."""
    if not cases:
        return []
    classic = [c for c in cases if not c.result.scenario]
    steps: list[Callable[[], list[Finding]]] = []
    out: list[Finding] = []
    if classic:
        noise = noise_of(classic)
        index = _Index(classic)
        out.append(Finding("noise", noise.basis))
        steps += [
            lambda: _scaling(index, noise),
            lambda: _workers_help(index, noise),
            lambda: _models(index, noise),
            lambda: _queued(index, classic),
        ]
    steps += [lambda: _failures(cases), lambda: _slow_completion(cases)]
    steps.append(lambda: _responsiveness(_Index(classic), cases))
    for step in steps:
        out += step()
    order = [t for t, _ in TOPICS]
    return sorted(out, key=lambda f: order.index(f.topic))


def grouped(found: Sequence[Finding]) -> list[tuple[str, list[str]]]:
    """(topic title, texts) in TOPICS' order, topics without findings left out."""
    return [
        (title, texts)
        for topic, title in TOPICS
        if (texts := [f.text for f in found if f.topic == topic])
    ]


def render_findings_text(found: Sequence[Finding]) -> str:
    """The findings for a terminal: a title, then one paragraph per finding."""
    if not found:
        return ""
    import textwrap

    lines = ["Findings", "========"]
    for title, texts in grouped(found):
        lines += ["", title, "-" * len(title)]
        for text in texts:
            lines += textwrap.wrap(text, 96, initial_indent="- ", subsequent_indent="  ")
    return "\n".join(lines) + "\n"


def render_findings_markdown(found: Sequence[Finding]) -> str:
    if not found:
        return ""
    # Topics in bold, not as headings: the tables that follow are the ### sections.
    lines = ["## Findings"]
    for title, texts in grouped(found):
        lines += ["", f"**{title}**", "", *(f"- {text}" for text in texts)]
    return "\n".join(lines) + "\n"
