"""Why the answer is what it is, in at most five sentences, each naming the timelines
that show it.

Queued against served is the why: on few server workers a client's time goes to the
queue, waiting for a worker; on many, the workers share the machine's cores and each
client is served for longer. The sentences read both from the timelines joined with the
server's events (:func:`fileproto.report.findings.queued.phase_seconds`), at one load:
the most clients, the first operation, the smallest size (the load whose timelines the
report draws, :func:`fileproto.report.timeline.telling_cases`). Per model they set its
fewest workers against its most, with the verdict of that comparison; then the models
against each other on their fewest workers. Every verdict is the run's
(:mod:`fileproto.report.verdicts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from fileproto.cases.comparisons import Stated
from fileproto.report.cases import Case
from fileproto.report.findings.index import Index
from fileproto.report.findings.queued import phase_seconds
from fileproto.report.findings.words import times
from fileproto.report.order import operation_rank, size_text
from fileproto.report.phases import (
    QUEUED,
    REFUSED,
    SERVED,
    UNSPLIT,
    WAITING_ON_CLIENT,
    WAITING_TO_CONNECT,
)
from fileproto.results.verdict import Verdict

#: At most this many sentences.
MOST = 5
#: A phase other than queued and served is named when it holds this share of the time.
NAMED_SHARE = 0.10
_OTHER_PHASES = (WAITING_ON_CLIENT, WAITING_TO_CONNECT, UNSPLIT, REFUSED)


@dataclass(frozen=True)
class Link:
    """A reference to a case's timeline."""

    label: str
    case: str


Part = str | Link


@dataclass(frozen=True)
class Reason:
    """One sentence: text and links to the timelines that show it."""

    parts: tuple[Part, ...]

    @property
    def cases(self) -> list[str]:
        return [p.case for p in self.parts if isinstance(p, Link)]

    def plain(self) -> str:
        """The sentence for a terminal or Markdown: each link as the case's id."""
        return "".join(p if isinstance(p, str) else f"(timeline {p.case})" for p in self.parts)


def _seconds(value: float) -> str:
    return f"{value:.3f} s"


def _per_client(case: Case) -> dict[str, float]:
    totals = phase_seconds(case) or {}
    n = len(case.requests) or 1
    return {phase: seconds / n for phase, seconds in totals.items()}


def _phases(case: Case) -> str:
    """ "0.470 s queued for a worker and 0.020 s being served", with any other phase that
    held a tenth of the time."""
    seconds = _per_client(case)
    whole = sum(seconds.values()) or 1.0
    parts = [f"{_seconds(seconds.get(QUEUED, 0.0))} queued for a worker"]
    parts.append(f"{_seconds(seconds.get(SERVED, 0.0))} being served")
    parts += [
        f"{_seconds(seconds[p])} {p}"
        for p in _OTHER_PHASES
        if seconds.get(p, 0.0) / whole >= NAMED_SHARE
    ]
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _verdict(found: Stated | None, margin_words: str) -> tuple[str, str]:
    """b's time over a's and the verdict in words: ("1.23x", "slower, at 95% confidence")."""
    if found is None:
        return "?", "not compared"
    c = found.comparison
    confidence = f"at {c.confidence * 100:g}% confidence"
    if c.verdict is Verdict.SAME:
        words = f"the same within {margin_words}, {confidence}"
    elif c.verdict is Verdict.UNDECIDED:
        words = f"not decided {confidence}"
    else:
        words = f"{c.verdict}, {confidence}"
    return times(c.ratio), words


def _workers(n: int) -> str:
    return f"{n} worker{'' if n == 1 else 's'}"


