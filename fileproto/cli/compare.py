"""``fileproto compare OLD.json NEW.json``: did NEW's time per client change, case by
case, beyond the noise of each run's rounds? (:mod:`fileproto.report.compare`)"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fileproto.argtypes import percent
from fileproto.report.compare import MORE_ROUNDS, Run, RunComparison, compare_runs
from fileproto.report.compare_render import render_json, render_markdown, render_text
from fileproto.results.verdict import CHANGE_MARGIN, CONFIDENCE, rounds_to_decide

#: Exit codes, as --help states them.
OK, SLOWER, TROUBLE = 0, 1, 2

_EPILOG = f"""\
verdicts (NEW against OLD, from the {CONFIDENCE:.0%} interval of the ratio NEW/OLD):
  faster     the whole interval is below 1/(1 + margin)
  slower     the whole interval is above 1 + margin
  unchanged  the whole interval is within the margin: no change beyond noise
  undecided  the interval reaches across a bound of the margin, or the rounds are too
             few for any interval ({rounds_to_decide()} in each run at least); more rounds
             narrow it: {MORE_ROUNDS}

--fail-slower PERCENT fails a case when it is slower beyond noise by more than PERCENT:
its verdict is slower and the whole interval of NEW/OLD lies above 1 + PERCENT/100, so
at {CONFIDENCE:.0%} confidence NEW takes more than PERCENT% longer than OLD. An undecided
case never fails the gate; a threshold below the margin acts as the margin.

exit status:
  0  no case failed the gate (or no gate was asked for)
  1  --fail-slower: at least one case is slower beyond noise by more than PERCENT
  2  the comparison could not be made: a file missing or not a benchmark JSON, no
     case in common, an output that cannot be written, bad options; and with
     --fail-slower, no case with enough rounds to be judged

example, two commits compared:
  git checkout OLD && pytest -m full --fileproto-rounds 6 --benchmark-json=old.json
  git checkout NEW && pytest -m full --fileproto-rounds 6 --benchmark-json=new.json
  fileproto compare old.json new.json --fail-slower 10
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``compare`` subcommand to the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "compare",
        help="compare two benchmark runs case by case: faster, slower, unchanged",
        description="Compare the time per client of every matrix case that both runs "
        "hold (the JSON of 'pytest --benchmark-json=FILE' or 'fileproto stress --json'), "
        "from the rounds of each run: the ratio NEW/OLD, its interval and a verdict. "
        "Cases in one run only are listed; the summary counts the verdicts and gives the "
        "geometric mean of the ratios. Slow-client cases are left out.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_EPILOG,
    )
    parser.add_argument("old", metavar="OLD.json", help="the run to compare against")
    parser.add_argument("new", metavar="NEW.json", help="the run that may have changed")
    parser.add_argument(
        "--markdown",
        action="store_true",
        help="print Markdown (a table and the summary, e.g. for a pull request) instead of text",
    )
    parser.add_argument(
        "--json",
        metavar="FILE",
        help="write the comparison as JSON to FILE ('-': to stdout, instead of the text): "
        "'cases' (id, verdict, ratio NEW/OLD, its interval low and high, rounds, notes), "
        "'summary', 'only_old', 'only_new', and 'gate' with --fail-slower",
    )
    parser.add_argument(
        "--fail-slower",
        metavar="PERCENT",
        type=percent,
        help="exit 1 if a case is slower beyond noise by more than PERCENT (see below)",
    )
    parser.add_argument(
        "--margin",
        metavar="PERCENT",
        type=percent,
        default=CHANGE_MARGIN * 100,
        help="changes within this are 'unchanged' (default: %(default)g; the statistics "
        "of docs/statistics.md)",
    )
    parser.set_defaults(func=run)


def _fail(message: str) -> int:
    print(f"fileproto compare: {message}", file=sys.stderr)
    return TROUBLE


def _load(path: str, side: str) -> Run:
    try:
        return Run.load(path)
    except FileNotFoundError:
        raise ValueError(f"{side} file {path} does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot read {side} file {path}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Compare, print, write; the exit status of the epilog."""
    if args.markdown and args.json == "-":
        return _fail("--markdown and --json - both want stdout: give --json a file")
    try:
        comparison = compare_runs(
            _load(args.old, "OLD"), _load(args.new, "NEW"), margin=args.margin / 100
        )
    except ValueError as exc:
        return _fail(str(exc))
    if args.json is not None:
        text = json.dumps(render_json(comparison, args.fail_slower), indent=2) + "\n"
        if args.json == "-":
            sys.stdout.write(text)
        else:
            try:
                Path(args.json).write_text(text, encoding="utf-8")
            except OSError as exc:
                return _fail(f"cannot write {args.json}: {exc.strerror or exc}")
    if args.json != "-":
        render = render_markdown if args.markdown else render_text
        sys.stdout.write(render(comparison, args.fail_slower))
    return _gate(comparison, args.fail_slower)


def _gate(comparison: RunComparison, threshold: float | None) -> int:
    if threshold is None:
        return OK
    if len(comparison.too_few_rounds()) == len(comparison.changes):
        return _fail(
            f"--fail-slower {threshold:g}: no case has rounds enough to be judged "
            f"({rounds_to_decide()} in each run at least): run both again, {MORE_ROUNDS}"
        )
    return SLOWER if comparison.slower_beyond(threshold) else OK
