"""Turn benchmark results into tables (Markdown, text, CSV) and a throughput chart.

Input is the JSON written by ``pytest --benchmark-json`` or by ``fileproto stress --json``:
both hold ``{"benchmarks": [{"name", "extra_info", ...}]}``. Matrix cases are the
benchmarks whose ``extra_info`` has an ``operation``; reference cases (``"reference":
"limit"``) are kept apart. Everything here is a pure function of its input, except
``render_png`` which writes one file.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

MIB = 1024 * 1024
#: Marks a case with failed clients or unverified files, in every table.
MARK = "⚠"
EXTERNAL = "external"

HEADERS = (
    "No",
    "Operation",
    "Size (MiB)",
    "Client Workers",
    "Server Workers",
    "Avg Time (s)",
    "Throughput (B/s)",
    "Aggregate (B/s)",
    "Client Success",
    "Client Fail",
)
CSV_COLUMNS = (
    "server_kind",
    "operation",
    "size_mib",
    "client_workers",
    "server_workers",
    "avg_time_s",
    "throughput_Bps",
    "aggregate_Bps",
    "successes",
    "failures",
    "verified",
    "server_peak_rss_bytes",
    "client_peak_rss_bytes",
)
_KIND_ORDER = ("thread", "process", EXTERNAL)
_KIND_LABELS = {"thread": "thread pool", "process": "process pool", EXTERNAL: "external server"}
_OPERATION_ORDER = ("UPLOAD", "DOWNLOAD")

Document = Mapping[str, Any]
Source = str | os.PathLike[str] | Document


@dataclass(frozen=True)
class Case:
    """One matrix case, as recorded in a benchmark's ``extra_info``."""

    name: str
    operation: str
    size_mib: int | float  # stress records fractional sizes (e.g. 0.5) with 3 decimals
    size_bytes: int
    client_workers: int
    server_workers: int | str  # an int, or "external" for a server we did not start
    server_kind: str
    method: str
    avg_time_s: float
    throughput_Bps: float
    aggregate_Bps: float
    wall_time_s: float
    successes: int
    failures: int
    verified: bool
    first_error: str | None
    server_peak_rss_bytes: int | None = None
    client_peak_rss_bytes: int | None = None

    @property
    def failed(self) -> bool:
        """True if the case gets the failure marker in the tables."""
        return self.failures > 0 or not self.verified

    @classmethod
    def from_extra_info(cls, name: str, info: Mapping[str, Any]) -> Case:
        """Build a case from one benchmark's ``extra_info``; ValueError names the benchmark
        and the fields that are missing or of the wrong type."""
        missing = [key for key in _REQUIRED if key not in info]
        if missing:
            raise ValueError(
                f"benchmark {name!r}: extra_info lacks required field(s) {', '.join(missing)}"
            )
        values: dict[str, Any] = {"name": name}
        for key, convert in (*_REQUIRED.items(), *_OPTIONAL.items()):
            raw = info.get(key)
            if raw is None and key in _NULLABLE:
                values[key] = None
                continue
            try:
                values[key] = convert(raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"benchmark {name!r}: extra_info field {key!r}: {exc}") from None
        return cls(**values)


# --- field converters: strict enough that a table never shows a wrong-looking number -----


def _int(value: Any) -> int:
    # bool is an int subclass; a JSON true where a count belongs is a producer bug.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def _float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def _size(value: Any) -> int | float:
    number = _float(value)
    return int(number) if number.is_integer() else number


def _str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def _server_workers(value: Any) -> int | str:
    if value == EXTERNAL:
        return EXTERNAL
    return _int(value)


_REQUIRED: dict[str, Callable[[Any], Any]] = {
    "operation": _str,
    "size_mib": _size,
    "size_bytes": _int,
    "client_workers": _int,
    "server_workers": _server_workers,
    "server_kind": _str,
    "method": _str,
    "avg_time_s": _float,
    "throughput_Bps": _float,
    "aggregate_Bps": _float,
    "wall_time_s": _float,
    "successes": _int,
    "failures": _int,
    "verified": _bool,
    "first_error": _str,
}
_OPTIONAL: dict[str, Callable[[Any], Any]] = {
    "server_peak_rss_bytes": _int,
    "client_peak_rss_bytes": _int,
}
#: Fields that may hold null (first_error is required but null when nothing failed).
_NULLABLE = frozenset({"first_error", *_OPTIONAL})


