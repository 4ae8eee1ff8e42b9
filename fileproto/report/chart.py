"""The throughput chart: aggregate throughput against client workers, as a PNG."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from fileproto.report.order import (
    kind_label,
    operation_rank,
    server_workers_key,
    size_text,
    sort_results,
)
from fileproto.results import LoadResult
from fileproto.units import MIB

# No red among the series colours: red crosses mark failures.
_COLOURS = (
    "tab:blue",
    "tab:orange",
    "tab:green",
    "tab:purple",
    "tab:brown",
    "tab:cyan",
    "tab:olive",
    "tab:pink",
    "tab:gray",
)
_STYLES = (("-", "o"), ("--", "s"), (":", "^"), ("-.", "D"), ((0, (5, 1, 1, 1)), "v"))
#: A reference more than this many times the best case would flatten every curve: it is
#: listed under the chart instead of drawn.
_OFF_SCALE = 4.0


def render_png(
    cases: Iterable[LoadResult],
    path: str | os.PathLike[str],
    *,
    references: Iterable[Mapping[str, Any]] = (),
) -> None:
    """Aggregate throughput against client workers: one panel per server kind (rows) and
    operation (columns), one line per (server workers, size). Failed cases get a red x;
    references (``load_references``) become dashed grey lines."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError('render_png needs matplotlib: pip install "fileproto[report]"') from None
    cases = sort_results(cases)
    if not cases:
        raise ValueError("no matrix cases to plot")
    kinds = list(dict.fromkeys(c.server_kind for c in cases))
    operations = sorted({c.operation for c in cases}, key=operation_rank)
    # A Figure with an explicit Agg canvas: no pyplot global state, no GUI backend.
    figure = Figure(figsize=(12, 8), dpi=120)
    FigureCanvasAgg(figure)
    grid = figure.subplots(len(kinds), len(operations), squeeze=False, sharex=True, sharey=True)
    styles = _Styles(cases)
    top = max(c.aggregate_Bps for c in cases) / MIB
    refs = _references(references)
    shown = [r for r in refs if r.mib_s <= top * _OFF_SCALE]
    off_scale = [r for r in refs if r.mib_s > top * _OFF_SCALE]
    top = max([top, *(r.mib_s for r in shown)]) * 1.12 or 1.0
    for row, kind in enumerate(kinds):
        for col, operation in enumerate(operations):
            ax = grid[row][col]
            panel = [c for c in cases if c.server_kind == kind and c.operation == operation]
            _plot_panel(ax, panel, styles)
            _plot_references(ax, [r for r in shown if r.operation in (None, operation)], top)
            ax.set_title(f"{kind_label(kind)} — {operation}")
            if row == len(kinds) - 1:
                ax.set_xlabel("client workers")
            if col == 0:
                ax.set_ylabel("aggregate throughput (MiB/s)")
    _format_axes(grid[0][0], sorted({c.client_workers for c in cases}), top)
    legend_right = styles.legend(figure, any(c.failed for c in cases), bool(shown))
    bottom = _off_scale_note(figure, off_scale)
    figure.tight_layout(rect=(0, bottom, legend_right, 1))
    figure.savefig(os.fspath(path), format="png", dpi=120)


class _Reference(NamedTuple):
    kind: str  # "limit"
    size: str  # "100", or "" if the reference has no size
    mib_s: float
    operation: str | None  # None: applies to every operation


def _references(references: Iterable[Mapping[str, Any]]) -> list[_Reference]:
    """Reference extra_info dicts reduced to what the chart draws; any without a numeric
    throughput is skipped (there is nothing to draw)."""
    out = []
    for ref in references:
        rate, size, operation = ref.get("throughput_Bps"), ref.get("size_mib"), ref.get("operation")
        if isinstance(rate, bool) or not isinstance(rate, int | float):
            continue
        out.append(
            _Reference(
                str(ref.get("reference", "reference")),
                ""
                if isinstance(size, bool) or not isinstance(size, int | float)
                else size_text(int(size) if float(size).is_integer() else float(size)),
                float(rate) / MIB,
                operation if isinstance(operation, str) else None,
            )
        )
    return out


def _reference_label(group: Sequence[_Reference]) -> str:
    """One label for references drawn close together: "limit 10, 50 MiB (1,500-1,600 MiB/s)"."""
    names = []
    for kind in dict.fromkeys(r.kind for r in group):
        sizes = sorted((r.size for r in group if r.kind == kind and r.size), key=float)
        names.append(f"{kind} {', '.join(sizes)} MiB" if sizes else kind)
    low, high = min(r.mib_s for r in group), max(r.mib_s for r in group)
    rates = f"{low:,.0f}" if round(low) == round(high) else f"{low:,.0f}-{high:,.0f}"
    return f"{'; '.join(names)} ({rates} MiB/s)"


