"""The thread-per-connection model, the exercise's own first server: one thread started
for each accepted connection, no pool. The thread serves its connection from accept to
close (the classic turn); nothing waits for a worker, so a client that waits holds only
its own thread. ``--workers`` does not apply (a thread per connection, up to
``--max-connections``)."""

from __future__ import annotations

import socket
import sys
import threading

from fileproto.server.base import PoolServer
from fileproto.server.waiting import Accepted, Parked

#: Seconds the stop waits for the connections' threads, after the grace period.
JOIN_TIMEOUT = 5.0


class ThreadPerConnectionServer(PoolServer):
    classic_only = True

    def start_pool(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._threads_lock = threading.Lock()

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        thread = threading.Thread(
            target=self._serve, args=(Accepted(conn_id, conn, accepted_at),), daemon=True
        )
        thread.name = f"fileproto-conn_{conn_id}"  # the trace's worker: thread:<conn id>
        with self._threads_lock:
            self._threads.add(thread)
        thread.start()

    def _serve(self, accepted: Accepted) -> None:
        try:
            self.classic_turn(accepted)
        finally:
            with self._threads_lock:
                self._threads.discard(threading.current_thread())

    def hand_over(self, parked: Parked) -> None:
        raise AssertionError("a thread per connection is always the classic dispatch")

    def stop_pool(self) -> None:
        with self._threads_lock:
            threads = list(self._threads)
        for thread in threads:  # their connections were cut off: they end at once
            thread.join(JOIN_TIMEOUT)

    @property
    def description(self) -> str:
        return "a thread per connection"


if __name__ == "__main__":
    from fileproto.server.run import main

    sys.exit(main("perconn"))
