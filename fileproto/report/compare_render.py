"""A comparison of two runs (:mod:`.compare`) as aligned text, Markdown and JSON: pure
functions of the comparison and of the gate's threshold, if one was asked for."""

from __future__ import annotations

import math
import textwrap
from typing import Any

from fileproto.report.compare import CaseChange, RunComparison, median_time

#: Schema of the JSON output; a change of meaning gets a new number.
JSON_VERSION = 1

_HEADERS = ("case", "OLD ms", "NEW ms", "rounds", "NEW/OLD", "interval", "verdict")
_WIDTH = 88


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f}"


def _ratio(value: float) -> str:
    if not math.isfinite(value):
        return "-"
    # Three decimals where ratios live; far from 1 (a hand-made or broken run), digits.
    return f"{value:.3f}" if 0.01 <= value < 1000 else f"{value:.3g}"


def _interval(change: CaseChange) -> str:
    if change.too_few_rounds:
        return "none"
    return f"{_ratio(change.comparison.low)} .. {_ratio(change.comparison.high)}"


def _row(change: CaseChange) -> tuple[str, ...]:
    old_n, new_n = change.comparison.rounds
    return (
        change.id,
        _ms(median_time(change.old_times)),
        _ms(median_time(change.new_times)),
        f"{old_n}/{new_n}",
        _ratio(change.comparison.ratio),
        _interval(change),
        change.verdict,
    )


def _explanation(comparison: RunComparison) -> str:
    confidence = comparison.changes[0].comparison.confidence
    margin = comparison.margin
    return (
        f"Time per client, NEW against OLD: the ratio NEW/OLD (below 1: NEW is faster) "
        f"and its {confidence:.0%} interval, from each run's rounds (OLD ms and NEW ms: the "
        f"median round). unchanged: the whole interval within the margin of "
        f"{margin * 100:g}% ({1 / (1 + margin):.3f} .. {1 + margin:.3f}); faster or slower: "
        "the whole interval beyond it; undecided: neither (see docs/compare.md)."
    )


def summary_line(comparison: RunComparison) -> str:
    counts = comparison.counts()
    parts = ", ".join(f"{counts[v]} {v}" for v in counts)
    mean, over = comparison.geometric_mean()
    line = f"{len(comparison.changes)} case(s) in both runs: {parts}."
    if mean is not None:
        line += (
            f" Geometric mean of NEW/OLD over the {over} case(s) with times in both runs: "
            f"{_ratio(mean)}."
        )
    return line


def gate_lines(comparison: RunComparison, percent: float | None) -> list[str]:
    """What the gate decided, when one was asked for."""
    if percent is None:
        return []
    failing = comparison.slower_beyond(percent)
    name = f"--fail-slower {percent:g}"
    if not failing:
        return [f"Gate {name}: passed: no case is slower beyond noise by more than {percent:g}%."]
    lines = [
        f"Gate {name}: FAILED: {len(failing)} case(s) slower beyond noise by more than "
        f"{percent:g}% (their whole interval above {1 + percent / 100:.3f}):"
    ]
    lines += [f"  {c.id}: NEW/OLD {_ratio(c.comparison.ratio)} ({_interval(c)})" for c in failing]
    return lines


def _only(comparison: RunComparison, list_ids: bool) -> list[str]:
    lines: list[str] = []
    for side, label, ids in (
        ("OLD", comparison.old.label, comparison.only_old),
        ("NEW", comparison.new.label, comparison.only_new),
    ):
        if not ids:
            continue
        head = f"Only in {side} ({label}): {len(ids)} case(s)"
        lines.append(f"{head}: {', '.join(ids)}" if list_ids else head)
    return lines


