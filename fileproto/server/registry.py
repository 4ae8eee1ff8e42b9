"""The one list of server kinds: every other part (CLI, classic entry points, plugin,
matrix, report, tests) reads it. Adding a concurrency model is one module in
``fileproto/server/`` and one entry in ``KINDS``.

The server classes are named, not imported, so that reading the list (the report, the
plugin's options) costs no multiprocessing or asyncio import and no import circle.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from fileproto.server.base import BaseServer

#: The dispatch of the event loops, which take what is ready themselves.
LOOP = "loop"
#: How a load generator runs its client workers: threads in one process, or processes.
ClientMethod = Literal["thread", "process"]


@dataclass(frozen=True)
class ServerKind:
    name: str
    #: ``module:Class`` of the server; the module also runs as ``python -m``.
    target: str
    #: What tables and charts call it.
    label: str
    description: str
    #: The load generator's client workers default to this method against the kind.
    default_method: ClientMethod
    #: The dispatch of a kind that has no choice of it (``LOOP``: its event loops take
    #: what is ready); None: ``--dispatch ready|accept`` applies (a pool).
    fixed_dispatch: str | None = None
    #: Whether ``--workers N`` sizes it. A kind that starts what each connection needs
    #: (a thread per connection) has no N: the matrices run it once per load.
    sized: bool = True
    #: What its trace calls a worker, before the colon: ``thread:N``, ``process:PID``,
    #: ``loop:PID`` (docs/trace.md).
    worker: str = "thread"

    @property
    def dispatches(self) -> bool:
        """Whether ``--dispatch ready|accept`` applies."""
        return self.fixed_dispatch is None

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]

    def load(self) -> type[BaseServer]:
        module, _, name = self.target.partition(":")
        server_class: type[BaseServer] = getattr(importlib.import_module(module), name)
        return server_class


KINDS: dict[str, ServerKind] = {
    kind.name: kind
    for kind in (
        ServerKind(
            "thread",
            "fileproto.server.threadpool:ThreadPoolServer",
            "thread pool",
            "a pool of N threads in one process",
            "thread",
        ),
        ServerKind(
            "process",
            "fileproto.server.processpool:ProcessPoolServer",
            "process pool",
            "a pool of N worker processes that do their own socket I/O",
            "process",
            worker="process",
        ),
        ServerKind(
            "asyncio",
            "fileproto.server.eventloop:EventLoopServer",
            "asyncio event loops",
            "N processes, each one asyncio event loop, sharing the listening socket",
            "thread",
            fixed_dispatch=LOOP,
            worker="loop",
        ),
        ServerKind(
            "perconn",
            "fileproto.server.perconnection:ThreadPerConnectionServer",
            "thread per connection",
            "a thread started for each accepted connection, no pool (N does not apply)",
            "thread",
            fixed_dispatch="accept",
            sized=False,
        ),
    )
}

#: The kinds of the classic exercise: the 108-case matrix is made of these.
CLASSIC_KINDS: tuple[str, ...] = ("thread", "process")


#: Every kind in every dispatch mode it has: ``kind`` (its default) or ``kind-accept``,
#: with the ``fileproto serve`` arguments that select it.
MODES: dict[str, tuple[str, tuple[str, ...]]] = {
    **{name: (name, ()) for name in KINDS},
    **{
        f"{name}-accept": (name, ("--dispatch", "accept"))
        for name, kind in KINDS.items()
        if kind.dispatches
    },
}


def kind_names() -> tuple[str, ...]:
    return tuple(KINDS)


def get_kind(name: str) -> ServerKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown server kind {name!r}; choose from {', '.join(KINDS)}") from None
