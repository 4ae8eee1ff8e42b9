"""The blocking driver: one connection, one worker, moved by a ServerSession.

Everything about what to answer and when to give up is the session's; this loop only
moves bytes between a blocking socket and the session, honouring the deadline the
session gives for each wait and ``send_timeout`` for each send.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import time
from collections.abc import Callable

from fileproto.session import Close, Receive, Send, ServerSession
from fileproto.store import FileStore
from servers.config import ServerConfig

log = logging.getLogger("fileproto.server")

#: Called when the session waits for a new request: True means the connection was
#: handed back to a selector (readiness dispatch) and the worker is free.
Park = Callable[[ServerSession, Receive], bool]
SEND_DEADLINE = "send deadline: the client reads nothing of the response"


def peer_of(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"


def drive(
    sock: socket.socket,
    session: ServerSession,
    recv_size: int,
    park: Park | None = None,
) -> Close | None:
    """Run the session on ``sock`` until it closes (returns the Close) or is parked
    (returns None). Raises OSError when the connection breaks."""
    send_timeout = session.limits.send_timeout
    while True:
        now = time.monotonic()
        action = session.next_action(now)
        if isinstance(action, Send):
            if action.data and not _send(sock, action.data, send_timeout):
                session.abort()
                return Close(SEND_DEADLINE, "deadline")
        elif isinstance(action, Receive):
            if park is not None and action.parkable and park(session, action):
                return None
            # Past the deadline, still take what already arrived: the session judges
            # the client by what it sent, not by when a worker came to read it.
            sock.settimeout(max(0.0, action.deadline - now))
            try:
                data = sock.recv(recv_size)
            except (TimeoutError, BlockingIOError):
                session.timed_out(time.monotonic())
                continue
            session.receive_data(data, time.monotonic())
        else:
            return action


def _send(sock: socket.socket, data: bytes, timeout: float) -> bool:
    """Send all of ``data``; False if the client took nothing for ``timeout`` seconds.
    Each send waits at most that long for room and takes what fits, so a client that
    reads slowly but steadily is never cut off (sendall's timeout bounds the total)."""
    sock.settimeout(timeout)
    view = memoryview(data)
    while view:
        try:
            sent = sock.send(view)
        except TimeoutError:
            return False
        view = view[sent:]
    return True


def serve_connection(
    sock: socket.socket,
    store: FileStore,
    config: ServerConfig,
    accepted_at: float | None = None,
) -> None:
    """Serve ``sock`` from accept to close (the classic dispatch); then close it."""
    peer = peer_of(sock)
    if config.verbose:
        log.info("%s: connected", peer)
    started = time.monotonic() if accepted_at is None else accepted_at
    session = ServerSession(store, config.limits, started)
    try:
        close = drive(sock, session, config.recv_size)
        if close is not None:
            log.info("%s: closing: %s", peer, close.reason)
    except OSError as exc:
        log.info("%s: connection lost: %s", peer, exc)
    finally:
        session.abort()
        end_connection(sock)
        if config.verbose:
            log.info("%s: closed", peer)


def end_connection(sock: socket.socket) -> None:
    # shutdown, not just close: in the process pool the parent holds another
    # descriptor of this socket, and close alone would not end the connection.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
