"""A case's timeline as a PNG: a row per client, coloured by phase.

With the server's events joined in (by the client's local port), each row shows the
request waiting to be accepted (until the server accepted it), queued for a worker
(until a worker took it), being served, waiting on the client (the worker gave the
connection back mid-request or mid-response, until the client's bytes came or it took
more of the answer: the trace's ``ready``), and queued for a worker again until one took
it (:mod:`.phases`); each row ends with the worker(s) that served it. A trace without
``ready`` events shows the give-back to the next take as one phase, and a refused
connection its refusal. Without server events (a server of someone
else's, or tracing off), the rows show the client's own phases: connecting, sending,
waiting for the first byte, receiving, with what TCP told the client: the part of the
sending the server's receive window was closed, and the part of the wait during which
the request was still reaching the server (:func:`.phases.client_segments`). Under the
rows, when the case had a LIST probe, its latency per probe: from the time it was due
(filled) and from its start (hollow).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from fileproto.cases.slowclients import DISPATCH_LABELS
from fileproto.load.latency import PROBE_TIMEOUT
from fileproto.report.cases import Case
from fileproto.report.order import (
    kind_order,
    model_name,
    operation_rank,
    rank,
    server_workers_key,
    size_text,
)
from fileproto.report.phases import (
    HELD_BACK,
    MAIN_SERVER_PHASES,
    MIRROR_PHASES,
    QUEUED,
    REACHING,
    REFUSED,
    SERVED,
    SERVER_PHASES,
    UNSPLIT,
    WAITING_ON_CLIENT,
    WAITING_TO_CONNECT,
    Segment,
)
from fileproto.report.probes import counts, held_back, in_order
from fileproto.report.requests import CLIENT_PHASES
from fileproto.report.workers import bands, rows

COLOURS = {
    WAITING_TO_CONNECT: "#c7c7c7",
    QUEUED: "#f28e2b",
    SERVED: "#4e79a7",
    WAITING_ON_CLIENT: "#a0cbe8",
    UNSPLIT: "#d4a6c8",
    REFUSED: "#ff9d9a",
    "connecting": "#c7c7c7",
    "sending": "#b07aa1",
    "waiting for first byte": "#f28e2b",
    "receiving": "#4e79a7",
    HELD_BACK: "#e15759",
    REACHING: "#f1ce63",
}


def telling_cases(cases: Sequence[Case]) -> list[Case]:
    """The cases that show a model best: for each kind and dispatch, the most clients on
    the fewest and the next fewest server workers (50 clients on 1 and on 5), first
    operation, smallest size; among the cases with a timeline when any has one. A server
    of someone else's ("external" workers) counts as one worker count of its own."""
    pool = [c for c in cases if not c.result.scenario]
    if any(c.has_timeline for c in pool):
        pool = [c for c in pool if c.has_timeline]
    models: dict[tuple[str, str], list[Case]] = {}
    for case in pool:
        models.setdefault((case.result.server_kind, case.result.dispatch or ""), []).append(case)
    chosen = []
    for _model, mine in sorted(
        models.items(),
        key=lambda kv: (rank(kv[0][0], kind_order()), rank(kv[0][1], DISPATCH_LABELS)),
    ):
        top = max(c.result.client_workers for c in mine)
        mine = [c for c in mine if c.result.client_workers == top]
        op = min((c.result.operation for c in mine), key=operation_rank)
        mine = [c for c in mine if c.result.operation == op]
        size = min(c.result.size_mib for c in mine)
        mine = [c for c in mine if c.result.size_mib == size]
        mine.sort(key=lambda c: server_workers_key(c.result.server_workers))
        chosen += mine[:2]
    return chosen


def choose(cases: Sequence[Case], wanted: Iterable[str]) -> tuple[list[Case], list[str]]:
    """(the cases named, the names that match no case); the telling cases if none named."""
    names = list(wanted)
    if not names:
        return telling_cases(cases), []
    chosen, unknown = [], []
    for name in names:
        found = [c for c in cases if c.matches(name)]
        if found:
            chosen += [c for c in found if c not in chosen]
        else:
            unknown.append(name)
    return chosen, unknown


def title_of(case: Case) -> str:
    r = case.result
    model = model_name(r.server_kind, r.dispatch)
    workers = f"{r.server_workers} worker{'' if r.server_workers == 1 else 's'}"
    return (
        f"{model}: {r.client_workers} clients {r.operation} {size_text(r.size_mib)} MiB "
        f"on {workers}"
    )


