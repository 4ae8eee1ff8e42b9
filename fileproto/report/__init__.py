"""Turn benchmark results into tables (Markdown, text, CSV) and a throughput chart.

Input is the JSON written by ``pytest --benchmark-json`` or by ``fileproto stress --json``
(read by :mod:`fileproto.results.document`). :mod:`.order` sorts and names the cases,
:mod:`.tables` renders the tables, :mod:`.chart` draws the PNG. Everything is a pure
function of its input, except ``render_png`` which writes one file.
"""

from fileproto.report.chart import render_png
from fileproto.report.order import kind_label, kind_order, sort_results
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
    "LoadResult",
    "Source",
    "kind_label",
    "kind_order",
    "load_document",
    "load_references",
    "load_results",
    "render_csv",
    "render_markdown",
    "render_png",
    "render_text",
    "sort_results",
]
