"""The slow-client chart: LIST p99 and aggregate throughput per model, per scenario."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from fileproto.report.order import server_workers_key
from fileproto.report.slow import aggregate_Bps, model_label, sort_slow
from fileproto.results import LoadResult
from fileproto.units import MIB

_COLOURS = ("tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:cyan")
_BAR_SPACE = 0.8  # of each model's slot, shared by its server-workers bars


def render_slow_png(cases: Iterable[LoadResult], path: str | os.PathLike[str]) -> None:
    """Two rows of panels, one column per scenario: the LIST probe's p99 (log scale) and
    the aggregate throughput, one group of bars per model (kind and dispatch), one bar
    per server-workers count. Cases with failed clients are hatched; each throughput
    bar is labelled with the clients completed; where the links were limited, with the
    ratio to their capacity too, and grey lines show that capacity and the 0.75 of it
    that base64 leaves for file bytes."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError('render_png needs matplotlib: pip install "fileproto[report]"') from None
    ordered = sort_slow(cases)
    if not ordered:
        raise ValueError("no slow-client cases to plot")
    scenarios = list(dict.fromkeys(c.scenario or "" for c in ordered))
    models = list(dict.fromkeys(model_label(c) for c in ordered))
    workers = sorted({c.server_workers for c in ordered}, key=server_workers_key)
    colours = {w: _COLOURS[i % len(_COLOURS)] for i, w in enumerate(workers)}
    figure = Figure(figsize=(max(8.0, 1.5 + 1.2 * len(models) * len(scenarios)), 8.0), dpi=120)
    FigureCanvasAgg(figure)
    grid = figure.subplots(2, len(scenarios), squeeze=False, sharex=True)
    top_ms = max([c.probe_s.max * 1000 for c in ordered if c.probe_s is not None] or [1.0])
    width = _BAR_SPACE / len(workers)
    for col, scenario in enumerate(scenarios):
        panel = [c for c in ordered if (c.scenario or "") == scenario]
        latency, throughput = grid[0][col], grid[1][col]
        for case in panel:
            x = (
                models.index(model_label(case))
                + (workers.index(case.server_workers) - (len(workers) - 1) / 2) * width
            )
            style = _bar_style(case, colours[case.server_workers])
            if case.probe_s is not None:
                latency.bar(x, case.probe_s.p99 * 1000, width, **style)
            throughput.bar(x, aggregate_Bps(case) / MIB, width, **style)
            label = f"{case.successes}/{case.successes + case.failures}"
            if case.ratio_to_offered is not None:
                label += f"\n{case.ratio_to_offered:.2f}"
            throughput.annotate(
                label,
                (x, aggregate_Bps(case) / MIB),
                xytext=(0, 2),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=7,
            )
        _offered_lines(throughput, panel)
        latency.set_title(scenario)
        _latency_axis(latency, top_ms)
        throughput.margins(y=0.15)
        if col == 0:
            latency.set_ylabel("LIST probe p99 (ms)")
            throughput.set_ylabel("aggregate throughput (MiB/s)")
        throughput.set_xticks(range(len(models)), labels=[m.replace(" ", "\n") for m in models])
        throughput.set_ylim(bottom=0)
        for ax in (latency, throughput):
            ax.grid(True, axis="y", alpha=0.3)
    _legend(figure, colours, any(c.failed for c in ordered), any(c.rate_Bps for c in ordered))
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    figure.savefig(os.fspath(path), format="png", dpi=120)


def _latency_axis(ax: Any, top_ms: float) -> None:
    """Log scale from 0.1 ms to above the slowest probe, in plain milliseconds."""
    from matplotlib.ticker import FuncFormatter

    ax.set_yscale("log")
    ax.set_ylim(0.1, max(10.0, top_ms * 2))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.10g}"))


def _bar_style(case: LoadResult, colour: str) -> dict[str, Any]:
    if case.failed:
        return {"color": colour, "edgecolor": "red", "hatch": "///", "linewidth": 1.2}
    return {"color": colour}


def _offered_lines(ax: Any, panel: Sequence[LoadResult]) -> None:
    """The links' capacity (clients x rate), and 0.75 of it: file bytes at full links."""
    offered = {c.offered_Bps for c in panel if c.offered_Bps}
    for value in sorted(offered):
        ax.axhline(value / MIB, color="grey", ls="--", lw=1)
        ax.axhline(0.75 * value / MIB, color="grey", ls=":", lw=1)


def _legend(figure: Any, colours: dict[int | str, str], failures: bool, links: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [
        Patch(color=c, label=f"{w} server worker{'' if w == 1 else 's'}")
        for w, c in colours.items()
    ]
    if failures:
        handles.append(
            Patch(facecolor="white", edgecolor="red", hatch="///", label="clients failed")
        )
    if links:
        handles.append(Line2D([], [], color="grey", ls="--", label="links' capacity"))
        handles.append(Line2D([], [], color="grey", ls=":", label="its file bytes (x 0.75)"))
    figure.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        frameon=False,
        fontsize=9,
        title="over each throughput bar: clients completed/all, and the ratio to the "
        "links' capacity where they were limited",
        title_fontsize=8,
    )
