"""The worker's driver: one connection, moved by a ServerSession on a non-blocking socket.

Everything about what to answer and when to give up is the session's, everything about
sharing workers is ``policy``'s; this loop only moves bytes. It reads and sends without
waiting while bytes flow (no poll before each call: a fast client costs one system call
per piece). When the socket would block:

- in the readiness dispatch (``give_back``), the worker waits a moment (``policy.hold``)
  for a client that is merely a little behind, then hands the connection back to the
  dispatcher with its session, mid-request or mid-response: a client that waits never
  holds a worker;
- in the classic dispatch, the worker waits on the socket until the session's deadline
  (the exercise as taught: a slow client holds its worker).

At a deadline the driver takes what already arrived and only then asks the session
(``timed_out``): the client is judged by what it sent, not by when a worker came.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fileproto.server import policy
from fileproto.server.sockets import unsent_bytes, wait_ready
from fileproto.server.tracer import trace_buffered, trace_wait, wait_why
from fileproto.session import Close, Receive, Send, ServerSession
from fileproto.trace import CloseKind, Closing, Preemption


@dataclass(frozen=True, slots=True)
class GiveBack:
    """The socket would block: the connection waits in the dispatcher for room to send
    (``writing``) or for bytes, with its session."""

    writing: bool
    #: Seconds the worker had waited on the client just before (the trace's).
    waited: float = 0.0
    #: Given back while its bytes still moved: its quantum was over and another
    #: connection was to run first (``policy.Quantum``).
    preempted: Preemption | None = None


Outcome = Close | GiveBack


def given_back_fields(session: ServerSession, outcome: GiveBack) -> dict[str, Any]:
    """The ``given_back`` event's own keys: why (docs/trace.md), and how long the worker
    had waited on the client just before."""
    fields: dict[str, Any] = {
        "why": wait_why(session, outcome.writing),
        "waited_s": round(outcome.waited, 6),
    }
    if outcome.preempted is not None:
        fields["preempted"] = outcome.preempted
    return fields


def drive(
    sock: socket.socket,
    session: ServerSession,
    recv_size: int,
    give_back: bool,
    someone_waits: Callable[[], bool] | None = None,
    clock: Callable[[], float] = time.monotonic,
    wait: Callable[[int, bool, float], bool] = wait_ready,
    preempt: Callable[[float], Preemption | None] | None = None,
) -> Outcome:
    """Run the session on the non-blocking ``sock`` until it closes (the Close) or, with
    ``give_back``, until the socket would block or ``preempt`` (asked with the time
    after each piece that moved) says why to let go (a GiveBack); ``someone_waits`` says
    whether another connection waits for a worker. ``clock`` and ``wait`` are the time
    and the wait for a ready socket (a test's fake ones). Raises OSError when the
    connection breaks."""
    fd = sock.fileno()
    expired = False  # the last wait reached the session's deadline
    while True:
        now = clock()
        action = session.next_action(now)
        if isinstance(action, Send):
            try:
                count = sock.send(action.data)
            except BlockingIOError:
                count = 0
            if count:
                served = session.served
                session.sent(count, now)
                if session.served != served and session.trace is not None:
                    trace_buffered(session, unsent_bytes(sock))
                expired = False
                if preempt is not None and (why_now := preempt(now)) is not None:
                    return _preempted(session, why_now, now)
                continue
            writing = True
        elif isinstance(action, Receive):
            try:
                data = sock.recv(recv_size)
            except BlockingIOError:
                pass
            else:
                session.receive_data(data, clock())
                expired = False
                if preempt is not None and (why_now := preempt(now)) is not None:
                    return _preempted(session, why_now, now)
                continue
            writing = False
        else:
            return action
        # The socket would block.
        if expired:
            # The wait ended at the deadline and nothing more came: the session judges.
            expired = False
            session.timed_out(clock())
            continue
        now = clock()
        left = session.deadline - now
        why = wait_why(session, writing)
        if give_back:
            if policy.gives_back_at_once(writing, session.idle, left):
                return GiveBack(False)
            held = policy.hold(*session.pace(now))
            ready = wait(fd, writing, min(held.seconds, left))
            end = clock()
            if not ready and left > held.seconds:
                waits = someone_waits is None or someone_waits()
                if not policy.keeps(held, waits):
                    return GiveBack(writing, end - now)  # the wait goes with the give-back
            # Ready, or kept: the wait was the worker's, on this client.
            trace_wait(session, why, now, end)
            if ready or left > held.seconds:
                continue
        else:
            before = unsent_bytes(sock) if writing else None
            ready = wait(fd, writing, left)
            trace_wait(session, why, now, clock())
            if ready:
                continue
            if policy.reader_moved(before, unsent_bytes(sock) if writing else None):
                session.client_read(clock())  # slow, not stalled: wait on
                continue
        expired = True


def _preempted(session: ServerSession, why: Preemption, now: float) -> Outcome:
    """Let go of a connection whose bytes still move: it waits in the dispatcher for
    what it waited for (room to send a response in progress, or bytes), and from there
    joins the run queue at once when its socket is ready."""
    action = session.next_action(now)
    if isinstance(action, Close):
        return action
    return GiveBack(isinstance(action, Send), preempted=why)


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
    return Close(Closing.NOT_SENT, CloseKind.ERROR)
