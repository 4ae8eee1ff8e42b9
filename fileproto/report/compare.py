"""Two runs compared case by case: did NEW's time per client change against OLD's?

Each classic case that both runs hold is compared from its rounds (each round's time per
client, ``round_times_s``) by the one statistics module, :mod:`fileproto.results.verdict`:
the ratio NEW/OLD (of the geometric means of the rounds), its interval (Welch's) and the
verdict read from that interval against the margin. What the module calls ``same`` is
``unchanged`` here: NEW's time is within the margin of OLD's.

Slow-client cases are left out: their clients are stopped at a deadline, so their time
per client is that of the survivors and does not compare (``fileproto report`` has their
table). :mod:`.compare_render` renders a comparison as text, Markdown and JSON; the
``fileproto compare`` command (:mod:`fileproto.cli.compare`) and the plugin's
``--fileproto-compare`` (:mod:`fileproto.pytest.comparing`) both use it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import Any

from fileproto.report.order import sort_results
from fileproto.report.slow import is_slow
from fileproto.results import LoadResult
from fileproto.results.document import Source, load_document, load_results
from fileproto.results.verdict import CHANGE_MARGIN, Comparison, Verdict, compare, rounds_to_decide

#: The verdicts of a comparison of runs, in the order the summary counts them.
VERDICTS = ("faster", "slower", "unchanged", "undecided")
#: How to get more rounds, said wherever too few rounds leave a case undecided.
MORE_ROUNDS = "--fileproto-rounds N with pytest, --rounds N with fileproto stress"


def verdict_word(verdict: Verdict) -> str:
    """The verdict as this comparison spells it (``same`` is ``unchanged``)."""
    return "unchanged" if verdict is Verdict.SAME else str(verdict)


@dataclass(frozen=True)
class Run:
    """One run's classic cases by id, and what the comparison must say about the run."""

    label: str
    cases: Mapping[str, LoadResult]
    #: Slow-client cases of the run, left out of the comparison.
    slow: int = 0
    #: The cases ran side by side (pytest-xdist): their figures are not a serial run's.
    parallel: bool = False

    @classmethod
    def load(cls, source: Source, label: str | None = None) -> Run:
        """A run from a benchmark JSON file (or its parsed document).

        Raises OSError if the file cannot be read, ValueError if it is not a benchmark
        JSON or holds one case twice.
        """
        document = load_document(source)
        name = label or (str(source) if not isinstance(source, Mapping) else "benchmark data")
        results = load_results(document)
        classic = [r for r in results if not is_slow(r)]
        cases: dict[str, LoadResult] = {}
        for result in sort_results(classic):
            if result.id in cases:
                raise ValueError(
                    f"{name} holds case {result.id} twice ({cases[result.id].name or '?'} "
                    f"and {result.name or '?'}): which one to compare is not clear"
                )
            cases[result.id] = result
        machine = document.get("machine_info")
        parallel = isinstance(machine, Mapping) and bool(machine.get("parallel"))
        return cls(name, cases, slow=len(results) - len(classic), parallel=parallel)


@dataclass(frozen=True)
class CaseChange:
    """One case in both runs: NEW's rounds against OLD's."""

    id: str
    old: LoadResult
    new: LoadResult
    comparison: Comparison

    @property
    def verdict(self) -> str:
        return verdict_word(self.comparison.verdict)

    @property
    def old_times(self) -> list[float]:
        return self.old.times_of_rounds()

    @property
    def new_times(self) -> list[float]:
        return self.new.times_of_rounds()

    @property
    def too_few_rounds(self) -> bool:
        """No interval exists for these rounds: nothing can be decided from them."""
        return not (math.isfinite(self.comparison.low) and math.isfinite(self.comparison.high))

    def slower_beyond(self, percent: float) -> bool:
        """The gate: slower beyond noise by more than ``percent``, that is the verdict is
        ``slower`` (the whole interval of NEW/OLD above 1 + margin) and the whole interval
        is above 1 + percent / 100 too."""
        low = self.comparison.low
        return self.comparison.verdict is Verdict.SLOWER and low > 1.0 + percent / 100.0

    def notes(self, rounds: bool = True) -> list[str]:
        """What the reader must know to trust (or not) this case's line; ``rounds``:
        with the note on too few rounds (a table that warns once below leaves it out)."""
        notes: list[str] = []
        old_n, new_n = self.comparison.rounds
        if self.too_few_rounds:
            if rounds:
                need = rounds_to_decide(self.comparison.confidence)
                notes.append(
                    f"{_rounds(old_n)} in OLD, {_rounds(new_n)} in NEW: too few for an "
                    f"interval ({need} in each run at least)"
                )
        elif self.comparison.verdict is Verdict.UNDECIDED:
            notes.append(
                f"the interval reaches across the margin: more rounds narrow it: {MORE_ROUNDS}"
            )
        for side, result in (("OLD", self.old), ("NEW", self.new)):
            if result.failed:
                notes.append(
                    f"{side}: {result.failures} client(s) failed or a file did not verify; "
                    "its time is that of the clients that succeeded"
                )
        for what in ("dispatch", "method", "dialect"):
            before, after = getattr(self.old, what), getattr(self.new, what)
            if before is not None and after is not None and before != after:
                notes.append(f"the runs differ in {what}: {before} in OLD, {after} in NEW")
        return notes


