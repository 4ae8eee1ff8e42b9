"""Turn benchmark results into tables (Markdown, text, CSV) and a throughput chart.

Input is the JSON written by ``pytest --benchmark-json`` or by ``fileproto stress --json``
(read by :mod:`fileproto.results.document`). :mod:`.order` sorts and names the cases
(and says which kinds ran), :mod:`.units` says every figure in one unit per quantity,
:mod:`.tables` renders the classic tables, :mod:`.chart` draws the PNG. Slow-client
cases (those with a scenario) have a table and a chart of their own (:mod:`.slow`,
:mod:`.slowchart`); :func:`split` tells the two apart. :mod:`.cases` reads the cases
with their timelines; from them :mod:`.findings` says what the run shows in words,
:mod:`.trace_events` writes the Chrome Trace Event form, :mod:`.timeline` draws a case's
timeline (both with :mod:`.workers`, the rows by worker, and :mod:`.probes`, the LIST
probes), :mod:`.compose` puts the text and Markdown in order, and :mod:`.html` puts
everything on one self-contained page. Every output
leads with the answer: :mod:`.answer` (which model and worker count suits which load) and
:mod:`.why` (queued against served), rendered by :mod:`.answer_render`, from the run's
verdicts as :mod:`.verdicts` reads them. Everything is a
pure function of its input, except the ``render_*png`` functions, which write one file
each.
"""

from pathlib import Path

from fileproto.report.cases import Case, load_cases
from fileproto.report.chart import render_png
from fileproto.report.order import kind_label, kind_order, sort_results
from fileproto.report.slow import (
    SLOW_CSV_COLUMNS,
    SLOW_HEADERS,
    is_slow,
    model_label,
    render_slow_csv,
    render_slow_markdown,
    render_slow_text,
    sort_slow,
    split,
)
from fileproto.report.slowchart import render_slow_png
from fileproto.report.tables import (
    CSV_COLUMNS,
    HEADERS,
    MARK,
    render_csv,
    render_markdown,
    render_text,
)
from fileproto.results import LoadResult
from fileproto.results.document import (
    LIMIT_KEY,
    Source,
    load_document,
    load_references,
    load_results,
)

__all__ = [
    "CSV_COLUMNS",
    "HEADERS",
    "LIMIT_KEY",
    "MARK",
    "SLOW_CSV_COLUMNS",
    "SLOW_HEADERS",
    "Case",
    "LoadResult",
    "Source",
    "is_slow",
    "kind_label",
    "kind_order",
    "load_cases",
    "load_document",
    "load_references",
    "load_results",
    "model_label",
    "render_csv",
    "render_markdown",
    "render_png",
    "render_slow_csv",
    "render_slow_markdown",
    "render_slow_png",
    "render_slow_text",
    "render_text",
    "slow_sibling",
    "sort_results",
    "sort_slow",
    "split",
]


def slow_sibling(path: Path) -> Path:
    """Where the slow-client CSV or chart goes beside the classic one:
    results.png -> results-slowclients.png."""
    return path.with_name(f"{path.stem}-slowclients{path.suffix}")
