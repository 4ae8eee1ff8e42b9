"""One worker's turn with a connection, the same in every pool, thread or process
(docs/architecture.md, "The server session and the dispatch modes").

Taken (traced, with the worker's name), driven while its bytes move, then either given
back with its session (traced, with why) or over: the session lets go of its files and
the turn returns the Close, for the pool to end the connection with
(``PoolServer.finished``, which traces ``closed``).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

from fileproto.server.drive import GiveBack, Outcome, drive, given_back_fields
from fileproto.server.policy import Quantum
from fileproto.server.sockets import peer_of
from fileproto.server.tracer import Tracer, worker_name
from fileproto.session import Close, Limits, ServerSession
from fileproto.store import FileStore
from fileproto.trace import CloseKind, Closing, Ev

log = logging.getLogger("fileproto.server")


def new_session(
    store: FileStore, limits: Limits, conn_id: int, accepted_at: float, tracer: Tracer | None
) -> ServerSession:
    """The session of connection ``conn_id``, traced when the server traces."""
    trace = None if tracer is None else tracer.for_conn(conn_id)
    return ServerSession(store, limits, accepted_at, trace)


def turn(
    conn_id: int,
    sock: socket.socket,
    session: ServerSession,
    recv_size: int,
    tracer: Tracer | None,
    give_back: bool,
    someone_waits: Callable[[], bool] | None = None,
    preempt: Quantum | None = None,
) -> Outcome:
    """One turn on the non-blocking ``sock``: with ``give_back`` (the readiness
    dispatch) until its socket would block, its quantum says to let go (``preempt``,
    a preemptive schedule) or it closes, else (classic) to its close."""
    if not give_back and log.isEnabledFor(logging.INFO):
        log.info("%s: connected", peer_of(sock))
    if tracer is not None:
        tracer.event(conn_id, Ev.TAKEN, worker=worker_name())
    outcome: Outcome
    try:
        outcome = drive(sock, session, recv_size, give_back, someone_waits, preempt=preempt)
    except OSError as exc:
        outcome = Close(f"connection lost: {exc}", CloseKind.ERROR)
    except Exception:
        log.exception("%s: serving failed", peer_of(sock))
        outcome = Close(Closing.SERVING_FAILED, CloseKind.ERROR)
    if isinstance(outcome, GiveBack):
        if tracer is not None:
            tracer.event(conn_id, Ev.GIVEN_BACK, **given_back_fields(session, outcome))
        return outcome
    session.abort()
    return outcome