class _Styles:
    """Colour per server-workers value, line style and marker per size, fixed for the whole
    figure so one legend serves every panel."""

    def __init__(self, cases: Sequence[LoadResult]) -> None:
        workers = sorted({c.server_workers for c in cases}, key=server_workers_key)
        sizes = sorted({c.size_mib for c in cases})
        self.colours = {w: _COLOURS[i % len(_COLOURS)] for i, w in enumerate(workers)}
        self.styles = {s: _STYLES[i % len(_STYLES)] for i, s in enumerate(sizes)}

    def legend(self, figure: Any, failures: bool, references: bool) -> float:
        """Draw the legends right of the panels; returns where the panels must end."""
        from matplotlib.lines import Line2D

        colour_handles = [
            Line2D([], [], color=c, lw=2.5, label=str(w)) for w, c in self.colours.items()
        ]
        style_handles = [
            Line2D([], [], color="black", ls=ls, marker=m, label=f"{size_text(s)} MiB")
            for s, (ls, m) in self.styles.items()
        ]
        extra = []
        if failures:
            extra.append(
                Line2D([], [], color="red", marker="x", ls="", ms=9, mew=2, label="had failures")
            )
        if references:
            extra.append(Line2D([], [], color="grey", ls="--", label="reference limit"))
        x = 0.855
        top = 0.97
        groups = [("server workers", colour_handles), ("file size", style_handles)]
        if extra:
            groups.append(("", extra))
        renderer = figure.canvas.get_renderer()
        for title, handles in groups:
            # figure.legend replaces nothing: each call adds one more legend to the figure.
            legend = figure.legend(
                handles=handles,
                title=title or None,
                loc="upper left",
                bbox_to_anchor=(x, top),
                frameon=False,
                fontsize=9,
                title_fontsize=9,
                alignment="left",
            )
            # Stack the next legend right under this one, measured rather than guessed.
            box = legend.get_window_extent(renderer).transformed(figure.transFigure.inverted())
            top = box.y0 - 0.03
        return x - 0.005


def _plot_panel(ax: Any, panel: Sequence[LoadResult], styles: _Styles) -> None:
    series: dict[tuple[int | str, int | float], list[LoadResult]] = {}
    for case in panel:
        series.setdefault((case.server_workers, case.size_mib), []).append(case)
    for (workers, size), points in series.items():
        points = sorted(points, key=lambda c: c.client_workers)
        ls, marker = styles.styles[size]
        ax.plot(
            [c.client_workers for c in points],
            [c.aggregate_Bps / MIB for c in points],
            color=styles.colours[workers],
            ls=ls,
            marker=marker,
            ms=5,
            lw=1.6,
        )
    failed = [c for c in panel if c.failed]
    if failed:
        ax.scatter(
            [c.client_workers for c in failed],
            [c.aggregate_Bps / MIB for c in failed],
            marker="x",
            color="red",
            s=90,
            linewidths=2.2,
            zorder=5,
        )
    if not panel:
        ax.text(0.5, 0.5, "no cases", transform=ax.transAxes, ha="center", color="grey")


def _plot_references(ax: Any, refs: Sequence[_Reference], top: float) -> None:
    """Dashed grey lines. Lines closer than a label's height share one label, so every
    label sits right above the lines it names."""
    gap = top * 0.05
    groups: list[list[_Reference]] = []
    for ref in sorted(refs, key=lambda r: r.mib_s):
        ax.axhline(ref.mib_s, color="grey", ls="--", lw=1, zorder=1)
        if groups and ref.mib_s - groups[-1][-1].mib_s < gap:
            groups[-1].append(ref)
        else:
            groups.append([ref])
    for group in groups:
        # Left edge: one client moves the least data, so curves are lowest there; the
        # translucent box keeps the label readable if a curve crosses it anyway.
        ax.text(
            0.015,
            group[-1].mib_s,
            _reference_label(group),
            transform=ax.get_yaxis_transform(),
            ha="left",
            va="bottom",
            fontsize=8,
            color="dimgrey",
            zorder=6,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.75, "pad": 1},
        )


def _format_axes(ax: Any, ticks: list[int], top: float) -> None:
    """Shared by every panel (sharex/sharey): log x with the real worker counts as ticks."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[str(t) for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(ticks[0] / 1.5, ticks[-1] * 1.5)
    ax.set_ylim(0, top)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    for panel in ax.figure.axes:
        panel.grid(True, alpha=0.3)


def _off_scale_note(figure: Any, off_scale: Sequence[_Reference]) -> float:
    """List references far above every case under the chart; returns the space it takes."""
    if not off_scale:
        return 0.0
    text = "Not drawn (far above every case): " + ", ".join(
        _reference_label([ref]) for ref in off_scale
    )
    figure.text(0.01, 0.01, text, fontsize=8, color="dimgrey", ha="left", va="bottom")
    return 0.035
