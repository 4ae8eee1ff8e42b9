"""What Linux tells about a TCP connection (``getsockopt(TCP_INFO)``): the few fields
the servers and the client read, and nothing per byte (docs/trace.md).

The offsets are those of ``struct tcp_info`` in ``<linux/tcp.h>``, which only ever grows
at its end; a kernel older than a field returns a shorter struct, and the field reads
as unknown (None). Every time the kernel gives here is counted in jiffies, so it is
exact to one jiffy (``CONFIG_HZ``: 4 ms at HZ=250, 1 ms at HZ=1000).

- ``last_data_sent``: milliseconds since the connection last sent data. On a socket
  just accepted that has sent nothing yet, that is since the kernel created it, the
  moment the handshake completed: how long it waited in the listen queue to be
  accepted.
- ``busy_time``, ``rwnd_limited``, ``sndbuf_limited`` (Linux 4.10+): microseconds the
  connection had data of ours not yet acknowledged, and of that, stalled because the
  peer's receive window was closed (the peer's program did not read: its receive buffer
  was full) or because our own send buffer was too small. Counted over the
  connection's life: a request's share is the difference of two readings.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

#: Byte offsets in struct tcp_info (include/uapi/linux/tcp.h).
_LAST_DATA_SENT = 44  # __u32, ms
_NOTSENT_BYTES = 144  # __u32
_BUSY_TIME = 168  # __u64, µs; then rwnd_limited and sndbuf_limited, __u64 µs each
_CHRONO_END = _BUSY_TIME + 24
#: Enough for every field read here (the struct is 280 bytes on Linux 6.18).
_ASK = 256

_TCP_INFO = getattr(socket, "TCP_INFO", None)


@dataclass(frozen=True, slots=True)
class TcpInfo:
    """One reading of a connection's TCP_INFO; None: the kernel does not say."""

    last_data_sent_s: float | None
    notsent_bytes: int | None
    busy_s: float | None
    rwnd_limited_s: float | None
    sndbuf_limited_s: float | None


@dataclass(frozen=True, slots=True)
class Stalls:
    """Seconds of a stretch of time (between two readings) during which our data was
    not all acknowledged (``busy_s``), and of that, held back by the peer's closed
    receive window (``rwnd_limited_s``) or by our full send buffer
    (``sndbuf_limited_s``)."""

    busy_s: float
    rwnd_limited_s: float
    sndbuf_limited_s: float

    def as_dict(self) -> dict[str, float]:
        return {
            "busy_s": self.busy_s,
            "rwnd_limited_s": self.rwnd_limited_s,
            "sndbuf_limited_s": self.sndbuf_limited_s,
        }


def _u32(raw: bytes, offset: int) -> int | None:
    return struct.unpack_from("=I", raw, offset)[0] if len(raw) >= offset + 4 else None


def tcp_info(sock: socket.socket) -> TcpInfo | None:
    """The connection's TCP_INFO now, or None where the system has none (not Linux, not
    TCP, the socket closed)."""
    if _TCP_INFO is None:
        return None
    try:
        raw = sock.getsockopt(socket.IPPROTO_TCP, _TCP_INFO, _ASK)
    except (OSError, ValueError):
        return None
    last_sent = _u32(raw, _LAST_DATA_SENT)
    if len(raw) >= _CHRONO_END:
        busy, rwnd, sndbuf = (v / 1e6 for v in struct.unpack_from("=3Q", raw, _BUSY_TIME))
    else:
        busy = rwnd = sndbuf = None
    return TcpInfo(
        None if last_sent is None else last_sent / 1000,
        _u32(raw, _NOTSENT_BYTES),
        busy,
        rwnd,
        sndbuf,
    )


def since_sent(sock: socket.socket) -> float | None:
    """Seconds since the connection last sent data (on a socket that has sent none:
    since its handshake completed), exact to one jiffy; None where the kernel does not
    say."""
    info = tcp_info(sock)
    return None if info is None else info.last_data_sent_s


def accept_wait(sock: socket.socket) -> float | None:
    """Seconds a connection just accepted waited in the listen queue (from the end of
    its handshake), exact to one jiffy; None where the kernel does not say. Only
    meaningful before the server sent anything on it."""
    return since_sent(sock)


def stalls(before: TcpInfo | None, after: TcpInfo | None) -> Stalls | None:
    """What happened between two readings of one connection, or None if either lacks
    the figures."""
    if before is None or after is None:
        return None
    pairs = (
        (before.busy_s, after.busy_s),
        (before.rwnd_limited_s, after.rwnd_limited_s),
        (before.sndbuf_limited_s, after.sndbuf_limited_s),
    )
    deltas = []
    for old, new in pairs:
        if old is None or new is None:
            return None
        deltas.append(round(max(0.0, new - old), 6))
    return Stalls(*deltas)