def _rounds(count: int) -> str:
    return f"{count} round" if count == 1 else f"{count} rounds"


@dataclass(frozen=True)
class RunComparison:
    """NEW against OLD: every case in both, and the ids of those in one run only."""

    old: Run
    new: Run
    changes: Sequence[CaseChange]
    only_old: Sequence[str] = field(default_factory=tuple)
    only_new: Sequence[str] = field(default_factory=tuple)
    margin: float = CHANGE_MARGIN

    def counts(self) -> dict[str, int]:
        """How many cases got each verdict, every verdict present (zero or not)."""
        found = dict.fromkeys(VERDICTS, 0)
        for change in self.changes:
            found[change.verdict] += 1
        return found

    def geometric_mean(self) -> tuple[float | None, int]:
        """The geometric mean of NEW/OLD over the cases with a ratio (times in both
        runs), and how many those are. A summary of the estimates, not a verdict."""
        ratios = [c.comparison.ratio for c in self.changes if _usable(c.comparison.ratio)]
        if not ratios:
            return None, 0
        return math.exp(sum(math.log(r) for r in ratios) / len(ratios)), len(ratios)

    def slower_beyond(self, percent: float) -> list[CaseChange]:
        """The cases the gate ``--fail-slower percent`` fails on."""
        return [c for c in self.changes if c.slower_beyond(percent)]

    def too_few_rounds(self) -> list[CaseChange]:
        return [c for c in self.changes if c.too_few_rounds]

    def warnings(self) -> list[str]:
        """What holds for the whole comparison and makes it weaker."""
        out: list[str] = []
        if self.old.parallel != self.new.parallel:
            which = "OLD" if self.old.parallel else "NEW"
            out.append(
                f"{which} ran its cases side by side (pytest-xdist) and the other did not: "
                "their times differ for that alone; compare a parallel run with another"
            )
        left_out = self.old.slow + self.new.slow
        if left_out:
            out.append(
                f"{left_out} slow-client case(s) left out: their clients are stopped at a "
                "deadline, so time per client does not compare (fileproto report shows them)"
            )
        few = self.too_few_rounds()
        if few:
            need = rounds_to_decide(self.changes[0].comparison.confidence)
            out.append(
                f"{len(few)} of {len(self.changes)} case(s) have too few rounds to decide "
                f"anything (an interval needs {need} rounds in each run): run both again, "
                f"{MORE_ROUNDS}"
            )
        return out

    def summary(self) -> dict[str, Any]:
        mean, over = self.geometric_mean()
        return {
            "cases": len(self.changes),
            **self.counts(),
            "geometric_mean_ratio": mean,
            "geometric_mean_over": over,
            "only_old": len(self.only_old),
            "only_new": len(self.only_new),
        }


def _usable(ratio: float) -> bool:
    return math.isfinite(ratio) and ratio > 0


def compare_runs(old: Run, new: Run, margin: float = CHANGE_MARGIN) -> RunComparison:
    """Every case in both runs compared, NEW against OLD.

    Raises ValueError if the runs have no classic case in common.
    """
    common = [case_id for case_id in new.cases if case_id in old.cases]
    if not common:
        raise ValueError(_nothing_in_common(old, new))
    changes = [
        CaseChange(
            case_id,
            old.cases[case_id],
            new.cases[case_id],
            compare(
                old.cases[case_id].times_of_rounds(),
                new.cases[case_id].times_of_rounds(),
                margin=margin,
            ),
        )
        for case_id in common
    ]
    return RunComparison(
        old,
        new,
        changes,
        only_old=[i for i in old.cases if i not in new.cases],
        only_new=[i for i in new.cases if i not in old.cases],
        margin=margin,
    )


def _nothing_in_common(old: Run, new: Run) -> str:
    for run in (old, new):
        if not run.cases:
            slow = f" ({run.slow} slow-client case(s), which do not compare)" if run.slow else ""
            return f"{run.label} has no classic matrix case{slow}: nothing to compare"
    sample = ", ".join(list(old.cases)[:2])
    other = ", ".join(list(new.cases)[:2])
    return (
        f"{old.label} and {new.label} have no case in common (OLD has {sample}...; "
        f"NEW has {other}...)"
    )


def median_time(times: Sequence[float]) -> float | None:
    """The median round's time per client, to show beside the ratio."""
    return median(times) if times else None
