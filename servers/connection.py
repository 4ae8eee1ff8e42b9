"""The worker's driver: one connection, moved by a ServerSession on a non-blocking socket.

Everything about what to answer and when to give up is the session's; this loop only
moves bytes. It reads and sends without waiting while bytes flow (no poll before each
call: a fast client costs one system call per piece). When the socket would block:

- in the readiness dispatch (``give_back``), the worker waits a moment (``HOLD``) for a
  client that is merely a little behind, then hands the connection back to the
  dispatcher with its session, mid-request or mid-response: a client that waits never
  holds a worker;
- in the classic dispatch, the worker waits on the socket until the session's deadline
  (the exercise as taught: a slow client holds its worker).

At a deadline the driver takes what already arrived and only then asks the session
(``timed_out``): the client is judged by what it sent, not by when a worker came.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import select
import socket
import struct
import termios
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fileproto import tcpinfo
from fileproto.session import Close, Receive, Send, ServerSession
from fileproto.store import FileStore
from servers.config import ServerConfig
from servers.trace import Tracer, trace_buffered, trace_wait, wait_reason, worker_name

log = logging.getLogger("fileproto.server")

#: Seconds a worker waits for a socket that would block before it gives the connection
#: back: short, so that twenty slow links each delivering ten bursts a second take a
#: fiftieth of one worker (20 x 10 x 1 ms).
HOLD = 0.001
#: A client whose exchange has moved FAST_RATE or more since its first byte (or that
#: began less than FAST_HOLD ago) is fast: it is only behind because it waits for a
#: core (fifty clients on two cores), and its worker waits up to FAST_HOLD for it.
#: Giving it back would interleave fast transfers (every client then finishes late:
#: measured 3-4x the per-client time of the 50-client matrix cases) and make a process
#: pool's session travel for nothing.
FAST_RATE = 8 << 20
FAST_HOLD = 0.05


@dataclass(frozen=True, slots=True)
class GiveBack:
    """The socket would block: the connection waits in the dispatcher for room to send
    (``writing``) or for bytes, with its session."""

    writing: bool
    #: Seconds the worker had waited on the client just before (the trace's).
    waited: float = 0.0


Outcome = Close | GiveBack


def peer_of(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"


def accepted_fields(sock: socket.socket) -> dict[str, Any]:
    """The ``accepted`` (or ``refused``) event's own keys for a socket just accepted:
    the client's address and, where the kernel tells it, how long the connection had
    waited in the listen queue (docs/trace.md)."""
    fields: dict[str, Any] = {"peer": peer_of(sock)}
    waited = tcpinfo.accept_wait(sock)
    if waited is not None:
        fields["accept_wait_s"] = waited
    return fields


def closed_fields(sock: socket.socket, close: Close) -> dict[str, Any]:
    """The ``closed`` event's own keys: why, which deadline, and, where the kernel tells
    it, how long before the server had last sent data on it (when the client had taken
    the last of its answer into its own buffers, docs/trace.md)."""
    fields: dict[str, Any] = {"reason": close.reason, "deadline": close.deadline}
    last = tcpinfo.since_sent(sock)
    if last is not None:
        fields["last_sent_s"] = last
    return fields


def unsent_bytes(sock: socket.socket) -> int | None:
    """Bytes sent but not yet taken by the client (Linux's SIOCOUTQ), or None where the
    system cannot say. A writable event comes only once half the send buffer is free,
    so a slow reader can make progress for longer than a send deadline without one:
    this tells it from a client that reads nothing."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0")
    except (OSError, AttributeError):
        return None
    value: int = struct.unpack("i", raw)[0]
    return value


