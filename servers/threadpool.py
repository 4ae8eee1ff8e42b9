"""The thread-pool model: ThreadPoolExecutor(max_workers=N) serves the connections.

Classic dispatch: the accept loop hands each connection to a worker thread, which owns
it until it closes. Readiness dispatch: the selector hands a connection over with its
session when there is work (a request arrived, bytes of a body, room to send), and the
worker gives it back the moment its socket would block.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from fileproto.session import Close
from servers.base import PoolServer
from servers.connection import (
    GiveBack,
    closed_fields,
    drive,
    given_back_fields,
    peer_of,
    serve_connection,
)
from servers.readiness import Parked
from servers.trace import worker_name

log = logging.getLogger("fileproto.server")


class ThreadPoolServer(PoolServer):
    def start_pool(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fileproto")
        #: Connections handed to the pool that no worker has started yet.
        self._queued = 0
        self._queued_lock = threading.Lock()

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        self.executor.submit(self._serve, conn_id, conn, accepted_at)

    def _serve(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        linger = 0.0
        # A duplicate, so that the registry's copy stays valid for shutdown(); the
        # registry's copy is the one that is ended (and lingers).
        sock = conn.dup()
        try:
            close = serve_connection(
                sock, self.store, self.config, accepted_at, self.tracer, conn_id
            )
            linger = close.linger
        finally:
            sock.close()
            self.finished(conn_id, linger)

    def serve_ready(self, parked: Parked) -> None:
        with self._queued_lock:
            self._queued += 1
        self.executor.submit(self._serve_ready, parked)

    def _wanted(self) -> bool:
        return self._queued > 0

    def _serve_ready(self, parked: Parked) -> None:
        with self._queued_lock:
            self._queued -= 1
        session, sock, tracer = parked.session, parked.sock, self.tracer
        if tracer is not None:
            tracer.event(parked.conn_id, "taken", worker=worker_name())
        close: Close
        try:
            outcome = drive(sock, session, self.config.recv_size, True, self._wanted)
        except OSError as exc:
            log.info("%s: connection lost: %s", peer_of(sock), exc)
            close = Close(f"connection lost: {exc}", "error")
        except Exception:
            log.exception("%s: serving failed", peer_of(sock))
            close = Close("serving failed", "error")
        else:
            if isinstance(outcome, GiveBack):
                if tracer is not None:
                    fields = given_back_fields(session, outcome)
                    tracer.event(parked.conn_id, "given_back", **fields)
                assert self.ready is not None
                self.ready.give_back(parked.conn_id, sock, session, outcome.writing)
                return
            close = outcome
            log.info("%s: closing: %s", peer_of(sock), close.reason)
        session.abort()
        if tracer is not None:
            tracer.event(parked.conn_id, "closed", **closed_fields(sock, close))
        self.finished(parked.conn_id, close.linger)

    def stop_pool(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


if __name__ == "__main__":
    from servers.run import main

    sys.exit(main("thread"))
