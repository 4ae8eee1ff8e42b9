"""How the run decides a difference, and sets of pairs of cases read through the run's
verdicts.

Every comparison the findings state is one the suite states
(:mod:`fileproto.cases.comparisons`), with the verdict the run holds for it
(:mod:`fileproto.report.verdicts`): faster, slower, the same within the margin, or not
decided. No finding decides anything by a ratio of its own; the method is the
statistics module's, written down in docs/statistics.md.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fileproto.cases.comparisons import Stated
from fileproto.report.cases import Case
from fileproto.results.verdict import CONFIDENCE, MARGIN, Verdict, rounds_to_decide

#: Where the method is written down.
STATISTICS_DOC = "docs/statistics.md"


def percent(value: float) -> str:
    return f"{value * 100:g}%"


class Verdicts:
    """The run's verdicts by pair of cases (a, b: what b is against a)."""

    def __init__(self, stated: Sequence[Stated]) -> None:
        self.stated = list(stated)
        self.by_pair = {(s.pair.a, s.pair.b): s for s in stated}
        first = stated[0].comparison if stated else None
        self.confidence = first.confidence if first else CONFIDENCE
        self.margin = first.margin if first else MARGIN

    def of(self, a: Case, b: Case) -> Stated | None:
        return self.by_pair.get((a.result.id, b.result.id))

    @property
    def margin_words(self) -> str:
        return f"the same within {percent(self.margin)}"


def geomean(values: Sequence[float]) -> float:
    return math.exp(sum(math.log(v) for v in values) / len(values))


@dataclass(frozen=True)
class Compared:
    """Pairs of cases (a, b) with their verdicts: b's time over a's, and how many of b
    were faster, slower, the same or not decided."""

    found: list[Stated]

    @property
    def ratios(self) -> list[float]:
        return [s.comparison.ratio for s in self.found if math.isfinite(s.comparison.ratio)]

    def count(self, verdict: Verdict) -> int:
        return sum(1 for s in self.found if s.comparison.verdict is verdict)

    @property
    def faster(self) -> int:
        return self.count(Verdict.FASTER)

    @property
    def slower(self) -> int:
        return self.count(Verdict.SLOWER)

    @property
    def same(self) -> int:
        return self.count(Verdict.SAME)

    @property
    def open(self) -> int:
        return self.count(Verdict.UNDECIDED)

    @property
    def n(self) -> int:
        return len(self.found)

    def summary(self, margin: float) -> str:
        """ "slower in 2, the same within 10% in 1, not decided in 1 of 4"."""
        parts = [f"slower in {self.slower}" if self.slower else "",
                 f"faster in {self.faster}" if self.faster else "",
                 f"the same within {percent(margin)} in {self.same}" if self.same else "",
                 f"not decided in {self.open}" if self.open else ""]  # fmt: skip
        return ", ".join(p for p in parts if p) + f" of {self.n}"


def compare(verdicts: Verdicts, pairs: Iterable[tuple[Case, Case]]) -> Compared:
    """The pairs the run states a verdict on (others are left out)."""
    return Compared([s for a, b in pairs if (s := verdicts.of(a, b)) is not None])


def _many(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _are(n: int) -> str:
    return "is" if n == 1 else "are"


def method(verdicts: Verdicts, cases: Sequence[Case]) -> str:
    """The method in plain words: confidence, margin, rounds per case, how many
    comparisons were decided and how many are open."""
    rounds = [c.result.rounds or 1 for c in cases] or [0]
    low, high = min(rounds), max(rounds)
    per_case = (
        f"{low} round{'' if low == 1 else 's'}"
        if low == high
        else f"{low} to {high} rounds (more where a comparison was still open)"
    )
    # A run from before each round's time was kept has none to compare.
    unkept = sum(1 for c in cases if not c.result.times_of_rounds())
    whole = Compared(verdicts.stated)
    decided = whole.n - whole.open
    text = (
        f"Each case ran {per_case}. Two cases are compared by the ratio of their times per "
        f"client, estimated from their rounds with a {percent(verdicts.confidence)} "
        "confidence interval: a case is called faster or slower only when the whole "
        f"interval lies more than {percent(verdicts.margin)} away from the other's time, the "
        f"same when it lies within {percent(verdicts.margin)}, and not decided otherwise "
        f"({STATISTICS_DOC})."
    )
    if not whole.n:
        return text + " This run has no two cases to compare."
    differ = whole.slower + whole.faster
    text += (
        f" Of the {_many(whole.n, 'comparison')} (server workers within a model, and the "
        f"models at one worker count), {decided} {_are(decided)} decided ({differ} found a "
        f"difference, {whole.same} {verdicts.margin_words}) and {whole.open} "
        f"{_are(whole.open)} open."
    )
    if unkept:
        text += (
            f" {unkept} case{' has' if unkept == 1 else 's have'} no time per round (a run "
            "from before each round's time was kept): not decided."
        )
    need = rounds_to_decide(verdicts.confidence)
    few = sum(1 for n in rounds if n < need)
    if few:
        text += (
            f" A verdict needs at least {need} rounds per case, and {few} of the {len(rounds)} "
            f"cases have fewer: run --fileproto-rounds {need + 1}, or give the rounds added "
            "to open comparisons a larger --fileproto-budget."
        )
    return text