def _wait(fd: int, writing: bool, timeout: float) -> bool:
    """Whether ``fd`` is ready within ``timeout`` seconds (an error or hang-up counts:
    the next call reports it)."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT if writing else select.POLLIN)
    return bool(poller.poll(max(0.0, timeout) * 1000.0))


def drive(
    sock: socket.socket,
    session: ServerSession,
    recv_size: int,
    give_back: bool,
    wanted: Callable[[], bool] | None = None,
) -> Outcome:
    """Run the session on the non-blocking ``sock`` until it closes (the Close) or, with
    ``give_back``, until the socket would block (a GiveBack); ``wanted`` says whether
    another connection waits for a worker. Raises OSError when the connection breaks."""
    fd = sock.fileno()
    expired = False  # the last wait reached the session's deadline
    while True:
        now = time.monotonic()
        action = session.next_action(now)
        if isinstance(action, Send):
            try:
                count = sock.send(action.data)
            except BlockingIOError:
                count = 0
            if count:
                served = session.served
                session.sent(count, now)
                if session.served != served:
                    trace_buffered(session, unsent_bytes(sock))
                expired = False
                continue
            writing = True
        elif isinstance(action, Receive):
            try:
                data = sock.recv(recv_size)
            except BlockingIOError:
                pass
            else:
                session.receive_data(data, time.monotonic())
                expired = False
                continue
            writing = False
        else:
            return action
        # The socket would block.
        if expired:
            # The wait ended at the deadline and nothing more came: the session judges.
            expired = False
            session.timed_out(time.monotonic())
            continue
        now = time.monotonic()
        left = session.deadline - now
        why = wait_reason(session, writing)
        if give_back:
            if not writing and session.idle and left > HOLD:
                # Between requests: the next one may be far off, and a client that sends
                # it at once must queue behind the others, not keep its worker.
                return GiveBack(False)
            moved, elapsed = session.pace(now)
            # Too early to tell (a client starting up among many): treated as fast.
            fast = elapsed < FAST_HOLD or moved >= FAST_RATE * elapsed
            hold = FAST_HOLD if fast else HOLD
            ready = _wait(fd, writing, min(hold, left))
            end = time.monotonic()
            if not ready and left > hold and (not fast or wanted is None or wanted()):
                # The wait just made goes to the trace with the give-back.
                return GiveBack(writing, end - now)
            # Ready, or fast and no connection waits for a worker: keep it (its pace
            # falls while it waits, so a client that stops is given back all the same).
            trace_wait(session, why, now, end)
            if ready or left > hold:
                continue
        else:
            queued = unsent_bytes(sock) if writing else None
            ready = _wait(fd, writing, left)
            trace_wait(session, why, now, time.monotonic())
            if ready:
                continue
            if queued is not None and (unsent_bytes(sock) or 0) < queued:
                session.client_read(time.monotonic())  # slow, not stalled: wait on
                continue
        expired = True


#: Sends tried for the answer of a connection closed without a worker (an error answer
#: is small: one or two).
_CLOSING_STEPS = 8


def send_closing(sock: socket.socket, session: ServerSession) -> Close:
    """Send the answer of a session that is closing (refused, or past a deadline) on
    the non-blocking ``sock`` without waiting, and return its Close. With no room for
    the answer, it is dropped: the connection ends all the same."""
    for _ in range(_CLOSING_STEPS):
        action = session.next_action(time.monotonic())
        if isinstance(action, Close):
            session.abort()
            return action
        if not isinstance(action, Send):
            break
        try:
            count = sock.send(action.data)
        except OSError:
            break
        session.sent(count, time.monotonic())
        if count < len(action.data):
            break
    session.abort()
    return Close("answer not sent: the client takes nothing", "error")


def given_back_fields(session: ServerSession, outcome: GiveBack) -> dict[str, Any]:
    """The ``given_back`` event's own keys: why (docs/trace.md), and how long the worker
    had waited on the client just before."""
    return {"why": wait_reason(session, outcome.writing), "waited_s": round(outcome.waited, 6)}


def serve_connection(
    sock: socket.socket,
    store: FileStore,
    config: ServerConfig,
    accepted_at: float,
    tracer: Tracer | None = None,
    conn: object = None,
) -> Close:
    """Serve ``sock`` from accept to its Close (the classic dispatch). The caller ends
    the connection as the Close says (it holds the descriptor that outlives this one)."""
    peer = peer_of(sock)
    if config.verbose:
        log.info("%s: connected", peer)
    trace = None if tracer is None else tracer.for_conn(conn)
    session = ServerSession(store, config.limits, accepted_at, trace)
    if tracer is not None:
        tracer.event(conn, "taken", worker=worker_name())
    sock.setblocking(False)
    try:
        outcome = drive(sock, session, config.recv_size, give_back=False)
        assert isinstance(outcome, Close)
        close = outcome
        log.info("%s: closing: %s", peer, close.reason)
    except OSError as exc:
        close = Close(f"connection lost: {exc}", "error")
        log.info("%s: connection lost: %s", peer, exc)
    finally:
        session.abort()
    if tracer is not None:
        tracer.event(conn, "closed", **closed_fields(sock, close))
    return close


def end_connection(sock: socket.socket) -> None:
    # shutdown, not just close: in the process pool the parent holds another
    # descriptor of this socket, and close alone would not end the connection.
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
