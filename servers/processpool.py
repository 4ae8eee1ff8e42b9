"""The process-pool model: ProcessPoolExecutor(max_workers=N) serves the connections.

The workers do all the reading, decoding and writing, so N workers serve N connections
in parallel. A socket goes to a worker through multiprocessing's descriptor sharing
(DupFd). Classic dispatch: the parent accepts and a worker owns the connection until it
closes. Readiness dispatch: the parent's selector holds waiting connections and sends a
worker the descriptor together with the bytes already read; after the response the
worker gives the connection back. The parent keeps its own descriptor of every socket:
to park it again, to cut it off at shutdown, and to answer for it if a worker dies.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import signal
import socket
import sys
import time
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import reduction, resource_sharer
from multiprocessing.synchronize import Barrier
from typing import Any

from fileproto.session import Receive, ServerSession
from fileproto.store import FileStore
from servers.base import BaseServer
from servers.config import ServerConfig
from servers.connection import drive, end_connection, peer_of, serve_connection
from servers.readiness import Parked

log = logging.getLogger("fileproto.server")

#: Seconds the pool may take to start all its workers.
START_TIMEOUT = 120.0

_store: FileStore | None = None
_config: ServerConfig | None = None
_barrier: Barrier | None = None


def _init_worker(config: ServerConfig, barrier: Barrier) -> None:
    global _store, _config, _barrier
    # Ctrl-C reaches the whole process group; the parent decides how workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO if config.verbose else logging.WARNING,
        format="%(asctime)s %(processName)s %(message)s",
    )
    _store = FileStore(config.root)
    _config = config
    _barrier = barrier


def _all_started() -> None:
    # Each of N start-up tasks waits for the others: only N distinct workers can hold
    # N of them at once, so every worker exists before the server says it listens
    # (the pool otherwise forks lazily, in the middle of a measurement).
    assert _barrier is not None
    _barrier.wait(START_TIMEOUT)


def _socket(shared: Any, family: int, type_: int, proto: int) -> socket.socket:
    return socket.socket(family, type_, proto, fileno=shared.detach())


def _serve_shared_socket(
    shared: Any, family: int, type_: int, proto: int, accepted_at: float
) -> None:
    assert _store is not None and _config is not None
    serve_connection(_socket(shared, family, type_, proto), _store, _config, accepted_at)


def _park_when_idle(session: ServerSession, waiting: Receive) -> bool:
    # Between requests only: a pipelined header begun here is parsed on here, since
    # the parser's state cannot travel back to the parent.
    return waiting.phase == "idle"


def _serve_request(
    shared: Any,
    family: int,
    type_: int,
    proto: int,
    raw: list[bytes],
    accepted_at: float,
    first: bool,
    since: float,
) -> bool:
    """Serve the request that arrived on a parked connection; True if it waits again.

    The parent parsed the header to know it had arrived; the few bytes it read are
    parsed again here, where the request is served."""
    assert _store is not None and _config is not None
    sock = _socket(shared, family, type_, proto)
    session = ServerSession(_store, _config.limits, accepted_at)
    if not first:
        session.deadlines.response_done(since)
    now = time.monotonic()
    for data in raw:
        session.receive_data(data, now)
    waits_again = False
    try:
        close = drive(sock, session, _config.recv_size, _park_when_idle)
        if close is None:
            waits_again = True
            return True
        log.info("%s: closing: %s", peer_of(sock), close.reason)
    except OSError as exc:
        log.info("%s: connection lost: %s", peer_of(sock), exc)
    finally:
        if waits_again:
            sock.close()  # our descriptor only: the parent's waits on
        else:
            session.abort()
            end_connection(sock)
    return False


def _still_shared(shared: Any) -> bool:
    """Whether no worker ever took this descriptor (it is still in the sharer's cache).

    Relies on multiprocessing internals; if they change, we assume it was taken, and the
    client sees its connection closed rather than served: a safe failure.
    """
    sharer = getattr(resource_sharer, "_resource_sharer", None)
    cache = getattr(sharer, "_cache", None)
    ident = getattr(shared, "_id", None)  # (address, key); the cache is keyed by key
    return isinstance(cache, dict) and isinstance(ident, tuple) and ident[-1] in cache


class ProcessPoolServer(BaseServer):
    kind = "process"
    hands_over_bytes = True

    def start_pool(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["servers.processpool"])
        #: conn_id -> (the shared descriptor, the parent's socket, the task's arguments)
        self._pending: dict[int, tuple[Any, socket.socket, tuple[Any, ...]]] = {}
        self._orphans: list[int] = []
        self.executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        barrier = self._context.Barrier(self.workers)
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.config, barrier),
        )
        for future in [executor.submit(_all_started) for _ in range(self.workers)]:
            future.result(timeout=START_TIMEOUT)
        return executor

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        self._submit(conn_id, conn, _serve_shared_socket, (accepted_at,))

    def serve_ready(self, parked: Parked) -> None:
        args = (parked.raw or [], parked.accepted_at, parked.first, parked.since)
        self._submit(parked.conn_id, parked.sock, _serve_request, args)

    def _submit(
        self,
        conn_id: int,
        conn: socket.socket,
        task: Any,
        args: tuple[Any, ...],
        shared: Any = None,
    ) -> None:
        if shared is None:
            shared = reduction.DupFd(conn.fileno())
        with self._lock:
            self._pending[conn_id] = (shared, conn, (task, *args))
        try:
            future = self.executor.submit(task, shared, conn.family, conn.type, conn.proto, *args)
        except BrokenProcessPool:
            with self._lock:
                self._orphans.append(conn_id)
            return
        future.add_done_callback(functools.partial(self._done, conn_id))

    def _done(self, conn_id: int, future: Future[Any]) -> None:
        # Cancelled: queued in a broken pool that poll() shut down; never started.
        exc = None if future.cancelled() else future.exception()
        if future.cancelled() or isinstance(exc, BrokenProcessPool):
            with self._lock:
                self._orphans.append(conn_id)
            return  # poll() replaces the pool and decides this connection's fate
        if exc is not None:
            log.error("worker failed: %r", exc)
        with self._lock:
            _, conn, _ = self._pending.pop(conn_id, (None, None, None))
        if exc is None and future.result() is True and self.ready is not None and conn:
            self.ready.give_back(conn_id, conn, None)
        else:
            self.finished(conn_id)

    def poll(self) -> None:
        with self._lock:
            broken = bool(self._orphans)
        # A worker that died while idle breaks the pool without failing any task;
        # notice it here rather than at the next client's expense.
        if not broken and not getattr(self.executor, "_broken", False):
            return
        log.warning("a worker process died; replacing the pool")
        old = self.executor
        # The broken pool's workers are all gone once this returns; only they could
        # have been writing temporary files, and a killed worker cannot remove its own.
        old.shutdown(wait=True, cancel_futures=True)
        self.store.remove_temp_files()
        self.executor = self._new_executor()
        # Collected only now: the shutdown fails (or cancels) the rest of the old
        # pool's tasks, and each adds its connection here; none may be left for a
        # later poll, which would take the healthy new pool for a broken one.
        with self._lock:
            orphans, self._orphans = self._orphans, []
        for conn_id in orphans:
            with self._lock:
                shared, conn, call = self._pending.pop(conn_id, (None, None, ()))
            if conn is None:
                continue
            if shared is not None and _still_shared(shared):
                # Never started: serve it after all, with a fresh share of the socket.
                task, *args = call
                self._submit(conn_id, conn, task, tuple(args), shared)
                continue
            # The dead worker had it: end the connection so the client sees a reset or
            # EOF at once instead of waiting for its timeout.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            self.finished(conn_id)

    def stop_pool(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)
        with self._lock:
            leftover = list(self._pending)
        for conn_id in leftover:
            self.finished(conn_id)


if __name__ == "__main__":
    from servers.run import main

    sys.exit(main("process"))
