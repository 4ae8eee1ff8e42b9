"""The slow-client matrix (marker ``slowclients``): clients that wait, as cases of
their own beside the classic 108 (docs/architecture.md, "Benchmark semantics").

Server kind x dispatch x server workers x scenario. The kinds come from
``fileproto.server.registry``; a kind whose server dispatches (the pools) runs in both
``accept`` (a worker owns a connection from accept to close) and ``ready`` (a selector
holds waiting connections); a kind that does not (the event loops) runs once, as
``loop``. Scenarios:

- **idle**: 200 idle + 20 slowloris connections held open beside 5 clients uploading
  10 MiB: does a server that holds waiting connections still serve the working ones?
- **slow-links**: 20 clients uploading 10 MiB, each over a 1 MiB/s link: how much of
  the links' 20 MiB/s does the model use?
- **stalled**: 20 stalled readers (a GET of a 20 MiB file, then nothing read) beside 5
  clients uploading 10 MiB: does a reader that stops reading hold a worker? The server
  runs with ``--send-timeout 3`` and the case has an 8 s deadline, so the case stays
  short and every stalled reader is given up on (and opened again) within it.

Every case has a deadline (:data:`DEFAULT_DEADLINE`, 15 s after the clients start;
the stalled scenario's is 8 s):
clients still running then are stopped and count as failures of kind "deadline"; what
they moved still counts. A model that serves every slow link at once finishes in
13.3 s (10 MiB is 13.3 MiB of base64 on the wire); one that serves 5 or 1 at a time
would need 53 or 267 s, which the deadline turns into a figure (the completed
clients, the aggregate throughput and its ratio to 20 x 1 MiB/s) instead of a wait.
It is also below the servers' default header deadline (20 s), so a server frozen by
idle connections shows as clients stopped at the deadline.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from fileproto.results.felt import Waiting
from fileproto.server.config import DISPATCHES, ServerConfig
from fileproto.server.registry import CLASSIC_KINDS, KINDS, LOOP, get_kind
from fileproto.stress.spec import Operation
from fileproto.units import MIB

#: Every dispatch a case can record.
DISPATCH_LABELS: tuple[str, ...] = (*sorted(DISPATCHES), LOOP)
SLOW_SERVER_WORKERS = (1, 5)
#: Seconds after the go when clients still running are stopped (see the module's text).
DEFAULT_DEADLINE = 15.0


@dataclass(frozen=True)
class Scenario:
    """Clients that move a file, and what waits beside them."""

    name: str
    description: str
    clients: int
    size_mib: float = 10
    operation: Operation = "UPLOAD"
    #: Each client's link rate, bytes/s both directions; None: as fast as it goes.
    rate: float | None = None
    #: The connections that wait beside the clients.
    waiting: Waiting = field(default_factory=Waiting)
    #: The size of the file the stalled readers GET (stored before the case).
    stalled_size_mib: float = 20
    deadline: float = DEFAULT_DEADLINE
    #: What a server we start is started with for this scenario, beside its dispatch.
    server_args: tuple[str, ...] = ()


SCENARIOS: tuple[Scenario, ...] = (
    Scenario(
        "idle",
        "200 idle + 20 slowloris connections beside 5 clients uploading 10 MiB",
        clients=5,
        waiting=Waiting(idle=200, slowloris=20),
    ),
    Scenario(
        "slow-links",
        "20 clients uploading 10 MiB, each at 1 MiB/s",
        clients=20,
        rate=float(MIB),
    ),
    Scenario(
        "stalled",
        "20 stalled readers of a 20 MiB file beside 5 clients uploading 10 MiB "
        "(server --send-timeout 3)",
        clients=5,
        waiting=Waiting(stalled=20),
        deadline=8.0,
        server_args=("--send-timeout", "3"),
    ),
)


@dataclass(frozen=True)
class SlowCase:
    """One cell: a server (kind, dispatch, workers) and a scenario."""

    kind: str
    dispatch: str | None
    server_workers: int
    scenario: Scenario

    @property
    def id(self) -> str:
        """e.g. thread-accept-w5-slow-links, asyncio-loop-w1-idle, external-idle."""
        if self.dispatch is None:
            return f"{self.kind}-{self.scenario.name}"
        return f"{self.kind}-{self.dispatch}-w{self.server_workers}-{self.scenario.name}"

    @property
    def server_args(self) -> tuple[str, ...]:
        """What the server is started with for this dispatch and scenario."""
        dispatch = ("--dispatch", self.dispatch) if self.dispatch in DISPATCHES else ()
        return (*dispatch, *self.scenario.server_args)

    def with_deadline(self, seconds: float) -> SlowCase:
        return replace(self, scenario=replace(self.scenario, deadline=seconds))


def dispatch_variants(kind: str) -> tuple[str, ...]:
    """accept and ready for a kind whose server dispatches, else the one it has."""
    fixed = get_kind(kind).fixed_dispatch
    return DISPATCH_LABELS[:-1] if fixed is None else (fixed,)


def fixed_dispatch(kind: str) -> str | None:
    """The dispatch of a known kind that has no choice of it, else None (a pool, or a
    kind we do not know)."""
    return get_kind(kind).fixed_dispatch if kind in KINDS else None


def default_dispatch(kind: str) -> str | None:
    """The dispatch of a server of this kind started without ``--dispatch`` (the classic
    matrix's); None for a kind we do not know (someone else's server)."""
    if kind not in KINDS:
        return None
    return get_kind(kind).fixed_dispatch or ServerConfig(root="").dispatch


def slow_cases(kinds: Iterable[str] = CLASSIC_KINDS) -> list[SlowCase]:
    """Ordered by kind, dispatch, workers, scenario."""
    return [
        SlowCase(kind, dispatch, workers, scenario)
        for kind in tuple(kinds)
        for dispatch, workers, scenario in itertools.product(
            dispatch_variants(kind),
            SLOW_SERVER_WORKERS if get_kind(kind).sized else SLOW_SERVER_WORKERS[:1],
            SCENARIOS,
        )
    ]


def external_cases() -> list[SlowCase]:
    """Against someone else's server (``--fileproto-target``): the scenarios only."""
    return [SlowCase("external", None, 0, scenario) for scenario in SCENARIOS]
