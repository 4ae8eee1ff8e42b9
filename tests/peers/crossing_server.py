"""A classroom-style process-pool file server whose one defect is that answers cross
connections, in one of the ways classroom servers do it (docs/conformance.md, "Crossed
answers"). Its protocol is the correct peer's (``FileServer`` of defective_server.py,
which keeps every rule of docs/protocol.md that the text dialect allows), so the crossing
is the only thing wrong with it. For pinning the verdicts of ``fileproto check``
(tests/test_check_profiles.py); not a server to use.

    python tests/peers/crossing_server.py --port 0 --root DIR [--design NAME] [--workers N]

Its shape is the exercise's process-pool server: the main thread accepts into
``self.connection`` (the template's attribute), hands each connection to one of N receiver
threads in turn, and a receiver reads the requests of its connections one at a time; a
process pool of N workers computes each answer. The designs (``DESIGNS``), each alone:

  kept-buffer         (the default) a receiver keeps what it read past the request it is
                      answering (``self.sisa``) from one client to the next. It forgets it
                      when a client closes, but not when an answer cannot be sent because
                      the client has gone: the next client of that receiver is answered the
                      requests the one before sent and left unanswered, their files.
  current-connection  the answer goes out on ``self.connection``, which the accept loop
                      overwrites: an earlier client's answer goes to the latest client.
  first-in-line       connections wait in the order they were accepted; each answer goes to
                      the first in line, who then goes to the back.
  finish-order        connections line up as their requests arrive; each answer goes, as
                      the pool finishes it, to the first in line: the pool finishes in
                      another order than the requests came.

The two line designs pass over a connection whose client has closed (``_gone``) instead
of waiting for its receiver to notice: otherwise a client that has just left could take
the answer of the next one to connect, whichever of the checker's steps that is, and the
crossing would show (or not) by the timing of a receiver thread rather than by the order
of requests that forces it.
  pipeline-order      the requests a client pipelined go to the pool at once, and their
                      answers go out as the pool finishes them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import queue
import select
import signal
import socket
import sys
import threading
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from pathlib import Path

from defective_server import (
    IDLE_TIMEOUT,
    MAX_HEADER,
    MAX_REQUEST,
    TERMINATOR,
    UPLOAD_HEAD,
    FileServer,
)

DESIGNS = ("kept-buffer", "current-connection", "first-in-line", "finish-order", "pipeline-order")
WHITESPACE = b" \t\r\n"

#: The protocol, in each pool process.
_files: FileServer | None = None


def start_worker(root: str) -> None:
    global _files
    _files = FileServer(Path(root), None)


def proses(request: bytes) -> bytes:
    """The answer to one request (runs in a pool process)."""
    assert _files is not None
    return json.dumps(_files.answer(request)).encode("utf-8") + TERMINATOR


class Receiver(threading.Thread):
    """Reads the requests of the connections handed to it, one connection at a time."""

    def __init__(self, server: CrossingServer) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.connections: queue.Queue[socket.socket] = queue.Queue()
        #: What was read past the request being answered.
        self.sisa = b""

    def run(self) -> None:
        while True:
            self.serve(self.connections.get())

    def serve(self, conn: socket.socket) -> None:
        conn.settimeout(IDLE_TIMEOUT)
        try:
            while True:
                request = self.next_request(conn)
                if request is None:
                    return
                self.server.answer(self, conn, request)
        except OSError:
            # The client has gone while we answered. (kept-buffer: what it sent after this
            # request stays in self.sisa, for whoever this receiver serves next.)
            if self.server.design != "kept-buffer":
                self.sisa = b""
        finally:
            self.server.forget(conn)
            conn.close()

    def next_request(self, conn: socket.socket) -> bytes | None:
        """The next request, or None when the client has closed (or sent too much)."""
        while True:
            self.sisa = self.sisa.lstrip(WHITESPACE)
            end = self.sisa.find(TERMINATOR)
            if end >= 0:
                request, self.sisa = self.sisa[:end], self.sisa[end + len(TERMINATOR) :]
                return request
            limit = MAX_REQUEST if UPLOAD_HEAD.match(self.sisa) else MAX_HEADER
            if len(self.sisa) > limit:
                self.sisa = b""
                conn.sendall(json.dumps({"status": "ERROR", "data": "request too long"})
                             .encode("utf-8") + TERMINATOR)  # fmt: skip
                return None
            data = conn.recv(1 << 16)
            if not data:
                self.sisa = b""  # the client closed: its half request goes with it
                return None
            self.sisa += data

    def complete_requests(self) -> list[bytes]:
        """Every whole request already read (pipelined behind the one taken)."""
        found = []
        while True:
            self.sisa = self.sisa.lstrip(WHITESPACE)
            end = self.sisa.find(TERMINATOR)
            if end < 0:
                return found
            found.append(self.sisa[:end])
            self.sisa = self.sisa[end + len(TERMINATOR) :]


class CrossingServer:
    def __init__(self, root: Path, design: str, workers: int) -> None:
        self.design = design
        self.pool = ProcessPoolExecutor(
            workers, multiprocessing.get_context("spawn"), start_worker, (str(root),)
        )
        for started in [self.pool.submit(os.getpid) for _ in range(workers)]:
            started.result()  # the workers are up before the first client
        self.receivers = [Receiver(self) for _ in range(workers)]
        self.lock = threading.Lock()
        #: The connection accepted last (the exercise's template keeps it here).
        self.connection: socket.socket | None = None
        #: first-in-line: open connections in the order they were accepted;
        #: finish-order: connections waiting for an answer, in the order they asked.
        self.line: list[socket.socket] = []

    def start(self) -> None:
        for receiver in self.receivers:
            receiver.start()

    def accepted(self, conn: socket.socket, number: int) -> None:
        self.connection = conn
        if self.design == "first-in-line":
            with self.lock:
                self.line.append(conn)
        self.receivers[number % len(self.receivers)].connections.put(conn)

    def forget(self, conn: socket.socket) -> None:
        with self.lock:
            while conn in self.line:
                self.line.remove(conn)

    def first_in_line(self) -> socket.socket | None:
        """The first connection in line whose client has not left (the lock held)."""
        while self.line and _gone(self.line[0]):
            self.line.pop(0)
        return self.line.pop(0) if self.line else None

    def answer(self, receiver: Receiver, conn: socket.socket, request: bytes) -> None:
        if self.design == "pipeline-order":
            futures = [self.pool.submit(proses, r)
                       for r in [request, *receiver.complete_requests()]]  # fmt: skip
            for done in as_completed(futures):
                conn.sendall(done.result())
            return
        if self.design == "finish-order":
            with self.lock:
                self.line.append(conn)
            pending = self.pool.submit(proses, request)
            pending.add_done_callback(self.to_first_in_line)
            pending.result()
            return
        hasil = self.pool.submit(proses, request).result()
        if self.design == "current-connection":
            target = self.connection
        elif self.design == "first-in-line":
            with self.lock:
                target = self.first_in_line() or conn
                self.line.append(target)
        else:
            target = conn
        if target is conn:
            conn.sendall(hasil)
        elif target is not None:
            with contextlib.suppress(OSError):
                target.sendall(hasil)

    def to_first_in_line(self, done: Future[bytes]) -> None:
        with self.lock:
            target = self.first_in_line()
        if target is not None:
            with contextlib.suppress(OSError):
                target.sendall(done.result())


def _gone(conn: socket.socket) -> bool:
    """Whether the client has closed (or the socket is closed here): end of stream seen
    by a peek, taking nothing its receiver has yet to read. A select first: a peek on a
    socket with a timeout would wait for data."""
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        return bool(readable) and conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):  # ValueError: closed here (no file descriptor)
        return True


def main() -> int:
    parser = argparse.ArgumentParser(description="a process-pool file server whose answers cross")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=45000)
    parser.add_argument("--root", default="./files")
    parser.add_argument("--design", choices=DESIGNS, default=DESIGNS[0])
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    Path(args.root).mkdir(parents=True, exist_ok=True)
    server = CrossingServer(Path(args.root), args.design, args.workers)
    server.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(64)
    listener.settimeout(0.2)
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    number = 0
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except (TimeoutError, InterruptedError):
            continue
        conn.settimeout(None)
        server.accepted(conn, number)
        number += 1
    listener.close()
    server.pool.shutdown(wait=False, cancel_futures=True)
    # Receivers may be blocked on clients; the process ends without waiting for them.
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
