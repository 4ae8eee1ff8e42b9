"""``fileproto check HOST:PORT [--label NAME] [HOST:PORT ...]``: the conformance catalogue
against servers, in the fileproto or the classic profile.

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
from fileproto.conformance.classic import DEFAULT_PROFILE, PROFILES
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
Check servers against the fileproto protocol (docs/protocol.md) or, with --profile
classic, against the classic exercise's protocol text (docs/classic-protocol.md): every
rule of the catalogue is run over raw sockets, and reported PASS, FAIL (a requirement of
the profile is broken), NON-STRICT (a SHOULD, or a requirement the profile does not make,
is broken), BLOCKED (not checked: a prerequisite rule failed), UNSUPPORTED (an optional
feature, such as a dialect or an alias, is absent) or INFO (an observation). Each run
names its files with a random prefix and deletes them afterwards, also in whatever form
the server stored them, so it can run against a server in use, and two runs at once do
not disturb each other."""

EPILOG = """\
exit status: 0 when no MUST rule failed (with --strict: and no SHOULD rule either),
1 when one did, 2 for a usage error or a server that cannot be reached.

examples:
  fileproto check 127.0.0.1:45000
  fileproto check 127.0.0.1:45000 --label ours 127.0.0.1:45001 --label theirs --md matrix.md
  fileproto check 127.0.0.1:45000 --profile classic     # grade a classroom server
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
        help="a name for the target it follows in the reports (or, all given after the "
        "targets, one per target in order; default: its address)",
    )
    parser.add_argument(
        "--root",
        action="append",
        default=[],
        metavar="DIR",
        help="the root folder of a server running on this machine ('-' for none), after "
        "its target like --label: names that escape it are then also looked for on disk",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILES,
        action="append",
        default=[],
        help="the rules to hold: 'fileproto' (docs/protocol.md, the default) or 'classic' "
        "(the classic exercise's text plus safety; our stricter rules are NON-STRICT "
        "there, never FAIL); give both for both reports from one run",
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
        help="print the catalogue (id, level, section, profiles, requirement) without connecting",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds to wait for each connection and response (default: %(default)s)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the JSON report here")
    parser.add_argument("--md", metavar="FILE", help="write the Markdown matrix here")
    parser.add_argument(
        "--html", metavar="FILE", help="write a self-contained HTML page (rules x servers) here"
    )
    return parser


def _attached(argv: list[str], parser: argparse.ArgumentParser, option: str) -> list[int]:
    """For each ``option`` in argv, how many targets come before it."""
    valued = {
        o
        for action in parser._actions
        if action.option_strings and action.nargs is None
        for o in action.option_strings
    }
    before, seen, skip = [], 0, False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if name == option:
            before.append(seen)
        if token.startswith("-") and token != "-":
            skip = name in valued and "=" not in token
            continue
        seen += 1
    return before


def _per_target(
    parser: argparse.ArgumentParser, argv: list[str], option: str, values: list[str], count: int
) -> list[str | None]:
    """Values of ``option`` by target: each follows its target, or (the older form) all
    come after every target, one per target in order."""
    before = _attached(argv, parser, option)
    if len(before) != len(values):  # argv was not what was parsed; keep the order
        before = [count] * len(values)
    out: list[str | None] = [None] * count
    if all(b == count for b in before):
        if len(values) > count:
            parser.error(f"{len(values)} {option} for {count} target(s)")
        out[: len(values)] = values
        return out
    for b, value in zip(before, values, strict=True):
        if b == 0:
            parser.error(f"{option} {value}: give it after the target it is for")
        if out[b - 1] is not None:
            parser.error(f"two {option} for target {b}; give one after each target")
        out[b - 1] = value
    return out


def _targets(
    parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str]
) -> list[Target]:
    count = len(args.targets)
    labels = _per_target(parser, argv, "--label", args.label, count)
    roots = _per_target(parser, argv, "--root", args.root, count)
    targets = []
    for index, text in enumerate(args.targets):
        try:
            host, port = parse_address(text)
        except ValueError as exc:
            parser.error(str(exc))
        root_text = roots[index] or "-"
        root = None if root_text == "-" else Path(root_text)
        if root is not None and not root.is_dir():
            parser.error(f"--root {root_text}: not a folder")
        targets.append(Target(host, port, labels[index] or "", root))
    names = [t.name for t in targets]
    if len(set(names)) != len(names):
        parser.error("two targets have the same label; give each its own --label")
    return targets


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Intermixed: a --label (or --root) may follow each target.
    args = parser.parse_intermixed_args(argv)
    rules = select_rules(CATALOGUE, args.only, args.exclude)
    if not rules:
        parser.error("--only/--exclude leave no rule to run (see --list)")
    if args.list:
        _say(render_list(rules, (args.profile or [DEFAULT_PROFILE])[0]))
        return EXIT_OK
    if not args.targets:
        parser.error("give at least one HOST:PORT to check (or --list)")
    if not args.timeout > 0:
        parser.error("--timeout must be positive")
    targets = _targets(parser, args, argv)
    for target in targets:
        try:
            check_reachable(target, args.timeout)
        except Unreachable as exc:
            print(f"fileproto check: {exc}", file=sys.stderr)
            return EXIT_USAGE
    # The servers are checked at once (each run has its own name prefix, so even one
    # server given twice is fine); the reports come in the order given.
    profiles = list(dict.fromkeys(args.profile)) or [DEFAULT_PROFILE]
    reports = []
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        futures = [pool.submit(_check, target, rules, args.timeout, profiles) for target in targets]
        for future in futures:
            for report in future.result():
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


def _check(
    target: Target, rules: list[Rule], timeout: float, profiles: list[str]
) -> list[TargetReport]:
    """One run of the rules against ``target``, judged in each profile."""
    start = time.perf_counter()
    runner = Runner(target, timeout, new_prefix(), profiles[0])
    judged = [(profile, runner.run(rules, profile=profile)) for profile in profiles]
    leftovers = runner.sweep()
    seconds = time.perf_counter() - start
    several = len(profiles) > 1
    return [
        TargetReport(target, results, seconds, profile, leftovers, several)
        for profile, results in judged
    ]


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