def render_text(
    comparison: RunComparison, fail_slower: float | None = None, list_only: bool = True
) -> str:
    """The table, each case's notes under it, the lone cases, warnings and summary.
    ``list_only``: name the cases in one run only (else count them)."""
    rows = [_HEADERS, *(_row(c) for c in comparison.changes)]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEADERS))]
    lines = [
        f"NEW: {comparison.new.label}",
        f"OLD: {comparison.old.label}",
        *textwrap.wrap(_explanation(comparison), _WIDTH),
        "",
    ]
    for index, row in enumerate(rows):
        cells = [
            cell.ljust(width) if i in (0, len(row) - 1) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
        if index:
            notes = comparison.changes[index - 1].notes(rounds=False)
            lines += [f"    note: {note}" for note in notes]
    lines.append("")
    paragraphs = _only(comparison, list_only)
    paragraphs += [f"Warning: {w}" for w in comparison.warnings()]
    paragraphs.append(summary_line(comparison))
    gate = gate_lines(comparison, fail_slower)
    for paragraph in paragraphs + gate[:1]:
        lines += textwrap.wrap(paragraph, _WIDTH, subsequent_indent="  ")
    lines += gate[1:]
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown(comparison: RunComparison, fail_slower: float | None = None) -> str:
    """The same as a Markdown section: one table row per case, notes in their column."""
    lines = [
        "## NEW against OLD: time per client",
        "",
        f"NEW: `{comparison.new.label}`, OLD: `{comparison.old.label}`.",
        "",
        _explanation(comparison),
        "",
        "| " + " | ".join(_md(h) for h in (*_HEADERS, "notes")) + " |",
        "| " + " | ".join(["---"] + ["---:"] * 5 + ["---", "---"]) + " |",
    ]
    for change in comparison.changes:
        row = (*_row(change), "; ".join(change.notes()))
        lines.append("| " + " | ".join(_md(cell) for cell in row) + " |")
    lines.append("")
    extra = _only(comparison, True) + [f"Warning: {w}" for w in comparison.warnings()]
    lines += [f"- {_md(line)}" for line in extra]
    lines += ["", f"**Summary.** {summary_line(comparison)}"]
    gate = gate_lines(comparison, fail_slower)
    if gate:
        lines += ["", f"**{gate[0]}**", *(f"- `{line.strip()}`" for line in gate[1:])]
    return "\n".join(lines) + "\n"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _case_json(change: CaseChange) -> dict[str, Any]:
    c = change.comparison
    return {
        "id": change.id,
        "verdict": change.verdict,
        "ratio": _finite(c.ratio),
        "low": _finite(c.low) if not change.too_few_rounds else None,
        "high": _finite(c.high) if not change.too_few_rounds else None,
        "rounds": {"old": c.rounds[0], "new": c.rounds[1]},
        "old_s": median_time(change.old_times),
        "new_s": median_time(change.new_times),
        "old_times_s": change.old_times,
        "new_times_s": change.new_times,
        "notes": change.notes(),
    }


def render_json(comparison: RunComparison, fail_slower: float | None = None) -> dict[str, Any]:
    """The JSON document: ``cases`` (one object per case in both runs: ``id``,
    ``verdict`` of NEW against OLD, ``ratio`` NEW/OLD and its interval ``low``, ``high``,
    null when the rounds allow none), ``summary``, the lone cases and the gate."""
    confidence = comparison.changes[0].comparison.confidence
    document: dict[str, Any] = {
        "version": JSON_VERSION,
        "old": comparison.old.label,
        "new": comparison.new.label,
        "statistic": "time per client, NEW/OLD: ratio of the geometric means of the rounds, "
        "Welch's t interval (docs/statistics.md)",
        "confidence": confidence,
        "margin": comparison.margin,
        "cases": [_case_json(c) for c in comparison.changes],
        "only_old": list(comparison.only_old),
        "only_new": list(comparison.only_new),
        "warnings": comparison.warnings(),
        "summary": comparison.summary(),
    }
    if fail_slower is not None:
        failing = comparison.slower_beyond(fail_slower)
        document["gate"] = {
            "fail_slower_percent": fail_slower,
            "passed": not failing,
            "failing": [c.id for c in failing],
        }
    return document
