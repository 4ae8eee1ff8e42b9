"""What one round of a load did: every client's outcome and the round's wall time."""

from __future__ import annotations

from dataclasses import dataclass, field

from fileproto.results import LoadResult, size_mib_of
from fileproto.stress.spec import LoadSpec


@dataclass
class ClientOutcome:
    """One client worker's transfer. Mutable: verification may turn a success into a
    failure after the round (the server stored other bytes)."""

    index: int
    ok: bool
    seconds: float
    size: int
    name: str
    error: str | None = None
    error_kind: str | None = None


@dataclass
class RoundOutcome:
    """One round: all clients started together; the round ended with the last one."""

    spec: LoadSpec
    clients: list[ClientOutcome]
    wall_time: float
    verified: bool
    #: The load generator's process, or its client processes summed (peak RSS).
    client_peak_rss: int = 0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(o.ok for o in self.clients)

    @property
    def failures(self) -> int:
        return self.spec.clients - self.successes

    @property
    def avg_time(self) -> float:
        times = [o.seconds for o in self.clients if o.ok]
        return sum(times) / len(times) if times else 0.0

    @property
    def throughput(self) -> float:
        """Per-client throughput (file bytes / that client's time), averaged: the
        classic table's figure."""
        rates = [o.size / o.seconds for o in self.clients if o.ok and o.seconds > 0]
        return sum(rates) / len(rates) if rates else 0.0

    @property
    def aggregate(self) -> float:
        moved = sum(o.size for o in self.clients if o.ok)
        return moved / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def moved(self) -> int:
        """File bytes the successful clients moved."""
        return sum(o.size for o in self.clients if o.ok)

    @property
    def first_error(self) -> str | None:
        for o in sorted(self.clients, key=lambda o: o.index):
            if not o.ok:
                return f"client {o.index}: {o.error_kind}: {o.error}"
        return None

    def result(self, server_kind: str, server_workers: int | str) -> LoadResult:
        """This round's figures as a results record (DESIGN.md, Benchmark semantics)."""
        spec = self.spec
        return LoadResult(
            operation=spec.operation,
            size_mib=size_mib_of(spec.source.size),
            size_bytes=spec.source.size,
            client_workers=spec.clients,
            server_workers=server_workers,
            server_kind=server_kind,
            method=spec.method,
            dialect=spec.dialect,
            avg_time_s=self.avg_time,
            throughput_Bps=self.throughput,
            aggregate_Bps=self.aggregate,
            wall_time_s=self.wall_time,
            successes=self.successes,
            failures=self.failures,
            verified=self.verified,
            first_error=self.first_error,
            client_peak_rss_bytes=self.client_peak_rss,
            interrupted=self.interrupted,
        )


def merge_rounds(
    rounds: list[RoundOutcome], server_kind: str, server_workers: int | str
) -> LoadResult:
    """One case's record over its rounds (see LoadResult.merge)."""
    return LoadResult.merge([r.result(server_kind, server_workers) for r in rounds])
