"""The building blocks of the report's HTML pages (the run's report and a server trace's
page): the one style sheet, escaping, tables, figures with PNG ``data:`` URIs."""

from __future__ import annotations

import base64
import html
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       margin: 0 auto; max-width: 1180px; padding: 0 1.5em 3em; color: #1d1d1f; }
h1 { margin: 0.8em 0 0.1em; font-size: 1.7em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
h3 { margin: 1.4em 0 0.4em; }
.sub { color: #666; margin: 0 0 1em; }
nav a { margin-right: 1em; }
.findings li { margin: 0.3em 0; }
table { border-collapse: collapse; margin: 0.4em 0 0.8em; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; }
th { background: #f3f4f6; text-align: center; }
td { text-align: right; font-variant-numeric: tabular-nums; }
td.text { text-align: left; }
tr.marked td { background: #fff3f0; }
.notes { color: #8a1c00; font-size: 13px; }
.legend { color: #555; font-size: 13px; max-width: 60em; }
figure { margin: 1em 0 1.8em; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 13px; }
dl.machine { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.machine dt { color: #555; }
dl.machine dd { margin: 0; }
code { white-space: nowrap; font-size: 0.92em; }
pre { background: #f6f8fa; padding: 0.8em 1em; overflow-x: auto; font-size: 13px; }
"""


def escape(text: object) -> str:
    return html.escape(str(text), quote=True)


def with_code(text: str) -> str:
    """Escaped text with command-line options as code, kept on one line."""
    # An option with its value: a number, or a comma-separated list (of kinds).
    return re.sub(
        r"(--[a-z][\w-]*(?: (?:\d+|[a-z]+(?:,[a-z]+)+))?)", r"<code>\1</code>", escape(text)
    )


def png_uri(draw: Callable[[Path], None]) -> str:
    with tempfile.TemporaryDirectory(prefix="fileproto-report-") as folder:
        path = Path(folder) / "chart.png"
        draw(path)
        data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"data:image/png;base64,{data}"


def figure(uri: str, alt: str, caption: str, css_class: str, anchor: str = "") -> str:
    at = f' id="{escape(anchor)}"' if anchor else ""
    return (
        f'<figure class="{css_class}"{at}><img src="{uri}" alt="{escape(alt)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], marked: Sequence[bool],
    text_columns: frozenset[str], css_class: str,
) -> str:  # fmt: skip
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row, mark in zip(rows, marked, strict=True):
        cells = "".join(
            f'<td class="text">{escape(cell)}</td>'
            if h in text_columns
            else f"<td>{escape(cell)}</td>"
            for h, cell in zip(headers, row, strict=True)
        )
        body.append(f'<tr class="marked">{cells}</tr>' if mark else f"<tr>{cells}</tr>")
    return (
        f'<table class="{css_class}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
