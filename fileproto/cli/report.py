"""``fileproto report``: tables and a chart from a benchmark JSON file, or a server's
trace file read on its own (:mod:`.report_trace`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from fileproto import report
from fileproto.cli.report_trace import is_server_trace, run_trace
from fileproto.report import schedules
from fileproto.report.answer_render import (
    explained,
)
from fileproto.report.cases import Case
from fileproto.report.compose import report_markdown, report_text
from fileproto.report.html import render_html
from fileproto.report.timeline import choose as choose_cases
from fileproto.report.timeline import render_timeline_png
from fileproto.report.trace_events import render_trace_events
from fileproto.report.verdicts import document_verdicts
from fileproto.report.workers import ORDERS
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
        "--png, print the results table to stdout. Slow-client cases (pytest -m "
        "slowclients, or fileproto stress with --rate/--idle/--slowloris/--parked) get "
        "a table and a chart of their own: kind, dispatch, workers, scenario, clients "
        "completed and failed, aggregate throughput and its ratio to the links' rate, "
        "the LIST probe's latency and the time to first byte. The findings (what the "
        "data shows, in words, each with its numbers) come first. Given the file that "
        "'fileproto serve --trace FILE' writes instead, whatever the client was: per "
        "connection and per request, the time spent waiting to be accepted, queued for a "
        "worker, served, waiting for the client to send and to read, and idle, with "
        "findings in words (--png or --timeline: its timeline; --json: every connection).",
    )
    parser.add_argument(
        "json",
        metavar="RESULTS.json|TRACE.jsonl",
        help="benchmark results, or a server's trace file (docs/trace.md)",
    )
    parser.add_argument(
        "--beside",
        metavar="OTHER.json",
        action="append",
        default=[],
        help="another run of the same loads under another schedule (pytest "
        "--fileproto-schedule); repeatable. The loads the runs share under different "
        "schedules are shown side by side: probe latency, mean and spread of the "
        "clients' times, the mean against fifo's, findings in words; with --html, the "
        "page with every case's timeline (docs/architecture.md, Scheduling)",
    )
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
        help="write one CSV row per case (plain numbers, for spreadsheets and scripts); "
        "slow-client cases go to a second file beside it, FILE's name with -slowclients "
        "(results.csv: results-slowclients.csv), with their own columns",
    )
    parser.add_argument(
        "--png",
        metavar="FILE",
        type=Path,
        help="write a chart of aggregate throughput against client workers "
        '(needs matplotlib: pip install "fileproto[report]"); slow-client cases get a '
        "chart of LIST p99 and aggregate throughput per model and scenario, written "
        "beside it as FILE's name with -slowclients (results.png: "
        "results-slowclients.png)",
    )
    parser.add_argument(
        "--html",
        metavar="FILE",
        type=Path,
        help="write one self-contained HTML page: findings, tables, charts, slow clients, "
        "timelines of the telling cases, the machine and the commands that reproduce it",
    )
    parser.add_argument(
        "--trace-events",
        metavar="FILE",
        type=Path,
        help="write the cases' timelines in the Chrome Trace Event format (open it in "
        "ui.perfetto.dev or chrome://tracing): one process per case, a track per client "
        "and per server worker",
    )
    parser.add_argument(
        "--timeline",
        metavar="DIR",
        type=Path,
        help="write a timeline PNG per chosen case into DIR (CASE.png): a row per client, "
        "coloured by phase, the worker that served it marked",
    )
    parser.add_argument(
        "--json",
        dest="report_json",
        metavar="FILE",
        type=Path,
        help="for a server trace: write each connection as one JSON object (conn, peer, "
        "total_s and the seconds of each phase: accept_wait_s, queued_s, served_s, "
        "client_send_s, client_read_s, idle_s; and its requests)",
    )
    parser.add_argument(
        "--order",
        choices=ORDERS,
        default="service",
        help="the order of the client rows in --timeline and of the client tracks in "
        "--trace-events: 'service' (the default) groups them by the server worker that "
        "first served them, each worker's in the order it took them; 'connect' in the "
        "order the clients began to connect",
    )
    parser.add_argument(
        "--case",
        metavar="ID",
        action="append",
        default=[],
        help="a case for --timeline and --trace-events, by its id "
        "(thread-UPLOAD-10MiB-c50-w1) or benchmark name; repeatable (default: for "
        "--timeline the most clients on 1 and 5 workers of each kind, for --trace-events "
        "every case)",
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
        if is_server_trace(args.json):
            return run_trace(args)
    except OSError as exc:
        return _fail(f"cannot read {args.json}: {exc.strerror or exc}")
    if args.report_json is not None:
        return _fail("--json is for a server trace; benchmark results are JSON already")
    if args.beside:
        return _run_beside(args)
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
    classic, slow = report.split(cases)
    views = report.load_cases(document)
    wanted = (args.md, args.csv, args.png, args.html, args.trace_events, args.timeline)
    verdicts = document_verdicts(document, [c.result for c in views])
    answer = explained(document, views, verdicts)
    if all(path is None for path in wanted):
        _print_text(report_text(views, verdicts, answer))
        return 0
    outputs: list[tuple[Path | None, Callable[[Path], None]]] = [
        (
            args.md,
            lambda p: _write(p, report_markdown(views, verdicts, answer), "Markdown tables"),
        ),
        (args.html, lambda p: _write(p, render_html(document), "HTML report")),
        (args.trace_events, lambda p: _write_trace(p, views, args.case, args.order)),
    ]
    if classic:
        outputs += [
            (args.csv, lambda p: _write(p, report.render_csv(classic), "CSV")),
            (args.png, lambda p: _write_png(p, classic, references)),
        ]
    if slow:
        outputs += [
            (
                args.csv and report.slow_sibling(args.csv),
                lambda p: _write(p, report.render_slow_csv(slow), "slow-client CSV"),
            ),
            (args.png and report.slow_sibling(args.png), lambda p: _write_slow_png(p, slow)),
        ]
    if args.timeline is not None:
        outputs.append((args.timeline, lambda p: _write_timelines(p, views, args.case, args.order)))
    timelines_wanted = args.trace_events is not None or args.timeline is not None
    if timelines_wanted and not any(c.has_timeline for c in views):
        # Say why before writing anything: nothing in this run can be drawn as a timeline.
        return _fail(
            f"{args.json} has no timelines, so there is nothing for --trace-events or "
            "--timeline to show: its cases were recorded without them (a run saved before "
            "runs recorded a timeline per case). A run of this version records them: "
            "pytest -m full --benchmark-json=FILE"
        )
    for path, write in outputs:
        if path is None:
            continue
        try:
            if path != args.timeline:
                # A folder named for the output that does not exist yet is made, as
                # --timeline DIR makes its own.
                path.parent.mkdir(parents=True, exist_ok=True)
            write(path)
        except OSError as exc:
            return _fail(f"cannot write {path}: {exc.strerror or exc}", 1)
        except RuntimeError as exc:  # matplotlib is missing
            return _fail(str(exc), 1)
        except ValueError as exc:  # nothing to draw: no timelines, unknown cases
            return _fail(str(exc))
    return 0


def _run_beside(args: argparse.Namespace) -> int:
    """Runs of the same loads under different schedules, side by side."""
    sources = [args.json, *args.beside]
    runs = []
    for source in sources:
        try:
            runs.append(report.load_cases(report.load_document(source)))
        except OSError as exc:
            return _fail(f"cannot read {source}: {exc.strerror or exc}")
        except ValueError as exc:
            return _fail(f"{source}: {exc}")
    found = schedules.loads(runs)
    if not found:
        return _fail("the runs share no load under two schedules (record them with pytest "
                     "--fileproto-schedule NAME)")  # fmt: skip
    if args.html is None:
        for load in found:
            print(load.title)
            for side in load.sides:
                print("  " + "  ".join(schedules.row(load, side)))
            for line in schedules.findings(load):
                print("  - " + line)
        return 0
    try:
        args.html.parent.mkdir(parents=True, exist_ok=True)
        page = schedules.render_schedules_html(runs, [str(s) for s in sources])
        _write(args.html, page, "schedules side by side")
    except OSError as exc:
        return _fail(f"cannot write {args.html}: {exc.strerror or exc}", 1)
    except RuntimeError as exc:  # matplotlib is missing
        return _fail(str(exc), 1)
    return 0


def _write_trace(path: Path, views: list[Case], wanted: list[str], order: str) -> None:
    if wanted:
        chosen, unknown = choose_cases(views, wanted)
        if unknown:
            raise ValueError(_unknown(unknown, views))
        views = chosen
    trace = render_trace_events(views, order=order)
    path.write_text(json.dumps(trace, separators=(",", ":")) + "\n", encoding="utf-8")
    shown = sum(1 for e in trace["traceEvents"] if e.get("name") == "process_name")
    print(f"wrote the timelines of {shown} case(s) as Chrome trace events to {path}")


def _unknown(names: list[str], views: list[Case]) -> str:
    known = ", ".join(c.id for c in views[:3])
    return f"no case {', '.join(names)} in the run (cases are named like {known})"


def _write_timelines(folder: Path, views: list[Case], wanted: list[str], order: str) -> None:
    chosen, unknown = choose_cases(views, wanted)
    if unknown:
        raise ValueError(_unknown(unknown, views))
    drawable = [c for c in chosen if c.requests]
    for case in chosen:
        if not case.requests:
            print(f"case {case.id} has no timeline: skipped", file=sys.stderr)
    if not drawable:
        raise ValueError("none of the chosen cases has a timeline (this run recorded none)")
    folder.mkdir(parents=True, exist_ok=True)
    for case in drawable:
        render_timeline_png(case, folder / f"{case.id}.png", order=order)
        print(f"wrote timeline to {folder / f'{case.id}.png'}")


def _write_png(path: Path, cases: list[LoadResult], references: list[dict[str, object]]) -> None:
    report.render_png(cases, path, references=references)
    print(f"wrote chart to {path}")


def _write_slow_png(path: Path, cases: list[LoadResult]) -> None:
    report.render_slow_png(cases, path)
    print(f"wrote slow-client chart to {path}")
