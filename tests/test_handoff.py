"""The process pool's hand-off record across a channel and back, in this process: what
goes in comes out, descriptors by name refer to the same socket and files, a session
that travels mid-upload goes on where it stopped, and a channel whose other end is gone
or that carries something else is told apart from a record."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from fileproto.server import handoff
from fileproto.server.handoff import SOCKET, Handoff, Job
from fileproto.session import Close, Limits, Receive, ServerSession
from fileproto.store import FileStore
from fileproto.trace import CloseKind, Deadline
from fileproto.wire import TERMINATOR
from tests.helpers.drivers import answers, pair, read_answer

pytestmark = pytest.mark.smoke


@pytest.fixture
def channel() -> tuple[socket.socket, socket.socket]:
    parent, worker = socket.socketpair()
    parent.settimeout(10.0)
    worker.settimeout(10.0)
    return parent, worker


def test_a_first_take_carries_the_bytes_and_the_socket(
    channel: tuple[socket.socket, socket.socket],
) -> None:
    parent, worker = channel
    server_end, client = pair()
    sent = Handoff(Job.FIRST, 41, {SOCKET: server_end.fileno()}, b"LIST\r\n\r\n", 12.5, 13.25)
    handoff.send(parent, sent)
    got = handoff.receive(worker)
    assert got is not None
    assert (got.job, got.conn_id, got.payload, got.accepted_at, got.first_at) == (
        Job.FIRST,
        41,
        b"LIST\r\n\r\n",
        12.5,
        13.25,
    )
    assert list(got.fds) == [SOCKET] and got.fds[SOCKET] != server_end.fileno()
    # The received descriptor is the same connection: what is sent on it reaches the client.
    with socket.socket(fileno=got.fds[SOCKET]) as copy:
        copy.sendall(b"hello")
    assert client.recv(5) == b"hello"


def test_a_session_travels_mid_upload_and_back(
    channel: tuple[socket.socket, socket.socket], tmp_path: Path
) -> None:
    parent, worker = channel
    store = FileStore(tmp_path)
    session = ServerSession(store, Limits(), 0.0)
    session.receive_data(b"UPLOAD moved.bin QUJD", 0.0)
    assert isinstance(session.next_action(0.0), Receive)
    server_end, client = pair()
    record = handoff.carrying_session(Job.SESSION, 7, server_end.fileno(), session)
    assert set(record.fds) == {SOCKET, "upload"}
    handoff.send(parent, record)
    os.close(session.descriptors()["upload"])  # the sender's copy goes: the session moved
    got = handoff.receive(worker)
    assert got is not None and got.job is Job.SESSION and got.conn_id == 7
    moved = got.session()
    moved.adopt(store, {name: fd for name, fd in got.fds.items() if name != SOCKET})
    moved.receive_data(b"REVG" + TERMINATOR, 1.0)
    with socket.socket(fileno=got.fds[SOCKET]) as sock:
        sock.setblocking(False)
        for _ in range(10):
            action = moved.next_action(1.0)
            if isinstance(action, Receive):
                break
            sock.sendall(action.data)
            moved.sent(len(action.data), 1.0)
    assert answers(read_answer(client))[0]["status"] == "OK"
    assert (tmp_path / "moved.bin").read_bytes() == b"ABCDEF"


def test_a_close_comes_back_whole(channel: tuple[socket.socket, socket.socket]) -> None:
    parent, worker = channel
    close = Close("header deadline", CloseKind.DEADLINE, Deadline.HEADER, 2.0)
    handoff.send(worker, handoff.closed(3, close))
    got = handoff.receive(parent)
    assert got is not None and got.job is Job.CLOSED and got.fds == {}
    assert got.close() == close


def test_a_descriptor_without_a_name_is_refused(
    channel: tuple[socket.socket, socket.socket],
) -> None:
    parent, _ = channel
    with pytest.raises(ValueError, match="no descriptor named"):
        handoff.send(parent, Handoff(Job.FIRST, 1, {"stdin": 0}))


def test_the_end_of_the_channel_is_no_record(
    channel: tuple[socket.socket, socket.socket],
) -> None:
    parent, worker = channel
    worker.close()  # the worker is gone
    assert handoff.receive(parent) is None


def test_a_record_cut_short_is_an_error(channel: tuple[socket.socket, socket.socket]) -> None:
    parent, worker = channel
    # A whole record's bytes, taken off another channel: sent without their last 90
    # bytes, then the end of the channel.
    left, right = socket.socketpair()
    handoff.send(left, Handoff(Job.FIRST, 1, payload=b"x" * 100))
    left.close()
    whole = b"".join(iter(lambda: right.recv(4096), b""))
    worker.sendall(whole[:-90])
    worker.close()
    with pytest.raises(ValueError, match="ended inside a record"):
        handoff.receive(parent)
