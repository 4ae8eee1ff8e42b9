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
    """Aggregate throughput against client workers (:func:`chart_figure`), as a PNG."""
    chart_figure(cases, references=references).savefig(os.fspath(path), format="png", dpi=120)


def chart_figure(
    cases: Iterable[LoadResult], *, references: Iterable[Mapping[str, Any]] = ()
) -> Any:
    """One panel per server kind (rows) and operation (columns), one line per (server
    workers, size). Failed cases get a red x; references (``load_references``) become
    dashed grey lines. Each panel has its own y-range, from 0 to a little above its
    highest case: against a slow server, uploads at 1.5 MiB/s beside downloads at 150
    would be a flat line on a shared one. A reference far above a panel's cases is
    listed under the chart instead of drawn there."""
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
    grid = figure.subplots(len(kinds), len(operations), squeeze=False, sharex=True)
    styles = _Styles(cases)
    refs = _references(references)
    drawn: set[_Reference] = set()
    #: Per reference, the panels it would flatten, where it is not drawn.
    left_out: dict[_Reference, list[str]] = {}
    for row, kind in enumerate(kinds):
        for col, operation in enumerate(operations):
            ax = grid[row][col]
            panel = [c for c in cases if c.server_kind == kind and c.operation == operation]
            _plot_panel(ax, panel, styles)
            highest = max((c.aggregate_Bps / MIB for c in panel), default=0.0)
            mine = [r for r in refs if r.operation in (None, operation)]
            shown = [r for r in mine if r.mib_s <= highest * _OFF_SCALE]
            drawn.update(shown)
            for ref in mine:
                if ref not in shown:
                    left_out.setdefault(ref, []).append(f"{kind_label(kind)} {operation}")
            top = max([highest, *(r.mib_s for r in shown)]) * 1.12 or 1.0
            _plot_references(ax, shown, top)
            ax.set_ylim(0, top)
            _y_labels(ax, top)
            ax.set_title(f"{kind_label(kind)} — {operation}")
            if row == len(kinds) - 1:
                ax.set_xlabel("client workers")
            if col == 0:
                ax.set_ylabel("aggregate throughput (MiB/s)")
    _format_axes(grid[0][0], sorted({c.client_workers for c in cases}))
    legend_right = styles.legend(figure, any(c.failed for c in cases), bool(drawn))
    panels = len(kinds) * len(operations)
    bottom = _off_scale_note(figure, left_out, panels)
    figure.tight_layout(rect=(0, bottom, legend_right, 1))
    return figure


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


def _format_axes(ax: Any, ticks: list[int]) -> None:
    """Shared by every panel (sharex): log x with the real worker counts as ticks; each
    panel's own y-range, labelled with as many decimals as its scale needs."""
    from matplotlib.ticker import NullLocator

    ax.set_xscale("log")
    ax.set_xticks(ticks, labels=[str(t) for t in ticks])
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xlim(ticks[0] / 1.5, ticks[-1] * 1.5)
    for panel in ax.figure.axes:
        panel.grid(True, alpha=0.3)


def _y_labels(ax: Any, top: float) -> None:
    """Thousands separated, with the decimals a small range needs (0.5, 1.0, 1.5)."""
    from matplotlib.ticker import FuncFormatter

    decimals = 0 if top >= 10 else 1 if top >= 1 else 2
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.{decimals}f}"))


def _off_scale_note(figure: Any, left_out: Mapping[_Reference, list[str]], panels: int) -> float:
    """Name the references left out of a panel (far above its cases) under the chart;
    returns the space it takes."""
    if not left_out:
        return 0.0
    parts = []
    for ref, where in left_out.items():
        place = "" if len(where) == panels else f" in {', '.join(where)}"
        parts.append(f"{_reference_label([ref])}{place}")
    text = "Not drawn (far above the cases of the panel): " + "; ".join(parts)
    figure.text(0.01, 0.01, text, fontsize=8, color="dimgrey", ha="left", va="bottom")
    return 0.035
