"""What a hand-off costs the process pool (docs/architecture.md, "The server session and
the dispatch modes"): one record to a worker process and its answer back, over a socket
pair, as ``fileproto.server.handoff`` packs them.

- first take: the request's bytes and the socket, no session (every new connection);
- idle give-back: a session between requests, pickled (after every response);
- mid-response: a session with a 512 KiB response piece in hand (a reader that fell
  behind, with 50 workers' buffer sizes), pickled both ways.

Each figure is the median of N round trips (send, the other process receives, unpickles
what it got, and sends an answer of the same kind back)::

    .venv/bin/python benchmarks/handoff_cost.py

A measurement, never asserted in a test; timings move with how busy the machine is.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fileproto.server import handoff
from fileproto.server.config import buffer_sizes
from fileproto.server.handoff import SOCKET, Handoff, Job
from fileproto.session import Limits, Receive, ServerSession
from fileproto.store import FileStore
from fileproto.wire import encode_request


def echo(channel: socket.socket) -> None:
    """The worker's side: take each record (unpickling a session it carries) and send
    one like it back."""
    while (record := handoff.receive(channel)) is not None:
        if record.job in (Job.SESSION, Job.GIVEN_BACK):
            record.session()
        for fd in record.fds.values():
            os.close(fd)
        handoff.send(channel, Handoff(record.job, record.conn_id, payload=record.payload))


def sessions(root: Path) -> tuple[ServerSession, ServerSession]:
    """(a session between requests, one with a 512 KiB piece of a GET in hand)."""
    store = FileStore(root)
    _, read_chunk = buffer_sizes(50)
    limits = Limits(read_chunk=read_chunk)
    idle = ServerSession(store, limits, 0.0)
    idle.receive_data(encode_request("LIST"), 0.0)
    while not isinstance(action := idle.next_action(0.0), Receive):
        idle.sent(len(action.data), 0.0)
    (root / "big.bin").write_bytes(os.urandom(4 * read_chunk))
    sending = ServerSession(store, limits, 0.0)
    sending.receive_data(encode_request("GET", "big.bin"), 0.0)
    prefix = sending.next_action(0.0)
    assert not isinstance(prefix, Receive)
    sending.sent(len(prefix.data), 0.0)
    piece = sending.next_action(0.0)
    assert not isinstance(piece, Receive)
    sending.sent(1000, 0.0)  # a little of the piece went out
    return idle, sending


def round_trips(channel: socket.socket, record: Handoff, rounds: int) -> float:
    """Median seconds of one record there and its answer back."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        handoff.send(channel, record)
        answer = handoff.receive(channel)
        times.append(time.perf_counter() - start)
        assert answer is not None and answer.job is record.job
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=500, help="(default: %(default)s)")
    args = parser.parse_args(argv)
    parent, child = socket.socketpair()
    worker = multiprocessing.get_context("fork").Process(target=echo, args=(child,))
    worker.start()
    child.close()
    conn, peer = socket.socketpair()
    try:
        with tempfile.TemporaryDirectory(prefix="fileproto-handoff-") as root:
            idle, sending = sessions(Path(root))
            cases = {
                "first take (request bytes + socket)": Handoff(
                    Job.FIRST, 1, {SOCKET: conn.fileno()}, encode_request("GET", "big.bin")
                ),
                "idle give-back (a pickled session)": handoff.carrying_session(
                    Job.GIVEN_BACK, 1, None, idle
                ),
                "mid-response (a session with 512 KiB)": handoff.carrying_session(
                    Job.SESSION, 1, conn.fileno(), sending
                ),
            }
            for name, record in cases.items():
                median = round_trips(parent, record, args.rounds)
                print(
                    f"{name:40} {len(record.payload):>9,} B  {median * 1e6:8.1f} us there and back"
                )
            sending.abort()
    finally:
        parent.close()
        worker.join(10)
        conn.close()
        peer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
