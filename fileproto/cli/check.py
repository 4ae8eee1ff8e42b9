"""``fileproto check HOST:PORT [HOST:PORT ...]``: the conformance catalogue against servers.

Exit status: 0 when no MUST was broken (with --strict: and no SHOULD), 1 when one was,
2 for a usage error or a server that cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from fileproto.client import parse_address
from fileproto.conformance.model import Outcome, Rule, Target
from fileproto.conformance.reports import (
    TargetReport,
    as_json,
    render_html,
    render_list,
    render_markdown,
    render_terminal,
)
from fileproto.conformance.rules import CATALOGUE
from fileproto.conformance.runner import (
    DEFAULT_TIMEOUT,
    Runner,
    Unreachable,
    check_reachable,
    new_prefix,
    select_rules,
)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

DESCRIPTION = """\
Check servers against the fileproto protocol (docs/protocol.md): every rule of the
catalogue is run over raw sockets, and reported PASS, FAIL (a MUST is broken),
NON-STRICT (a SHOULD is broken), UNSUPPORTED (an optional feature, such as a dialect or
an alias, is absent) or INFO (an observation). Each run names its files with a random
prefix and deletes them afterwards, so it can run against a server in use, and two runs
at once do not disturb each other."""

EPILOG = """\
exit status: 0 when no MUST rule failed (with --strict: and no SHOULD rule either),
1 when one did, 2 for a usage error or a server that cannot be reached.

examples:
  fileproto check 127.0.0.1:45000
  fileproto check 127.0.0.1:45000 127.0.0.1:45001 --label ours --label theirs --md matrix.md
  fileproto check localhost:45000 --only 'names.*' --root ./files
  fileproto check --list"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fileproto check",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "targets",
        nargs="*",
        metavar="HOST:PORT",
        help="servers to check, one column each in the reports ([v6]:PORT for IPv6)",
    )
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        metavar="NAME",
        help="a name for a target in the reports; give once per target, in the same order "
        "(default: its address)",
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="the root folder of a server running on this machine, once per target in "
        "order ('-' for none): names that escape it are then also looked for on disk",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="count NON-STRICT (a broken SHOULD) as a failure for the exit status",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="GLOB",
        help="run only rules whose id matches, e.g. 'names.*' (repeatable)",
    )
    parser.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="GLOB",
        help="skip rules whose id matches, e.g. 'concurrency.*' (repeatable)",
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="print the catalogue (id, level, section, requirement) without connecting",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="S",
        help="seconds to wait for each connection and response (default: %(default)s)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the JSON report here")
    parser.add_argument("--md", metavar="FILE", help="write the Markdown matrix here")
    parser.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page (rules x servers) here"
    )
    return parser


def _targets(parser: argparse.ArgumentParser, args: argparse.Namespace) -> list[Target]:
    if len(args.label) > len(args.targets):
        parser.error(f"{len(args.label)} --label for {len(args.targets)} target(s)")
    if len(args.root) > len(args.targets):
        parser.error(f"{len(args.root)} --root for {len(args.targets)} target(s)")
    targets = []
    for index, text in enumerate(args.targets):
        try:
            host, port = parse_address(text)
        except ValueError as exc:
            parser.error(str(exc))
        label = args.label[index] if index < len(args.label) else ""
        root_text = args.root[index] if index < len(args.root) else "-"
        root = None if root_text == "-" else Path(root_text)
        if root is not None and not root.is_dir():
            parser.error(f"--root {root_text}: not a folder")
        targets.append(Target(host, port, label, root))
    labels = [t.name for t in targets]
    if len(set(labels)) != len(labels):
        parser.error("two targets have the same label; give each its own --label")
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rules = select_rules(CATALOGUE, args.only, args.exclude)
    if not rules:
        parser.error("--only/--exclude leave no rule to run (see --list)")
    if args.list:
        _say(render_list(rules))
        return EXIT_OK
    if not args.targets:
        parser.error("give at least one HOST:PORT to check (or --list)")
    if not args.timeout > 0:
        parser.error("--timeout must be positive")
    targets = _targets(parser, args)
    for target in targets:
        try:
            check_reachable(target, args.timeout)
        except Unreachable as exc:
            print(f"fileproto check: {exc}", file=sys.stderr)
            return EXIT_USAGE
    # The servers are checked at once (each run has its own name prefix, so even one
    # server given twice is fine); the reports come in the order given.
    reports = []
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = [pool.submit(_check, target, rules, args.timeout) for target in targets]
        for future in futures:
            report = future.result()
            reports.append(report)
            _say(render_terminal(report))
    try:
        _write_reports(args, reports)
    except OSError as exc:
        print(f"fileproto check: cannot write a report: {exc}", file=sys.stderr)
        return EXIT_USAGE
    failing = {Outcome.FAIL, Outcome.NON_STRICT} if args.strict else {Outcome.FAIL}
    broken = any(r.outcome in failing for report in reports for r in report.results)
    return EXIT_FAILED if broken else EXIT_OK


def _say(text: str) -> None:
    """Print; a reader that went away (``| head``) must not cost the report files."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (stays open until exit)


def _check(target: Target, rules: list[Rule], timeout: float) -> TargetReport:
    start = time.perf_counter()
    results = Runner(target, timeout, new_prefix()).run(rules)
    return TargetReport(target, results, time.perf_counter() - start)


def _write_reports(args: argparse.Namespace, reports: list[TargetReport]) -> None:
    if args.json:
        Path(args.json).write_text(
            json.dumps(as_json(reports), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    if args.md:
        Path(args.md).write_text(render_markdown(reports), encoding="utf-8")
    if args.html:
        Path(args.html).write_text(render_html(reports), encoding="utf-8")


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """List ``check`` in ``fileproto --help``; fileproto.cli.main hands it its arguments."""
    commands.add_parser("check", help="check servers against the protocol", add_help=False)


if __name__ == "__main__":
    sys.exit(main())
