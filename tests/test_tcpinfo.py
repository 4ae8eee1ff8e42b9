"""What the kernel tells about a connection (fileproto/tcpinfo.py), checked on real
loopback sockets: a listener that accepts late, a peer that does not read."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator

import pytest

from fileproto.tcpinfo import accept_wait, since_sent, stalls, tcp_info

pytestmark = [
    pytest.mark.smoke,
    pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO is Linux's"),
]

#: One kernel tick at the coarsest common HZ (100): the kernel's times are counted in
#: ticks, so a reading may fall short of the truth by up to one.
TICK = 0.01
LATE = 0.2


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def test_the_wait_to_be_accepted_is_counted_from_the_handshake(listener: socket.socket) -> None:
    with socket.create_connection(listener.getsockname()):
        time.sleep(LATE)
        accepted, _ = listener.accept()
        with accepted:
            waited = accept_wait(accepted)
    assert waited is not None and waited >= LATE - TICK


def test_data_the_client_sent_before_accept_does_not_count(listener: socket.socket) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        client.sendall(b"hello")
        time.sleep(LATE)
        accepted, _ = listener.accept()
        with accepted:
            waited = accept_wait(accepted)
            accepted.sendall(b"answer")
            # Once the server has sent, the field says since when (no longer the wait).
            after = since_sent(accepted)
    assert waited is not None and waited >= LATE - TICK
    assert after is not None and after < waited


def test_a_peer_that_does_not_read_closes_its_window_on_the_sender(
    listener: socket.socket,
) -> None:
    with socket.create_connection(listener.getsockname()) as client:
        peer, _ = listener.accept()
        with peer:
            before = tcp_info(client)
            client.setblocking(False)
            sent = 0
            for _ in range(100_000):  # until both buffers are full
                try:
                    sent += client.send(b"x" * 65536)
                except BlockingIOError:
                    break
            time.sleep(LATE)
            after = tcp_info(client)
    held = stalls(before, after)
    assert sent > 0 and held is not None
    # The sender had data to send the whole time and the window was closed.
    assert held.rwnd_limited_s >= LATE - TICK
    assert held.busy_s >= held.rwnd_limited_s
    assert after is not None and after.notsent_bytes and after.notsent_bytes > 0


def test_a_socket_without_tcp_info_says_nothing() -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        assert tcp_info(sock) is None
    assert stalls(None, None) is None
