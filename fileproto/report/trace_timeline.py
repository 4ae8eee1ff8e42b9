"""A server trace's timeline as a PNG: a row per connection, coloured by what it was
waiting for (:mod:`.connections`), from the trace's own events alone."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from fileproto.report.connections import CONNECTION_PHASES, ConnectionPhases
from fileproto.report.phases import CLIENT_READING, CLIENT_SENDING, IDLE
from fileproto.report.timeline import COLOURS as CASE_COLOURS
from fileproto.report.timeline import PREEMPTED_MARK
from fileproto.report.trace_analysis import TraceAnalysis, longest

#: The phases a case's timeline has too keep its colours; the trace's own ones added.
COLOURS = {
    **CASE_COLOURS,
    CLIENT_SENDING: "#b07aa1",
    CLIENT_READING: "#59a14f",
    IDLE: "#ece8e0",
}
#: Rows drawn at most (the longest connections); the rest are counted in a note.
ROWS = 120


def _label(conn: ConnectionPhases) -> str:
    commands = [r.cmd or "?" for r in conn.requests]
    text = ", ".join(commands[:3]) + (f" +{len(commands) - 3}" if len(commands) > 3 else "")
    if conn.refused:
        text = "refused"
    elif conn.deadline:
        text += f" ({conn.deadline} deadline)"
    elif conn.open:
        text += " (open)"
    return text


def render_trace_timeline_png(analysis: TraceAnalysis, path: str | os.PathLike[str]) -> None:
    """Draw the trace's connections; ValueError if it has none."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError(
            'drawing a timeline needs matplotlib: pip install "fileproto[report]"'
        ) from None
    if not analysis.connections:
        raise ValueError(f"{analysis.path} has no connection to draw")
    rows = longest(analysis.connections, ROWS)
    origin = min(0.0, *(c.start for c in rows))
    end = max(c.end for c in rows) - origin
    figure = Figure(figsize=(11, max(3.2, 1.7 + 0.16 * len(rows))), dpi=110)
    FigureCanvasAgg(figure)
    ax = figure.subplots(1, 1)
    for y, conn in enumerate(rows):
        for phase in CONNECTION_PHASES:
            bars = [(s.start - origin, s.end - s.start) for s in conn.segments if s.phase == phase]
            if bars:
                ax.broken_barh(bars, (y - 0.4, 0.8), facecolors=COLOURS[phase])
        if conn.preempted:
            ticks_at = [at - origin for at, _ in conn.preempted]
            ax.plot(ticks_at, [y] * len(ticks_at), ls="", **PREEMPTED_MARK)
        ax.text(conn.end - origin + end * 0.005, y, _label(conn), va="center", fontsize=6,
                color="#333")  # fmt: skip
    ax.set_ylim(len(rows) - 0.4, -0.6)
    step = max(1, -(-len(rows) // 80))
    ticks = list(range(0, len(rows), step))
    size = 7 if len(rows) <= 30 else 6 if len(rows) <= 60 else 5
    ax.set_yticks(ticks, labels=[f"conn {rows[i].conn}" for i in ticks], fontsize=size)
    ax.set_ylabel("connections, in the order they began", fontsize=8)
    ax.set_xlim(0, end * 1.12 or 1.0)
    ax.set_xlabel("seconds from the trace's first event", fontsize=8)
    ax.grid(True, axis="x", alpha=0.3)
    figure.suptitle(f"server trace {analysis.path.name}: {len(analysis.connections)} "
                    "connections, from the server's events alone", fontsize=11, x=0.01,
                    ha="left")  # fmt: skip
    present = {s.phase for c in rows for s in c.segments}
    _legend(ax, [p for p in CONNECTION_PHASES if p in present],
            any(c.preempted for c in rows))  # fmt: skip
    notes = []
    if len(rows) < len(analysis.connections):
        notes.append(f"the {len(rows)} longest of {len(analysis.connections)} connections")
    if any(c.segments_dropped for c in rows):
        notes.append("some stretches of the longest connections not drawn")
    if notes:
        figure.text(0.99, 0.005, "; ".join(notes), ha="right", va="bottom", fontsize=7,
                    color="dimgrey")  # fmt: skip
    figure.tight_layout()
    figure.savefig(os.fspath(path), format="png")


def _legend(ax: Any, phases: Sequence[str], preempted: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles: list[Any] = [Patch(facecolor=COLOURS[p], edgecolor="#999", linewidth=0.5,
                                label=p) for p in phases]  # fmt: skip
    if preempted:
        handles.append(Line2D([], [], ls="", label="preempted", **PREEMPTED_MARK))
    ax.legend(
        handles=handles,
        loc="lower left",
        bbox_to_anchor=(0.0, 1.0),
        ncol=min(len(handles), 7),
        fontsize=7,
        frameon=False,
        title="each row one connection; the text after a row: its requests",
        title_fontsize=7,
        alignment="left",
    )