# --- loading ------------------------------------------------------------------------------


def load_document(source: Source) -> Document:
    """Read a benchmark JSON file (or accept an already-parsed dict) and check its shape.

    Raises OSError if the file cannot be read, ValueError if it is not a benchmark JSON.
    """
    if isinstance(source, Mapping):
        document: Any = source
        where = "benchmark data"
    else:
        where = os.fspath(source)
        raw = Path(source).read_bytes()
        try:
            document = json.loads(raw)  # detects UTF-8/16/32 like any JSON reader should
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("benchmarks"), list):
        raise ValueError(f"{where} is not a benchmark JSON: no 'benchmarks' list at the top")
    return document


def _benchmarks(document: Document) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(name, extra_info) of every benchmark; entries without extra_info yield {}."""
    for index, bench in enumerate(document["benchmarks"]):
        if not isinstance(bench, Mapping):
            raise ValueError(f"benchmarks[{index}] is not an object")
        name = str(bench.get("name") or bench.get("fullname") or f"benchmarks[{index}]")
        info = bench.get("extra_info")
        yield name, info if isinstance(info, Mapping) else {}


def load_cases(source: Source) -> list[Case]:
    """The matrix cases (benchmarks whose extra_info has an "operation"), in file order."""
    document = load_document(source)
    return [
        Case.from_extra_info(name, info)
        for name, info in _benchmarks(document)
        if "operation" in info
    ]


#: Top-level key of a benchmark JSON under which the plugin stores the limit figures
#: measured during a matrix run.
LIMIT_KEY = "fileproto_limit"


def load_references(source: Source) -> list[dict[str, Any]]:
    """The reference cases (extra_info with a "reference" key, e.g. the loopback limit),
    as copies of their extra_info with the benchmark's ``name`` added."""
    document = load_document(source)
    found = [{"name": name, **info} for name, info in _benchmarks(document) if "reference" in info]
    # A matrix run records the limit it measured alongside, under its own key.
    extra = document.get(LIMIT_KEY, [])
    if isinstance(extra, list):
        for info in extra:
            if isinstance(info, dict):
                found.append({"name": f"limit[{info.get('size_mib')}MiB]", **info})
    return found


# --- ordering and grouping ----------------------------------------------------------------


def _rank(value: str, order: Sequence[str]) -> tuple[int, str]:
    # Known values in their fixed order, anything unexpected after them, alphabetically.
    return (order.index(value), "") if value in order else (len(order), value)


def _server_workers_key(value: int | str) -> tuple[int, int]:
    return (1, 0) if isinstance(value, str) else (0, value)


def sort_cases(cases: Iterable[Case]) -> list[Case]:
    """Order by server kind, operation (UPLOAD first), size, client then server workers."""
    return sorted(
        cases,
        key=lambda c: (
            _rank(c.server_kind, _KIND_ORDER),
            _rank(c.operation, _OPERATION_ORDER),
            c.size_mib,
            c.client_workers,
            _server_workers_key(c.server_workers),
        ),
    )


def kind_label(kind: str) -> str:
    """Section title of a server kind: "thread pool", "process pool", ..."""
    return _KIND_LABELS.get(kind, kind)


def _sections(cases: Iterable[Case]) -> list[tuple[str, list[Case]]]:
    """Sorted cases split per server kind, keeping the sort order of the kinds."""
    sections: dict[str, list[Case]] = {}
    for case in sort_cases(cases):
        sections.setdefault(case.server_kind, []).append(case)
    return list(sections.items())


# --- tables -------------------------------------------------------------------------------


def _size_text(size_mib: int | float) -> str:
    return f"{size_mib:g}" if isinstance(size_mib, float) else str(size_mib)


def _row(number: int, case: Case) -> list[str]:
    fail = f"{case.failures} {MARK}" if case.failed else str(case.failures)
    return [
        str(number),
        case.operation,
        _size_text(case.size_mib),
        str(case.client_workers),
        str(case.server_workers),
        f"{case.avg_time_s:.3f}",
        f"{round(case.throughput_Bps):,}",
        f"{round(case.aggregate_Bps):,}",
        str(case.successes),
        fail,
    ]


