"""``fileproto report TRACE.jsonl``: a server's trace file read on its own (docs/trace.md,
"A trace read on its own"), whatever the client was."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from fileproto.report.trace_analysis import TraceAnalysis, analyse
from fileproto.report.trace_page import (
    render_trace_csv,
    render_trace_html,
    render_trace_markdown,
    render_trace_text,
)
from fileproto.report.trace_timeline import render_trace_timeline_png
from fileproto.results.server_trace import is_server_trace

#: Exit code for input the command cannot use (as ``fileproto report``'s).
BAD_INPUT = 2

__all__ = ["is_server_trace", "run_trace"]


def _fail(message: str, code: int = BAD_INPUT) -> int:
    print(f"fileproto report: {message}", file=sys.stderr)
    return code


def _write(path: Path, text: str, what: str) -> None:
    path.write_text(text, encoding="utf-8")
    print(f"wrote {what} to {path}")


def _png(path: Path, analysis: TraceAnalysis) -> None:
    render_trace_timeline_png(analysis, path)
    print(f"wrote the trace's timeline to {path}")


def run_trace(args: argparse.Namespace) -> int:
    """Render the trace; 0 on success, 2 if it is unusable, 1 if a write fails."""
    if args.trace_events is not None or args.case:
        return _fail("--trace-events and --case are for benchmark results, not a server trace")
    try:
        analysis = analyse(args.json)
    except OSError as exc:
        return _fail(f"cannot read {args.json}: {exc.strerror or exc}")
    except ValueError as exc:
        return _fail(str(exc))
    outputs: list[tuple[Path | None, Callable[[Path], None]]] = [
        (args.md, lambda p: _write(p, render_trace_markdown(analysis), "Markdown")),
        (args.csv, lambda p: _write(p, render_trace_csv(analysis), "CSV")),
        (args.html, lambda p: _write(p, render_trace_html(analysis), "HTML report")),
        (args.png, lambda p: _png(p, analysis)),
        (args.timeline and args.timeline / f"{Path(args.json).stem}.png",
         lambda p: _png(p, analysis)),
        (args.report_json, lambda p: _write(p, json.dumps(analysis.as_dict(), indent=1) + "\n",
                                            "the connections as JSON")),
    ]  # fmt: skip
    if all(path is None for path, _ in outputs):
        sys.stdout.write(render_trace_text(analysis))
        return 0
    for path, write in outputs:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        except OSError as exc:
            return _fail(f"cannot write {path}: {exc.strerror or exc}", 1)
        except RuntimeError as exc:  # matplotlib is missing
            return _fail(str(exc), 1)
    return 0
