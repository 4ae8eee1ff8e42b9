"""The thread-pool model: ThreadPoolExecutor(max_workers=N) serves the connections.

Classic dispatch: the accept loop hands each connection to a worker thread, which owns
it until it closes. Readiness dispatch: the selector hands a connection over with its
session once a request header has arrived, and the worker gives it back after the
response.
"""

from __future__ import annotations

import logging
import socket
import sys
from concurrent.futures import ThreadPoolExecutor

from fileproto.session import Receive, ServerSession
from servers.base import BaseServer
from servers.connection import drive, peer_of, serve_connection
from servers.readiness import Parked

log = logging.getLogger("fileproto.server")


def park_when_idle(session: ServerSession, waiting: Receive) -> bool:
    return waiting.parkable


class ThreadPoolServer(BaseServer):
    kind = "thread"

    def start_pool(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fileproto")

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        self.executor.submit(self._serve, conn_id, conn, accepted_at)

    def _serve(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        try:
            # A duplicate, so that the registry's copy stays valid for shutdown().
            serve_connection(conn.dup(), self.store, self.config, accepted_at)
        finally:
            self.finished(conn_id)

    def serve_ready(self, parked: Parked) -> None:
        self.executor.submit(self._serve_request, parked)

    def _serve_request(self, parked: Parked) -> None:
        session, sock = parked.session, parked.sock
        assert session is not None
        try:
            close = drive(sock, session, self.config.recv_size, park_when_idle)
        except OSError as exc:
            log.info("%s: connection lost: %s", peer_of(sock), exc)
        except Exception:
            log.exception("%s: serving failed", peer_of(sock))
        else:
            if close is None:
                assert self.ready is not None
                self.ready.give_back(parked.conn_id, sock, session)
                return
            log.info("%s: closing: %s", peer_of(sock), close.reason)
        session.abort()
        self.finished(parked.conn_id)

    def stop_pool(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


if __name__ == "__main__":
    from servers.run import main

    sys.exit(main("thread"))
