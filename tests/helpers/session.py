"""Driving a ServerSession directly: no sockets, no real clock (docs/architecture.md)."""

from __future__ import annotations

import json

from fileproto.session import Close, Limits, Receive, Send, ServerSession
from fileproto.store import FileStore
from fileproto.wire import TERMINATOR

LIMITS = Limits(header_timeout=20.0, min_rate=500.0, keepalive_timeout=30.0, read_chunk=3 * 64)


def run_session(store: FileStore, pieces: list[bytes], now: float = 0.0) -> tuple[bytes, Close]:
    """Feed ``pieces`` one at a time, as fast as the session asks; return what it sent."""
    session = ServerSession(store, LIMITS, accepted_at=now)
    out = bytearray()
    feed = iter([*pieces, b""])
    for _ in range(100_000):
        action = session.next_action(now)
        if isinstance(action, Send):
            out += action.data
            session.sent(len(action.data), now)
        elif isinstance(action, Receive):
            session.receive_data(next(feed), now)
        else:
            return bytes(out), action
    raise AssertionError("the session never closed")


def responses(stream: bytes) -> list[dict[str, object]]:
    parts = stream.split(TERMINATOR)
    assert parts[-1] == b"", "the output ends in the middle of a response"
    return [json.loads(p) for p in parts[:-1]]