def _workers_text(workers: Sequence[str]) -> str:
    if not workers:
        return ""
    return ", ".join(workers[:2]) + (f" +{len(workers) - 2}" if len(workers) > 2 else "")


def render_timeline_png(
    case: Case, path: str | os.PathLike[str], *, order: str = "service"
) -> None:
    """Draw one case's timeline (:func:`timeline_figure`) as a PNG."""
    timeline_figure(case, order=order).savefig(os.fspath(path), format="png")


def timeline_figure(case: Case, *, order: str = "service") -> Any:
    """One case's timeline, rows in ``order`` (:data:`.workers.ORDERS`: by worker and
    when its service began, or by connect time); ValueError if the case has no client
    timeline."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError(
            'render_timeline_png needs matplotlib: pip install "fileproto[report]"'
        ) from None
    if not case.requests:
        raise ValueError(f"case {case.id} has no timeline")
    ordered = rows(case, order)
    # Rows with the server's phases: its events were joined in.
    traced = any(s.phase in SERVER_PHASES for r in ordered for s in r.segments)
    by_worker = traced and order == "service"
    probes = bool(case.probes)
    height = 1.8 + 0.15 * len(ordered) + (2.0 if probes else 0)
    figure = Figure(figsize=(11, max(3.5, height)), dpi=110)
    FigureCanvasAgg(figure)
    if probes:
        lanes, latency = figure.subplots(
            2, 1, sharex=True,
            gridspec_kw={"height_ratios": [max(2.0, 0.17 * len(ordered)), 1.4]},
        )  # fmt: skip
    else:
        lanes, latency = figure.subplots(1, 1), None
    end = case.end
    size = 7 if len(ordered) <= 30 else 6 if len(ordered) <= 60 else 5
    if by_worker:
        _bands(lanes, bands(ordered), size)
    for y, row in enumerate(ordered):
        for phase in dict.fromkeys(s.phase for s in row.segments):
            bars = [(s.start, s.end - s.start) for s in row.segments if s.phase == phase]
            lanes.broken_barh(bars, (y - 0.4, 0.8), facecolors=COLOURS.get(phase, "black"))
        label = _workers_text(row.workers)
        if label:
            lanes.text(row.request.end + end * 0.005, y, label, va="center", fontsize=6,
                       color="#333")  # fmt: skip
        if row.preempted:
            lanes.plot(row.preempted, [y] * len(row.preempted), ls="", **PREEMPTED_MARK)
        if not row.request.ok:
            lanes.plot([row.request.end], [y], marker="x", color="red", ms=6, mew=2)
    lanes.set_ylim(len(ordered) - 0.4, -0.6)
    # Every row named while the names stay readable: a skipped label would leave a row
    # nobody can name.
    step = max(1, -(-len(ordered) // 80))
    ticks = list(range(0, len(ordered), step))
    labels = [f"client {ordered[i].request.client}" for i in ticks]
    lanes.set_yticks(ticks, labels=labels, fontsize=size)
    lanes.set_ylabel(
        "client requests, in the order their worker took them"
        if by_worker
        else "client requests, in the order they began to connect",
        fontsize=8,
    )
    # Room right of the last bar for the text after it (the workers that served it).
    lanes.set_xlim(0, end * (1.16 if traced else 1.04) or 1.0)
    lanes.grid(True, axis="x", alpha=0.3)
    figure.suptitle(title_of(case), fontsize=11, x=0.01, ha="left")
    phases = legend_phases([s for r in ordered for s in r.segments], traced)
    preempted = any(r.preempted for r in ordered)
    _legend(lanes, phases, any(not r.request.ok for r in ordered), traced, preempted)
    notes = []
    if case.dropped:
        notes.append(f"{case.dropped} timeline entries left out at the bound")
    if case.server_events_dropped:
        notes.append(f"{case.server_events_dropped} server events left out at the bound")
    if not traced:
        told = any(r.request.tcp is not None for r in ordered)
        notes.append("no server events: the client's own phases"
                     + (", split by what TCP told it" if told else ""))  # fmt: skip
    if notes:
        figure.text(0.99, 0.005, "; ".join(notes), ha="right", va="bottom", fontsize=7,
                    color="dimgrey")  # fmt: skip
    if latency is not None:
        _probes(latency, case)
        latency.set_xlabel("seconds from the case's start")
    else:
        lanes.set_xlabel("seconds from the case's start")
    figure.tight_layout()
    return figure


#: A worker let go of the request after a quantum, for one that was to run first.
PREEMPTED_MARK: dict[str, Any] = {"marker": "|", "color": "black", "ms": 7, "mew": 1.2}


def _bands(ax: Any, runs: Sequence[tuple[str, int, int]], size: int) -> None:
    """A shaded band per worker behind its rows, named on an axis of its own on the
    right (outside the rows, where the text after a row cannot run into it)."""
    for i, (_, first, last) in enumerate(runs):
        if i % 2 == 0:
            ax.axhspan(first - 0.5, last + 0.5, color="#ececec", zorder=0, lw=0)
    side = ax.secondary_yaxis("right")
    side.set_yticks([(first + last) / 2 for _, first, last in runs],
                    labels=[worker for worker, _, _ in runs], fontsize=size)  # fmt: skip
    side.tick_params(length=0)
    side.set_ylabel("the worker that first served them", fontsize=8)


def legend_phases(segments: Sequence[Segment], traced: bool) -> tuple[str, ...]:
    """The phases the legend names: the client's own without server events; else the
    main server phases, and the others only where a row has them."""
    present = {s.phase for s in segments}
    if not traced:
        return tuple(p for p in MIRROR_PHASES if p in CLIENT_PHASES or p in present)
    return tuple(p for p in SERVER_PHASES if p in MAIN_SERVER_PHASES or p in present)


def _legend(
    ax: Any, phases: Sequence[str], failures: bool, traced: bool, preempted: bool = False
) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(color=COLOURS[p], label=p) for p in phases]
    if preempted:
        handles.append(Line2D([], [], ls="", label="preempted", **PREEMPTED_MARK))
    if failures:
        handles.append(Line2D([], [], color="red", marker="x", ls="", mew=2, label="failed"))
    # Above the rows, not on them: any corner of the rows may hold bars.
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=len(handles),
        fontsize=7,
        frameon=False,
        title="each row one client request; the text after a row: the worker(s) that served it"
        if traced
        else "each row one client request",
        title_fontsize=7,
        alignment="left",
    )


def _probes(ax: Any, case: Case) -> None:
    """Each probe's latency from when it was due (filled) and from when it began
    (hollow); a failure at its own latency; a probe cut off by the case's end at the
    time it had waited by then, a bound from below (docs/trace.md, "Probes cut off")."""
    from matplotlib.ticker import FuncFormatter

    probes = in_order(case)
    late = held_back(case)
    end = case.end

    def ms(seconds: float) -> float:
        return max(seconds, 1e-5) * 1000  # a log axis: nothing at zero

    answered = [p for p in probes if p.ok]
    failed = [p for p in probes if not p.ok and not p.cut_off]
    cut = [p for p in probes if p.cut_off]
    ax.scatter([p.due for p in answered], [ms(p.corrected_s or 0.0) for p in answered], s=14,
               color="#e15759", label="answered, from when it was due")  # fmt: skip
    began = [p for p in answered if p.start is not None]
    ax.scatter([p.start for p in began], [ms(p.uncorrected_s or 0.0) for p in began], s=22,
               facecolors="none", edgecolors="#59a14f", label="from when it began")  # fmt: skip
    if failed:
        ax.scatter([p.due for p in failed], [ms(p.corrected_s or 0.0) for p in failed],
                   marker="x", color="red",
                   label=f"failed (no answer in {PROBE_TIMEOUT:g} s, or an error)")  # fmt: skip
    if cut:
        ax.scatter([p.due for p in cut], [ms(p.waited_s(end)) for p in cut], marker="^", s=22,
                   color="#9c9c9c", label="cut off by the case's end: waited at least")  # fmt: skip
    values = [ms(p.corrected_s or 0.0) for p in answered + failed]
    values += [ms(p.waited_s(end)) for p in cut]
    ax.set_yscale("log")
    ax.set_ylim(top=max(values, default=1.0) * 2)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))
    ax.set_ylabel("LIST probe (ms)", fontsize=8)
    ax.grid(True, alpha=0.3)
    tally = counts(probes, late)
    # Above the panel: inside, it would hide the slowest probes.
    ax.legend(
        loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=4, fontsize=7, frameon=False,
        title=f"LIST probes: {tally['due']} due, {tally['answered']} answered, "
        f"{tally['failed']} failed, {tally['cut off']} cut off by the case's end; "
        f"{tally['late']} held back by the bound of probes in flight",
        title_fontsize=7, alignment="left",
    )  # fmt: skip
