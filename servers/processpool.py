"""The process-pool model: ProcessPoolExecutor(max_workers=N) serves the connections.

The workers do all the reading, decoding and writing, so N workers serve N connections
in parallel. A socket goes to a worker through multiprocessing's descriptor sharing
(DupFd). Classic dispatch: the parent accepts and a worker owns the connection until it
closes. Readiness dispatch: the parent's selector holds waiting connections, and a task
carries one connection's session to a worker: pickled (parser position and carry,
deadlines, the rest of a response piece), with its descriptors (socket, an upload's
temporary file, the file a GET streams) shared alongside. When the socket would block,
the worker returns the session, and the parent waits for the socket on its behalf:
any free worker continues it. The parent keeps its own descriptor of every socket: to
wait on it, to cut it off at shutdown, and to answer for it if a worker dies.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import signal
import socket
import sys
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import reduction, resource_sharer
from multiprocessing.synchronize import Barrier
from typing import Any

from fileproto.session import Close, ServerSession
from fileproto.store import FileStore
from servers.base import PoolServer
from servers.config import ServerConfig
from servers.connection import (
    GiveBack,
    closed_fields,
    drive,
    given_back_fields,
    peer_of,
    serve_connection,
)
from servers.readiness import Parked
from servers.trace import Tracer, open_tracer, worker_name

log = logging.getLogger("fileproto.server")

#: Seconds the pool may take to start all its workers.
START_TIMEOUT = 120.0

_store: FileStore | None = None
_config: ServerConfig | None = None
_barrier: Barrier | None = None
_tracer: Tracer | None = None
#: Sessions the parent handed to the pool that no worker has started yet (shared).
_queued: Any = None


@dataclass
class Suspended:
    """A worker's answer when the socket would block: the session, and shares of the
    descriptors it holds (``ServerSession.descriptors``), for the parent to keep."""

    session: ServerSession
    files: list[Any]
    writing: bool


def _init_worker(config: ServerConfig, barrier: Barrier, queued: Any) -> None:
    global _store, _config, _barrier, _tracer, _queued
    # Ctrl-C reaches the whole process group; the parent decides how workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO if config.verbose else logging.WARNING,
        format="%(asctime)s %(processName)s %(message)s",
    )
    _store = FileStore(config.root)
    _config = config
    _barrier = barrier
    _tracer = open_tracer(config.trace)
    _queued = queued


def _wanted() -> bool:
    """Whether another connection waits for a worker of this pool."""
    return _queued is not None and _queued.value > 0


def _all_started() -> None:
    # Each of N start-up tasks waits for the others: only N distinct workers can hold
    # N of them at once, so every worker exists before the server says it listens
    # (the pool otherwise forks lazily, in the middle of a measurement).
    assert _barrier is not None
    _barrier.wait(START_TIMEOUT)


def _socket(shared: Any, family: int, type_: int, proto: int) -> socket.socket:
    return socket.socket(family, type_, proto, fileno=shared.detach())


def _serve_shared_socket(
    shared: Any, family: int, type_: int, proto: int, accepted_at: float, conn_id: int
) -> float:
    """Classic dispatch: serve the connection to its end; the parent's descriptor is
    the one that ends it (it lingers for the returned seconds)."""
    assert _store is not None and _config is not None
    sock = _socket(shared, family, type_, proto)
    try:
        close = serve_connection(sock, _store, _config, accepted_at, _tracer, conn_id)
    finally:
        sock.close()  # our descriptor only
    return close.linger


def _serve_ready(
    shared: Any,
    family: int,
    type_: int,
    proto: int,
    session: ServerSession,
    files: list[Any],
    conn_id: int,
) -> Suspended | Close:
    """Drive a connection's session while its bytes move; return it when the socket
    would block, or the Close that ended it (the parent ends the connection)."""
    assert _store is not None and _config is not None
    if _queued is not None:
        with _queued.get_lock():
            _queued.value -= 1
    sock = _socket(shared, family, type_, proto)
    tracer = _tracer
    trace = None if tracer is None else tracer.for_conn(conn_id)
    session.adopt(_store, [f.detach() for f in files], trace)
    if tracer is not None:
        tracer.event(conn_id, "taken", worker=worker_name())
    try:
        outcome = drive(sock, session, _config.recv_size, True, _wanted)
    except OSError as exc:
        log.info("%s: connection lost: %s", peer_of(sock), exc)
        outcome = Close(f"connection lost: {exc}", "error")
    except BaseException:
        session.abort()
        sock.close()
        raise
    if isinstance(outcome, GiveBack):
        if tracer is not None:
            tracer.event(conn_id, "given_back", **given_back_fields(session, outcome))
        fds = session.descriptors()
        shares = [reduction.DupFd(fd) for fd in fds]  # each holds a duplicate till fetched
        for fd in fds:
            os.close(fd)
        sock.close()
        return Suspended(session, shares, outcome.writing)
    log.info("%s: closing: %s", peer_of(sock), outcome.reason)
    session.abort()
    fields = closed_fields(sock, outcome) if tracer is not None else {}
    sock.close()
    if tracer is not None:
        tracer.event(conn_id, "closed", **fields)
    return outcome


def _still_shared(shared: Any) -> bool:
    """Whether no worker ever took this descriptor (it is still in the sharer's cache).

    Relies on multiprocessing internals; if they change, we assume it was taken, and the
    client sees its connection closed rather than served: a safe failure.
    """
    sharer = getattr(resource_sharer, "_resource_sharer", None)
    cache = getattr(sharer, "_cache", None)
    ident = getattr(shared, "_id", None)  # (address, key); the cache is keyed by key
    return isinstance(cache, dict) and isinstance(ident, tuple) and ident[-1] in cache


class ProcessPoolServer(PoolServer):
    def start_pool(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["servers.processpool"])
        #: conn_id -> (the shared socket, the parent's socket, the task and its arguments)
        self._pending: dict[int, tuple[Any, socket.socket, tuple[Any, ...]]] = {}
        self._orphans: list[int] = []
        self.executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        barrier = self._context.Barrier(self.workers)
        self._queued = self._context.Value("i", 0)  # a new pool starts with none queued
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.config, barrier, self._queued),
        )
        for future in [executor.submit(_all_started) for _ in range(self.workers)]:
            future.result(timeout=START_TIMEOUT)
        return executor

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        self._submit(conn_id, conn, _serve_shared_socket, (accepted_at, conn_id))

    def serve_ready(self, parked: Parked) -> None:
        session = parked.session
        fds = session.descriptors()
        try:
            files = [reduction.DupFd(fd) for fd in fds]
        except OSError as exc:  # EMFILE: this connection ends, the server goes on
            log.error("%s: cannot hand the session over: %s", peer_of(parked.sock), exc)
            session.abort()
            self.finished(parked.conn_id)
            return
        # The shares hold duplicates until a worker takes them; this process's copies
        # go now (the session that travels is the one that is continued).
        for fd in fds:
            os.close(fd)
        with self._queued.get_lock():
            self._queued.value += 1
        self._submit(parked.conn_id, parked.sock, _serve_ready, (session, files, parked.conn_id))

    def _submit(
        self,
        conn_id: int,
        conn: socket.socket,
        task: Any,
        args: tuple[Any, ...],
        shared: Any = None,
    ) -> None:
        if shared is None:
            try:
                shared = reduction.DupFd(conn.fileno())
            except OSError as exc:  # EMFILE: this connection ends, the server goes on
                log.error("%s: cannot hand the socket over: %s", peer_of(conn), exc)
                self.finished(conn_id)
                return
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
        result = None if exc is not None else future.result()
        if isinstance(result, Suspended) and self.ready is not None and conn is not None:
            session = result.session
            fds: list[int] = []
            try:
                for share in result.files:
                    fds.append(share.detach())
            except Exception as error:  # the worker is gone, and its shares with it
                log.error("%s: the session's files were lost: %s", peer_of(conn), error)
                for fd in fds:
                    os.close(fd)
                self.finished(conn_id)
                return
            trace = None if self.tracer is None else self.tracer.for_conn(conn_id)
            session.adopt(self.store, fds, trace)
            self.ready.give_back(conn_id, conn, session, result.writing)
        elif isinstance(result, Close):
            self.finished(conn_id, result.linger)
        elif isinstance(result, float):
            self.finished(conn_id, result)
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
        self.executor = self._new_executor()
        # Collected only now: the shutdown fails (or cancels) the rest of the old
        # pool's tasks, and each adds its connection here; none may be left for a
        # later poll, which would take the healthy new pool for a broken one.
        with self._lock:
            orphans, self._orphans = self._orphans, []
            calls = [self._pending[conn_id] for conn_id in orphans if conn_id in self._pending]
        # Uploads waiting in the selector, or in a task no worker took, go on.
        keep = set() if self.ready is None else set(self.ready.uploads_in_progress())
        for shared, _, call in calls:
            session = next((a for a in call if isinstance(a, ServerSession)), None)
            if session is not None and session.upload_path and _still_shared(shared):
                keep.add(session.upload_path)
        self.store.remove_temp_files(keep=frozenset(keep))
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
