"""A connection as it waits in the dispatcher, or goes from there to a worker: before its
first byte (``Fresh``: what its first deadline needs, no session), with its session
(``Parked``), or just accepted, for a worker that serves it to its end (``Accepted``,
the classic dispatch)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from fileproto.server.policy import Service
from fileproto.session import ServerSession


@dataclass(slots=True, eq=False)
class Fresh:
    """A connection that has sent nothing yet: what its first deadline needs, no more."""

    conn_id: int
    sock: socket.socket
    accepted_at: float


@dataclass(slots=True, eq=False)
class Parked:
    """A connection with a session, waiting here or handed to a worker from here."""

    conn_id: int
    sock: socket.socket
    session: ServerSession
    deadline: float
    writing: bool = False
    #: For a connection waiting to send: what its send queue held (``unsent_bytes``).
    unsent: int | None = None
    #: Every byte received since accept, while the session has only parsed them: a pool
    #: that makes the session in another process sends these instead of the session.
    received: bytearray | None = None
    #: When the connection was accepted, and when the first of those bytes arrived.
    accepted_at: float = 0.0
    first_at: float = 0.0
    #: Its place in the run queue and the worker time its request has had (``policy``).
    service: Service = field(default_factory=Service)

    @property
    def served(self) -> int:
        """Requests it finished: the run queue tells a new request by it."""
        return self.session.served

    @property
    def short(self) -> bool:
        """Its request asks little (LIST, DELETE): the run queue may run it first."""
        return self.session.asks_little

    @property
    def answer_size(self) -> int | None:
        """The size of the file its GET asks for, when it waits whole (else None)."""
        return self.session.asks_for


@dataclass(frozen=True, slots=True)
class Accepted:
    """A connection just accepted, for a worker to serve from accept to its close."""

    conn_id: int
    sock: socket.socket
    accepted_at: float
    service: Service = field(default_factory=Service)
    served = 0
    short = False
    answer_size = None


#: What waits in a pool's run queue for a worker.
Queued = Accepted | Parked
