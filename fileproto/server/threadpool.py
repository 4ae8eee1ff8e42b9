"""The thread-pool model: ThreadPoolExecutor(max_workers=N) serves the connections.

Each connection handed to the pool submits one turn; the worker thread that starts it
serves whichever connection the run queue (``policy``) says runs next. Classic
dispatch: a connection just accepted, which the worker owns until it closes. Readiness
dispatch: a connection with work (a request arrived, bytes of a body, room to send),
with its session, until its socket would block.
"""

from __future__ import annotations

import socket
import sys
from concurrent.futures import ThreadPoolExecutor

from fileproto.server.base import PoolServer
from fileproto.server.waiting import Accepted, Parked, Queued


class ThreadPoolServer(PoolServer):
    def start_pool(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="fileproto")

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        self._submit(Accepted(conn_id, conn, accepted_at))

    def hand_over(self, parked: Parked) -> None:
        self._submit(parked)

    def _submit(self, queued: Queued) -> None:
        # One turn for each connection queued; which connection a turn serves is the
        # run queue's to say when a worker starts it.
        self.run_queue.push(queued)
        self.executor.submit(self.next_turn)

    def stop_pool(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=False)


if __name__ == "__main__":
    from fileproto.server.run import main

    sys.exit(main("thread"))
