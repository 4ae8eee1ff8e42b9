"""What clients felt, as the results record keeps it: latency percentiles and the
background connections held open beside the clients (docs/architecture.md, "Benchmark
semantics").

These are nested objects in a case's ``extra_info``; the converters here read them back
as strictly as :mod:`.record` reads its plain fields.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ROLES",
    "Background",
    "Percentiles",
    "Waiting",
    "background_of",
    "counted_waits",
    "counts_of",
    "percentiles_of",
    "pooled",
    "sum_counts",
]

#: The connections that wait beside the clients, by what they do (docs: the README's
#: "Clients that wait"): idle never send; slowloris send a valid header a byte at a time;
#: parked send one LIST, read the answer, then wait; stalled send a GET and read nothing.
ROLES = ("idle", "slowloris", "parked", "stalled")


@dataclass(frozen=True)
class Percentiles:
    """p50, p90, p99 and max of a set of seconds (nearest-rank, as wrk and k6 report)."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Percentiles | None:
        if not values:
            return None
        ordered = sorted(values)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

        return cls(len(ordered), rank(0.50), rank(0.90), rank(0.99), ordered[-1])

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def counted_waits(ended: Sequence[float], cut_off: Sequence[float]) -> list[float]:
    """The waits a latency's percentiles count (docs/trace.md, "Probes cut off").

    ``ended``: the waits of the probes that ended (answered, or failed and counted as
    their timeout). ``cut_off``: how long each probe still waiting when the case ended
    had waited by then; its own latency is unknown, only at least that. One that waited
    longer than every ended probe ranks above all of them whatever its latency: it
    counts with its wait, so each percentile is exact or a bound from below (a server
    frozen to the end shows so). Any other tells nothing of its rank and is left out
    (the record counts it in ``probe_cut_off``).
    """
    longest = max(ended, default=0.0)
    return [*ended, *(wait for wait in cut_off if wait > longest)]


def sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    return total


@dataclass(frozen=True)
class Waiting:
    """How many connections of each role wait beside the clients: the one definition the
    scenarios, ``fileproto stress``, the background clients and the record share."""

    idle: int = 0
    slowloris: int = 0
    parked: int = 0
    stalled: int = 0

    def __post_init__(self) -> None:
        if min(self.counts().values()) < 0:
            raise ValueError(f"connection counts cannot be negative: {self.counts()}")

    def counts(self) -> dict[str, int]:
        """Every role's count, in :data:`ROLES` order."""
        return {role: int(getattr(self, role)) for role in ROLES}

    @property
    def opened(self) -> int:
        return sum(self.counts().values())

    def describe(self, separator: str = " + ") -> str:
        """e.g. "200 idle + 20 slowloris"; the roles with none are left out."""
        return separator.join(f"{n} {role}" for role, n in self.counts().items() if n)

    def only(self) -> Waiting:
        """The counts alone (of a :class:`Background`, without what happened to them)."""
        return Waiting(**self.counts())


@dataclass(frozen=True)
class Background(Waiting):
    """Connections held open beside the clients during a case, and what the server did
    with them (from :class:`fileproto.load.background.BackgroundClients`, summed over the
    rounds)."""

    #: Connections the server closed (the load generator opened them again), by role.
    closed_by_server: Mapping[str, int] = field(default_factory=dict)
    #: ERROR answers on them, by the message's start ("request timeout", "server busy").
    errors: Mapping[str, int] = field(default_factory=dict)
    connect_failures: int = 0
    #: By role, how long the connections the server closed had been open (for stalled
    #: readers: the server's --send-timeout, if it enforces one).
    closed_after_s: Mapping[str, Percentiles] = field(default_factory=dict)

    @classmethod
    def merge(cls, rounds: Sequence[Background]) -> Background:
        """Over rounds: the same connections each round, their events summed."""
        last = rounds[-1]
        after: dict[str, Percentiles] = {}
        for role in dict.fromkeys(r for one in rounds for r in one.closed_after_s):
            merged = pooled([one.closed_after_s.get(role) for one in rounds])
            if merged is not None:
                after[role] = merged
        return cls(
            last.idle,
            last.slowloris,
            last.parked,
            last.stalled,
            closed_by_server=sum_counts(r.closed_by_server for r in rounds),
            errors=sum_counts(r.errors for r in rounds),
            connect_failures=sum(r.connect_failures for r in rounds),
            closed_after_s=after,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.counts(),
            "closed_by_server": dict(self.closed_by_server),
            "errors": dict(self.errors),
            "connect_failures": self.connect_failures,
            "closed_after_s": {r: p.as_dict() for r, p in self.closed_after_s.items()},
        }


def pooled(parts: Sequence[Percentiles | None]) -> Percentiles | None:
    """Several rounds' percentiles without their raw values: each figure the largest
    (a bound, never an understatement), counts summed."""
    known = [p for p in parts if p is not None]
    if not known:
        return None
    if len(known) == 1:
        return known[0]
    return Percentiles(
        sum(p.count for p in known),
        max(p.p50 for p in known),
        max(p.p90 for p in known),
        max(p.p99 for p in known),
        max(p.max for p in known),
    )


# -- converters for extra_info ------------------------------------------------------------


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{what}: expected a count, got {value!r}")
    return value


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise TypeError(f"{what}: expected seconds, got {value!r}")
    return float(value)


def percentiles_of(value: Any) -> Percentiles:
    """``{"count", "p50", "p90", "p99", "max"}``, in order: p50 <= p90 <= p99 <= max."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object of count, p50, p90, p99, max; got {value!r}")
    missing = [k for k in ("count", "p50", "p90", "p99", "max") if k not in value]
    if missing:
        raise ValueError(f"lacks {', '.join(missing)}")
    figures = [_seconds(value[k], k) for k in ("p50", "p90", "p99", "max")]
    if figures != sorted(figures):
        raise ValueError(f"percentiles out of order: {value!r}")
    return Percentiles(_count(value["count"], "count"), *figures)


def counts_of(value: Any) -> dict[str, int]:
    """An object of counts by name."""
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object of counts, got {value!r}")
    return {str(k): _count(v, str(k)) for k, v in value.items()}


def background_of(value: Any) -> Background:
    if not isinstance(value, Mapping):
        raise TypeError(f"expected an object, got {value!r}")
    after = value.get("closed_after_s", {})
    if not isinstance(after, Mapping):
        raise TypeError(f"closed_after_s: expected an object, got {after!r}")
    idle, slowloris, parked, stalled = (_count(value.get(role, 0), role) for role in ROLES)
    return Background(
        idle,
        slowloris,
        parked,
        stalled,
        closed_by_server=counts_of(value.get("closed_by_server", {})),
        errors=counts_of(value.get("errors", {})),
        connect_failures=_count(value.get("connect_failures", 0), "connect_failures"),
        closed_after_s={str(role): percentiles_of(p) for role, p in after.items()},
    )
