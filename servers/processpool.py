"""The process-pool model: one accept loop, ProcessPoolExecutor(max_workers=N) serving.

The parent only accepts. Each accepted socket goes to a worker through multiprocessing's
descriptor sharing (DupFd), and the worker does all the reading, decoding and writing,
so N workers serve N connections in parallel. The parent keeps its own descriptor of
every socket until the worker is done: to cut connections off at shutdown, and to
answer for them if a worker dies.
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
from typing import Any

from fileproto.store import FileStore
from servers.base import BaseServer
from servers.config import ServerConfig
from servers.connection import serve_connection

log = logging.getLogger("fileproto.server")

_store: FileStore | None = None
_config: ServerConfig | None = None


def _init_worker(config: ServerConfig) -> None:
    global _store, _config
    # Ctrl-C reaches the whole process group; the parent decides how workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.INFO if config.verbose else logging.WARNING)
    _store = FileStore(config.root)
    _config = config


def _warm_up() -> None:
    time.sleep(0.05)  # overlapping tasks make the pool start every worker up front


def _serve_shared_socket(shared: Any, family: int, type_: int, proto: int) -> None:
    assert _store is not None and _config is not None
    sock = socket.socket(family, type_, proto, fileno=shared.detach())
    serve_connection(sock, _store, _config)


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

    def start_pool(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["servers.processpool"])
        self._pending: dict[int, tuple[Any, socket.socket]] = {}
        self._orphans: list[int] = []
        self.executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=self._context,
            initializer=_init_worker,
            initargs=(self.config,),
        )
        for future in [executor.submit(_warm_up) for _ in range(self.workers)]:
            future.result(timeout=60)
        return executor

    def dispatch(self, conn_id: int, conn: socket.socket) -> None:
        shared = reduction.DupFd(conn.fileno())
        self._submit(conn_id, shared, conn)

    def _submit(self, conn_id: int, shared: Any, conn: socket.socket) -> None:
        with self._lock:
            self._pending[conn_id] = (shared, conn)
        try:
            future = self.executor.submit(
                _serve_shared_socket, shared, conn.family, conn.type, conn.proto
            )
        except BrokenProcessPool:
            with self._lock:
                self._orphans.append(conn_id)
            return
        future.add_done_callback(functools.partial(self._done, conn_id))

    def _done(self, conn_id: int, future: Future[None]) -> None:
        exc = future.exception()
        if isinstance(exc, BrokenProcessPool):
            with self._lock:
                self._orphans.append(conn_id)
            return  # poll() replaces the pool and decides this connection's fate
        if exc is not None:
            log.error("worker failed: %r", exc)
        with self._lock:
            self._pending.pop(conn_id, None)
        self.finished(conn_id)

    def poll(self) -> None:
        with self._lock:
            orphans, self._orphans = self._orphans, []
        # A worker that died while idle breaks the pool without failing any task;
        # notice it here rather than at the next client's expense.
        if not orphans and not getattr(self.executor, "_broken", False):
            return
        log.warning("a worker process died; replacing the pool")
        old = self.executor
        # The broken pool's workers are all gone once this returns; only they could
        # have been writing temporary files, and a killed worker cannot remove its own.
        old.shutdown(wait=True, cancel_futures=True)
        self.store.remove_temp_files()
        self.executor = self._new_executor()
        for conn_id in orphans:
            with self._lock:
                shared, conn = self._pending.pop(conn_id, (None, None))
            if conn is None:
                continue
            if shared is not None and _still_shared(shared):
                self._submit(conn_id, shared, conn)  # never started: serve it after all
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


def main(argv: list[str] | None = None) -> int:
    from servers.run import main as run_main

    return run_main("process", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
