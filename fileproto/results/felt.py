"""What clients felt, as the results record keeps it: latency percentiles and the
background connections held open beside the clients (docs/architecture.md, "Benchmark
semantics").

These are nested objects in a case's ``extra_info``; the converters here read them back
as strictly as :mod:`.record` reads its plain fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fileproto.load.latency import Percentiles

__all__ = [
    "Background",
    "Percentiles",
    "background_of",
    "counts_of",
    "percentiles_of",
    "pooled",
    "sum_counts",
]

ROLES = ("idle", "slowloris", "parked")


def sum_counts(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for key, value in one.items():
            total[key] = total.get(key, 0) + value
    return total


@dataclass(frozen=True)
class Background:
    """Connections held open beside the clients during a case, and what the server did
    with them (``fileproto.background.BackgroundReport``, summed over the rounds)."""

    idle: int = 0
    slowloris: int = 0
    parked: int = 0
    #: Connections the server closed (the load generator opened them again), by role.
    closed_by_server: Mapping[str, int] = field(default_factory=dict)
    #: ERROR answers on them, by the message's start ("request timeout", "server busy").
    errors: Mapping[str, int] = field(default_factory=dict)
    connect_failures: int = 0

    @property
    def opened(self) -> int:
        return self.idle + self.slowloris + self.parked

    @classmethod
    def of(cls, report: Any) -> Background:
        """From a ``fileproto.background.BackgroundReport``."""
        return cls(
            int(report.idle),
            int(report.slowloris),
            int(report.parked),
            dict(report.closed_by_server),
            dict(report.errors),
            int(report.connect_failures),
        )

    @classmethod
    def merge(cls, rounds: Sequence[Background]) -> Background:
        """Over rounds: the same connections each round, their events summed."""
        last = rounds[-1]
        return cls(
            last.idle,
            last.slowloris,
            last.parked,
            sum_counts(r.closed_by_server for r in rounds),
            sum_counts(r.errors for r in rounds),
            sum(r.connect_failures for r in rounds),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "idle": self.idle,
            "slowloris": self.slowloris,
            "parked": self.parked,
            "closed_by_server": dict(self.closed_by_server),
            "errors": dict(self.errors),
            "connect_failures": self.connect_failures,
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
    idle, slowloris, parked = (_count(value.get(role, 0), role) for role in ROLES)
    return Background(
        idle,
        slowloris,
        parked,
        counts_of(value.get("closed_by_server", {})),
        counts_of(value.get("errors", {})),
        _count(value.get("connect_failures", 0), "connect_failures"),
    )
