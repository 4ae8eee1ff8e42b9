"""A short request never waits for a long transfer to end, on a real server process
(docs/architecture.md, "Scheduling").

One worker; a client uploads as fast as it can, and its upload does not end until the
test says so, so that it holds the only worker from start to end. A LIST on a new
connection is answered meanwhile: under the default schedule the worker gives the
upload back once its quantum is over (``given_back`` with ``preempted``), serves the
LIST, then goes on with the upload, which completes whole. The order is read from the
server's trace; no timing is asserted (the bounds are generous timeouts).
"""

from __future__ import annotations

import socket
import threading

import pytest

from fileproto.pytest.servers import ServerPool
from fileproto.wire import TERMINATOR
from tests.helpers.drivers import answers, read_answer
from tests.helpers.kinds import POOL_KINDS
from tests.helpers.waiting import wait_for
from tests.test_give_back import ANSWER_TIMEOUT, conn_of, events, one_worker

pytestmark = pytest.mark.smoke

#: One piece of the body: base64 of zero bytes.
PIECE = b"A" * (256 << 10)
#: The upload stops by itself after this much, should the test never say so.
BOUND = 2048 * len(PIECE)


class Uploader(threading.Thread):
    """Sends an upload's body without a pause until told to stop (or BOUND), then ends
    the request and reads its answer."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(daemon=True)
        self.sock = sock
        self.stop = threading.Event()
        self.sent = 0
        self.answer: bytes = b""

    def run(self) -> None:
        self.sock.sendall(b"UPLOAD long.bin ")
        while not self.stop.is_set() and self.sent < BOUND:
            self.sock.sendall(PIECE)
            self.sent += len(PIECE)
        self.sock.sendall(TERMINATOR)
        self.answer = read_answer(self.sock)


@pytest.mark.parametrize("kind", POOL_KINDS)
def test_a_list_is_answered_while_a_long_upload_holds_the_only_worker(
    fileproto_servers: ServerPool, kind: str
) -> None:
    with one_worker(fileproto_servers, kind) as (server, trace):
        long = socket.create_connection((server.host, server.port), timeout=ANSWER_TIMEOUT)
        with long:
            uploader = Uploader(long)
            uploader.start()
            upload = conn_of(trace, long)
            wait_for(
                lambda: any(e["conn"] == upload and e["ev"] == "taken" for e in events(trace)),
                what="the upload to be taken",
            )
            try:
                with server.client(timeout=ANSWER_TIMEOUT) as client:
                    names = client.list()
            finally:
                uploader.stop.set()
                uploader.join(ANSWER_TIMEOUT)
            assert not uploader.is_alive()
            assert uploader.sent < BOUND  # the LIST did not wait for the upload to end
            assert answers(uploader.answer)[0]["status"] == "OK"
            assert "long.bin" not in names  # answered before the upload was complete
        wait_for(
            lambda: any(e["conn"] == upload and e["ev"] == "closed" for e in events(trace)),
            what="the upload's connection to close",
        )
        seen = events(trace)
        listing = next(
            e["conn"]
            for e in seen
            if e["ev"] == "header" and e.get("cmd") == "LIST" and e["conn"] != upload
        )
        ids = [(e["conn"], e["ev"]) for e in seen]
        first_taken = ids.index((upload, "taken"))
        list_answered = ids.index((listing, "response"))
        upload_answered = ids.index((upload, "response"))
        assert first_taken < list_answered < upload_answered
        # The worker let go of the upload in between (preempted; or, should the client
        # have paused, given back for bytes), and took it again after.
        between = seen[first_taken:list_answered]
        assert any(e["conn"] == upload and e["ev"] == "given_back" for e in between), between
        assert (upload, "taken") in ids[list_answered:upload_answered]