class _Run:
    """The traced cases of one load, by model and workers, and the run's verdicts."""

    def __init__(self, cases: Sequence[Case], verdicts: Sequence[Stated]) -> None:
        traced = [c for c in cases if c.requests and c.server_events]
        self.index = Index([c for c in traced if not c.result.scenario])
        self.verdicts = {(s.pair.a, s.pair.b): s for s in verdicts}
        first = self.index.cases[0].result if self.index.cases else None
        self.margin = f"{verdicts[0].comparison.margin * 100:g}%" if verdicts else "the margin"
        self.load: tuple[str, float, int] | None = None
        if first is not None:
            top = max(self.index.clients)
            op = min(
                (c.result.operation for c in self.index.cases if c.result.client_workers == top),
                key=operation_rank,
            )
            size = min(
                float(c.result.size_mib)
                for c in self.index.cases
                if c.result.client_workers == top and c.result.operation == op
            )
            self.load = (op, size, top)

    def at(self, model: str, workers: int) -> Case | None:
        if self.load is None:
            return None
        op, size, clients = self.load
        return self.index.get(model, op, size, clients, workers)

    def workers_of(self, model: str) -> list[int]:
        return [w for w in self.index.workers if self.at(model, w) is not None]

    def stated(self, a: Case, b: Case) -> Stated | None:
        return self.verdicts.get((a.result.id, b.result.id))

    def load_text(self) -> str:
        assert self.load is not None
        op, size, clients = self.load
        return f"{clients} clients, {op} {size_text(int(size) if size.is_integer() else size)} MiB"


def _model_reason(run: _Run, model: str, cores: int | None) -> Reason | None:
    workers = run.workers_of(model)
    if len(workers) < 2:
        return None
    few, many = run.at(model, workers[0]), run.at(model, workers[-1])
    assert few is not None and many is not None
    served_few = _per_client(few).get(SERVED, 0.0)
    served_many = _per_client(many).get(SERVED, 0.0)
    sharing = ""
    if cores and workers[-1] > cores and served_many > 1.5 * served_few > 0:
        sharing = (
            f": its {workers[-1]} workers share the machine's {cores} cores, so each client "
            f"is served {times(served_many / served_few)} as long"
        )
    ratio, words = _verdict(run.stated(few, many), run.margin)
    return Reason(
        (
            f"{model}, {run.load_text()}: on {_workers(workers[0])} a client spent {_phases(few)} ",
            Link("timeline", few.id),
            f"; on {_workers(workers[-1])}, {_phases(many)} ",
            Link("timeline", many.id),
            f"{sharing}; in all, a client on {workers[-1]} workers took {ratio} its time on "
            f"{workers[0]} ({words}).",
        )
    )


def _models_reason(run: _Run) -> Reason | None:
    """The models side by side on the fewest workers they all ran."""
    models = run.index.models
    common = [w for w in run.index.workers if all(run.at(m, w) for m in models)]
    if len(models) < 2 or not common:
        return None
    workers = common[0]
    found = [(m, c) for m in models if (c := run.at(m, workers)) is not None]
    parts: list[Part] = [f"On {_workers(workers)}, a client was served for "]
    for i, (model, case) in enumerate(found):
        if i:
            parts.append(" and " if i == len(found) - 1 else ", ")
        parts += [
            f"{_seconds(_per_client(case).get(SERVED, 0.0))} by {model} ",
            Link("timeline", case.id),
        ]
    base_model, base = found[0]
    against = []
    for model, case in found[1:]:
        ratio, words = _verdict(run.stated(base, case), run.margin)
        against.append(f"{model} took {ratio} {base_model}'s time per client ({words})")
    parts.append(": " + "; ".join(against) + ".")
    return Reason(tuple(parts))


def reasons(cases: Sequence[Case], verdicts: Sequence[Stated], cores: int | None) -> list[Reason]:
    """At most :data:`MOST` sentences; none when the run has no traced timelines."""
    run = _Run(cases, verdicts)
    if run.load is None:
        return []
    found = [r for m in run.index.models if (r := _model_reason(run, m, cores)) is not None]
    found = found[: MOST - 1]
    together = _models_reason(run)
    if together is not None:
        found.append(together)
    return found


def without_reasons(cases: Sequence[Case]) -> str:
    """Why there are no sentences, said plainly ("" when there are cases to explain)."""
    classic = [c for c in cases if not c.result.scenario]
    if not classic:
        return ""
    if not any(c.requests for c in classic):
        return (
            "Why: this run recorded no timelines, so the time clients spent queued and "
            "being served is not known."
        )
    if not any(c.server_events for c in classic):
        return (
            "Why: the server's events were not recorded (a server of someone else's, or "
            "--fileproto-no-trace), so queued and served time cannot be told apart."
        )
    return ""