def _problem(number: int, case: Case) -> str:
    """The footnote of a marked row: what went wrong, and the first error seen."""
    parts = []
    if case.failures:
        parts.append(f"{case.failures} of {case.successes + case.failures} clients failed")
    if not case.verified:
        parts.append("not every transferred file was verified byte for byte")
    text = (
        f"{MARK} No {number} ({case.operation} {_size_text(case.size_mib)} MiB, "
        f"{case.client_workers} client / {case.server_workers} server workers): " + "; ".join(parts)
    )
    if case.first_error:
        text += f". First error: {' '.join(case.first_error.split())}"  # keep it one line
    return text


def _md_cell(text: str) -> str:
    # A pipe or a newline inside a cell would break the table (error messages have both).
    return " ".join(text.split()).replace("|", "\\|")


# Operation reads best left-aligned; every other column is a number.
_MD_ALIGN = tuple(":---" if header == "Operation" else "---:" for header in HEADERS)


def render_markdown(cases: Iterable[Case]) -> str:
    """The classic results table, one ``### <kind>`` section per server kind."""
    blocks = []
    for kind, section in _sections(cases):
        lines = [
            f"### {kind_label(kind)}",
            "",
            "| " + " | ".join(HEADERS) + " |",
            "|" + "|".join(_MD_ALIGN) + "|",
        ]
        notes = []
        for number, case in enumerate(section, start=1):
            lines.append("| " + " | ".join(_row(number, case)) + " |")
            if case.failed:
                notes.append(f"- {_md_cell(_problem(number, case))}")
        if notes:
            lines += ["", *notes]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else "No matrix cases.\n"


def _align(rows: list[list[str]]) -> list[str]:
    """Columns padded to their widest cell; Operation left-aligned, numbers right."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEADERS))]
    return [
        "  ".join(
            cell.ljust(w) if i == 1 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in rows
    ]


def render_text(cases: Iterable[Case]) -> str:
    """The same table as plain aligned text, for terminals."""
    blocks = []
    for kind, section in _sections(cases):
        rows = [_row(number, case) for number, case in enumerate(section, start=1)]
        for row in rows:
            # The marker goes after the aligned table, so fail counts line up with the rest.
            row[-1] = row[-1].removesuffix(f" {MARK}")
        header = list(HEADERS)
        rule = ["-" * len(h) for h in HEADERS]
        title = kind_label(kind)
        table = _align([header, rule, *rows])
        table[2:] = [
            line + f" {MARK}" if case.failed else line
            for line, case in zip(table[2:], section, strict=True)
        ]
        lines = [title, "=" * len(title), *table]
        notes = [_problem(n, c) for n, c in enumerate(section, start=1) if c.failed]
        lines += ["", *notes] if notes else []
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n" if blocks else "No matrix cases.\n"


def _csv_value(value: object) -> object:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else value


def render_csv(cases: Iterable[Case]) -> str:
    """One header row, then one row per case; plain numbers, empty cell for unknown."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for case in sort_cases(cases):
        writer.writerow([_csv_value(getattr(case, column)) for column in CSV_COLUMNS])
    return out.getvalue()


# --- chart --------------------------------------------------------------------------------

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
    cases: Iterable[Case],
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
    cases = sort_cases(cases)
    if not cases:
        raise ValueError("no matrix cases to plot")
    kinds = list(dict.fromkeys(c.server_kind for c in cases))
    operations = sorted({c.operation for c in cases}, key=lambda o: _rank(o, _OPERATION_ORDER))
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
                else _size_text(_size(size)),
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

    def __init__(self, cases: Sequence[Case]) -> None:
        workers = sorted({c.server_workers for c in cases}, key=_server_workers_key)
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
            Line2D([], [], color="black", ls=ls, marker=m, label=f"{_size_text(s)} MiB")
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


def _plot_panel(ax: Any, panel: Sequence[Case], styles: _Styles) -> None:
    series: dict[tuple[int | str, int | float], list[Case]] = {}
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
