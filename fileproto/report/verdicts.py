"""The run's verdicts, read once for every output (the answer, the findings, the HTML
page, the terminal): every comparison the suite states
(:mod:`fileproto.cases.comparisons`) as the benchmark JSON recorded it under
``fileproto_verdicts``, and, for a pair the JSON does not hold (a run from before the
plugin wrote them, or a JSON of ``fileproto stress``), computed from each case's rounds
by the same code.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fileproto.cases.comparisons import Stated, classic, stated
from fileproto.results import LoadResult
from fileproto.results.document import VERDICTS_KEY, Document
from fileproto.results.verdict import Comparison, Verdict


def rounds_by_id(results: Iterable[LoadResult]) -> dict[str, list[float]]:
    """Each classic case's time per client of each round, by case id."""
    return {r.id: r.times_of_rounds() for r in classic(results)}


def _number(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return default
    return float(value)


def comparison_of(entry: Mapping[str, Any]) -> Comparison | None:
    """A ``fileproto_verdicts`` entry's comparison (``Comparison.as_dict`` read back:
    an open end is null there); None if the entry is not one."""
    try:
        verdict = Verdict(str(entry.get("verdict")))
    except ValueError:
        return None
    rounds = entry.get("rounds")
    if not (isinstance(rounds, list) and len(rounds) == 2
            and all(isinstance(n, int) for n in rounds)):  # fmt: skip
        return None
    defaults = Comparison(math.nan, 0.0, math.inf, verdict, (0, 0))
    return Comparison(
        ratio=_number(entry.get("ratio"), math.nan),
        low=_number(entry.get("low"), 0.0),
        high=_number(entry.get("high"), math.inf),
        verdict=verdict,
        rounds=(rounds[0], rounds[1]),
        confidence=_number(entry.get("confidence"), defaults.confidence),
        margin=_number(entry.get("margin"), defaults.margin),
    )


def run_verdicts(results: Sequence[LoadResult], recorded: Any = None) -> list[Stated]:
    """Every comparison among ``results``: as ``recorded`` (the JSON's
    ``fileproto_verdicts`` list) holds it, else from the cases' rounds."""
    computed = stated(results, rounds_by_id(results))
    if not isinstance(recorded, list):
        return computed
    found: dict[tuple[str, str], Comparison] = {}
    for entry in recorded:
        if isinstance(entry, Mapping) and (comparison := comparison_of(entry)) is not None:
            found[str(entry.get("a")), str(entry.get("b"))] = comparison
    return [Stated(s.pair, found.get((s.pair.a, s.pair.b), s.comparison)) for s in computed]


def document_verdicts(document: Document, results: Sequence[LoadResult]) -> list[Stated]:
    """The verdicts of a benchmark document whose cases are ``results``."""
    return run_verdicts(results, document.get(VERDICTS_KEY))


__all__ = ["comparison_of", "document_verdicts", "rounds_by_id", "run_verdicts"]
