"""A connection crossing between the process pool's parent and a worker process: one
typed record, packed and unpacked here and nowhere else (docs/architecture.md, "The
server session and the dispatch modes").

Each worker has a channel of its own, a Unix socket pair. A record travels as a fixed
header that carries the connection's descriptors by name (``socket.send_fds``: the
kernel gives the other process its own copies), then its payload. Which names it
carries is a bit mask in the header, so nothing depends on an order: the socket, and
the session's own (``fileproto.session.DESCRIPTORS``: an upload's temporary file, the
file a GET streams). The first take of a connection carries the bytes of its request
as they arrived and no session: the worker makes the session. Only a session that
already did something (a request in flight, a response half sent, requests served)
travels pickled.
"""

from __future__ import annotations

import contextlib
import enum
import os
import pickle
import socket
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field

from fileproto.session import DESCRIPTORS, Close, ServerSession

#: The descriptors a record may carry, by name: the connection's socket first.
SOCKET = "socket"
NAMES = (SOCKET, *DESCRIPTORS)


class Job(enum.IntEnum):
    """What a record asks of the side that receives it."""

    #: Parent -> worker: serve the connection from accept to its close (classic).
    ACCEPTED = 1
    #: Parent -> worker: a request arrived on a connection that had none; ``payload``
    #: is every byte received since accept. The worker makes the session.
    FIRST = 2
    #: Parent -> worker: go on with this session (``payload``: the pickled session).
    SESSION = 3
    #: Worker -> parent: the socket would block: the session (pickled) waits in the
    #: parent for bytes, or for room to send (``writing``).
    GIVEN_BACK = 4
    #: Worker -> parent: the connection is over (``payload``: the pickled Close).
    CLOSED = 5
    #: Worker -> parent, once: the worker has started and waits for work.
    STARTED = 6


# job, mask of NAMES carried, writing, preempted, connection id, accepted at, first byte
# at, payload size, place in the run queue, service so far
_HEADER = struct.Struct("<BB??xxxxqddQqd")


@dataclass(frozen=True, slots=True)
class Handoff:
    job: Job
    conn_id: int = -1
    #: Descriptors by name (``NAMES``); the receiver owns the copies it got.
    fds: Mapping[str, int] = field(default_factory=dict)
    payload: bytes = b""
    #: FIRST and ACCEPTED: when the connection was accepted; FIRST: its first byte.
    accepted_at: float = 0.0
    first_at: float = 0.0
    #: GIVEN_BACK: the connection waits for room to send, not for bytes.
    writing: bool = False
    #: Parent -> worker: the request's place in arrival order and the worker time it has
    #: had (``policy.Service``), for the worker's quantum.
    seq: int = -1
    attained: float = 0.0
    #: GIVEN_BACK: let go while its bytes still moved (``policy.Quantum``): it goes back
    #: to the run queue at once.
    preempted: bool = False

    def session(self) -> ServerSession:
        """The session a SESSION or GIVEN_BACK record carries (still to ``adopt``)."""
        session = pickle.loads(self.payload)
        assert isinstance(session, ServerSession)
        return session

    def close(self) -> Close:
        """The Close a CLOSED record carries."""
        close = pickle.loads(self.payload)
        assert isinstance(close, Close)
        return close


def carrying_session(
    job: Job,
    conn_id: int,
    sock_fd: int | None,
    session: ServerSession,
    writing: bool = False,
    seq: int = -1,
    attained: float = 0.0,
    preempted: bool = False,
) -> Handoff:
    """A record that moves ``session`` and its descriptors (with the socket's, when the
    receiver has none of its own)."""
    fds = session.descriptors() if sock_fd is None else {SOCKET: sock_fd, **session.descriptors()}
    payload = pickle.dumps(session, pickle.HIGHEST_PROTOCOL)
    return Handoff(
        job, conn_id, fds, payload, writing=writing, seq=seq, attained=attained, preempted=preempted
    )


def closed(conn_id: int, close: Close) -> Handoff:
    return Handoff(Job.CLOSED, conn_id, payload=pickle.dumps(close, pickle.HIGHEST_PROTOCOL))


def send(channel: socket.socket, record: Handoff) -> None:
    """Send ``record`` on the blocking ``channel``; OSError when the other side is gone.
    The sender keeps its own descriptors (the receiver gets copies)."""
    unknown = set(record.fds) - set(NAMES)
    if unknown:
        raise ValueError(f"no descriptor named {sorted(unknown)}")
    names = [name for name in NAMES if name in record.fds]
    mask = sum(1 << NAMES.index(name) for name in names)
    header = _HEADER.pack(
        record.job,
        mask,
        record.writing,
        record.preempted,
        record.conn_id,
        record.accepted_at,
        record.first_at,
        len(record.payload),
        record.seq,
        record.attained,
    )
    socket.send_fds(channel, [header], [record.fds[name] for name in names])
    if record.payload:
        channel.sendall(record.payload)


def receive(channel: socket.socket) -> Handoff | None:
    """The next record on the blocking ``channel``, or None when the other side has
    gone (its end closed, or it died). ValueError for a record that is not one."""
    data, fds, flags, _ = socket.recv_fds(channel, _HEADER.size, len(NAMES))
    if not data:
        _close_all(fds)
        return None
    try:
        data += _exactly(channel, _HEADER.size - len(data))
        job, mask, writing, preempted, conn_id, accepted_at, first_at, size, seq, attained = (
            _HEADER.unpack(data)
        )
        names = [name for i, name in enumerate(NAMES) if mask & (1 << i)]
        if flags & socket.MSG_CTRUNC or len(names) != len(fds):
            raise ValueError(f"expected descriptors {names}, got {len(fds)}")
        payload = _exactly(channel, size)
        return Handoff(Job(job), conn_id, dict(zip(names, fds, strict=True)), payload,
                       accepted_at, first_at, writing, seq, attained, preempted)  # fmt: skip
    except BaseException:
        _close_all(fds)
        raise


def _exactly(channel: socket.socket, size: int) -> bytes:
    parts = []
    while size > 0:
        part = channel.recv(min(size, 1 << 20))
        if not part:
            raise ValueError("the channel ended inside a record")
        parts.append(part)
        size -= len(part)
    return b"".join(parts)


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
