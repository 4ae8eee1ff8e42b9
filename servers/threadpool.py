"""The thread-pool model: one accept loop, ThreadPoolExecutor(max_workers=N) serving."""

from __future__ import annotations

import socket
import sys
from concurrent.futures import ThreadPoolExecutor

from servers.base import BaseServer
from servers.connection import serve_connection


class ThreadPoolServer(BaseServer):
    kind = "thread"

    def start_pool(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fileproto")

    def dispatch(self, conn_id: int, conn: socket.socket) -> None:
        self.executor.submit(self._serve, conn_id, conn)

    def _serve(self, conn_id: int, conn: socket.socket) -> None:
        try:
            # A duplicate, so that the registry's copy stays valid for shutdown().
            serve_connection(conn.dup(), self.store, self.config)
        finally:
            self.finished(conn_id)

    def stop_pool(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


def main(argv: list[str] | None = None) -> int:
    from servers.run import main as run_main

    return run_main("thread", sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    sys.exit(main())
