"""``fileproto report``: tables and a chart from a benchmark JSON file."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from fileproto import report
from fileproto.results import LoadResult

#: Exit code for input the command cannot use (missing, unreadable or empty file).
BAD_INPUT = 2


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``report`` subcommand to the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "report",
        help="render benchmark results as tables and a chart",
        description="Read the JSON written by 'pytest --benchmark-json=FILE' or "
        "'fileproto stress --json' and render its matrix cases. Without --md, --csv or "
        "--png, print the results table to stdout.",
    )
    parser.add_argument("json", metavar="RESULTS.json", help="benchmark results to read")
    parser.add_argument(
        "--md",
        metavar="FILE",
        type=Path,
        help="write the results as Markdown tables, one section per server kind",
    )
    parser.add_argument(
        "--csv",
        metavar="FILE",
        type=Path,
        help="write one CSV row per case (plain numbers, for spreadsheets and scripts)",
    )
    parser.add_argument(
        "--png",
        metavar="FILE",
        type=Path,
        help="write a chart of aggregate throughput against client workers "
        '(needs matplotlib: pip install "fileproto[report]")',
    )
    parser.set_defaults(func=run)


def _fail(message: str, code: int = BAD_INPUT) -> int:
    print(f"fileproto report: {message}", file=sys.stderr)
    return code


def _write(path: Path, text: str, what: str) -> None:
    path.write_text(text, encoding="utf-8")
    print(f"wrote {what} to {path}")


def _print_text(text: str) -> None:
    # The failure marker is not ASCII; a terminal that cannot show it gets a "?" instead
    # of a traceback.
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(encoding, "replace").decode(encoding))


def run(args: argparse.Namespace) -> int:
    """Render the report; 0 on success, 2 if the input is unusable, 1 if a write fails."""
    try:
        document = report.load_document(args.json)
        cases = report.load_results(document)
        references = report.load_references(document)
    except OSError as exc:
        return _fail(f"cannot read {args.json}: {exc.strerror or exc}")
    except ValueError as exc:
        return _fail(str(exc))
    if not cases:
        return _fail(
            f"{args.json} has no matrix cases (no benchmark records an 'operation' "
            "in its extra_info)"
        )
    if args.md is None and args.csv is None and args.png is None:
        _print_text(report.render_text(cases))
        return 0
    outputs: list[tuple[Path | None, Callable[[Path], None]]] = [
        (args.md, lambda p: _write(p, report.render_markdown(cases), "Markdown tables")),
        (args.csv, lambda p: _write(p, report.render_csv(cases), "CSV")),
        (args.png, lambda p: _write_png(p, cases, references)),
    ]
    for path, write in outputs:
        if path is None:
            continue
        try:
            write(path)
        except OSError as exc:
            return _fail(f"cannot write {path}: {exc.strerror or exc}", 1)
        except RuntimeError as exc:  # matplotlib is missing
            return _fail(str(exc), 1)
    return 0


def _write_png(path: Path, cases: list[LoadResult], references: list[dict[str, object]]) -> None:
    report.render_png(cases, path, references=references)
    print(f"wrote chart to {path}")
