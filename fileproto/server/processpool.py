"""The process-pool model: N worker processes serve the connections, each doing its own
reading, decoding and writing, so N workers serve N connections in parallel.

The parent runs the dispatcher. Each worker has a channel of its own (a Unix socket
pair), and a connection goes to a free worker as one record (``handoff``): its socket
and its session's descriptors passed with ``socket.send_fds``, which worker runs next
decided by the run queue (``policy``). Classic dispatch: the worker owns the connection
until it closes. Readiness dispatch: the first take carries the bytes of the request
as they arrived, and the worker makes the session; when the socket would block, the
worker sends the session back (pickled, with its descriptors) and the parent waits for
the socket on its behalf; any free worker continues it (worker.py).

The parent keeps its own descriptor of every socket: to wait on it, to cut it off at
shutdown, and to answer for it if a worker dies. A worker's death shows as the end of
its channel (only that process held the other end): the connection it served ends (one
sent to it that it never read goes back to the queue, its session whole), the temporary
files it wrote go (not those of uploads waiting in the parent, queued, or held by
another worker), and a new worker takes its place.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import multiprocessing
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from pathlib import Path

from fileproto.server import handoff, worker
from fileproto.server.base import PoolServer
from fileproto.server.handoff import SOCKET, Handoff, Job
from fileproto.server.policy import RunQueue, Waiting, shared_cells
from fileproto.server.waiting import Accepted, Parked, Queued
from fileproto.session import Close
from fileproto.trace import CloseKind, Closing

log = logging.getLogger("fileproto.server")

#: Seconds the pool may take to start all its workers.
START_TIMEOUT = 120.0
#: Seconds the parent waits for the rest of a record a worker began to send.
CHANNEL_TIMEOUT = 10.0


@dataclass(eq=False)
class Worker:
    process: BaseProcess
    channel: socket.socket
    #: It said it waits for work (``Job.STARTED``).
    started: bool = False
    #: The connection it serves, or None while free.
    job: Queued | None = None
    #: The temporary file of the upload that job's session had when it was sent.
    upload: Path | None = None
    #: When the job was sent: the time until its answer is the service it had.
    sent_at: float = 0.0
    #: This process's descriptors of the job's files, sent with it: closed once the
    #: worker answers (it took the job); kept if it dies with the job unread, which
    #: then goes back to the queue with its session whole.
    lent: list[int] = field(default_factory=list)


class ProcessPoolServer(PoolServer):
    sends_first_bytes = True

    def start_pool(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(["fileproto.server.worker"])
        # The count of connections waiting for a worker and the key of the next, in
        # memory the workers share.
        self._waiting_cells = shared_cells(self._context.RawArray)
        self.run_queue = RunQueue(Waiting(self._waiting_cells), self.config.schedule)
        self._workers = [self._start_worker() for _ in range(self.workers)]
        # Every worker exists and waits before the server says it listens: none is
        # started in the middle of a measurement.
        deadline = time.monotonic() + START_TIMEOUT
        for one in self._workers:
            one.channel.settimeout(max(0.001, deadline - time.monotonic()))
            record = handoff.receive(one.channel)
            if record is None or record.job is not Job.STARTED:
                raise RuntimeError(f"worker process {one.process.pid} did not start")
            one.started = True
            one.channel.settimeout(CHANNEL_TIMEOUT)

    def _start_worker(self) -> Worker:
        parent_end, child_end = socket.socketpair()
        process = self._context.Process(
            target=worker.main,
            args=(child_end, self.config, self._waiting_cells),
            name="fileproto-worker",
            daemon=True,
        )
        process.start()
        child_end.close()  # the worker's alone now: its end of stream is its death
        parent_end.settimeout(CHANNEL_TIMEOUT)
        one = Worker(process, parent_end)
        self.dispatcher.watch(parent_end.fileno(), functools.partial(self._answer, one))
        return one

    def serve_accepted(self, conn_id: int, conn: socket.socket, accepted_at: float) -> None:
        self.run_queue.push(Accepted(conn_id, conn, accepted_at))
        self._dispatch()

    def hand_over(self, parked: Parked) -> None:
        self.run_queue.push(parked)
        self._dispatch()

    def _dispatch(self) -> None:
        """Give every free worker the connection that runs next."""
        for one in list(self._workers):
            if not one.started or one.job is not None:
                continue
            job = self.run_queue.pop()
            if job is None:
                return
            self._send(one, job)

    def _send(self, one: Worker, job: Queued) -> None:
        record = _record(job)
        try:
            handoff.send(one.channel, record)
        except OSError:
            self.run_queue.push_front(job)  # never taken: it keeps its turn
            self._died(one)
            return
        one.job = job
        one.sent_at = time.monotonic()
        if isinstance(job, Parked):
            self.run_queue.serving(job.service)
        one.upload = job.session.upload_path if isinstance(job, Parked) else None
        if isinstance(job, Parked) and record.job is Job.SESSION:
            # The session that travelled is the one that goes on: this process's
            # descriptors of its files go once the worker has it.
            one.lent = [fd for name, fd in record.fds.items() if name != SOCKET]

    @staticmethod
    def _release(one: Worker) -> None:
        for fd in one.lent:
            with contextlib.suppress(OSError):
                os.close(fd)
        one.lent = []

    def _answer(self, one: Worker) -> None:
        """The worker's channel is readable: an answer, or its end."""
        try:
            record = handoff.receive(one.channel)
        except ConnectionResetError:
            # Its end closed with what was sent to it unread: it died before taking
            # the job (killed between its last answer and this job's arrival).
            self._died(one, taken=False)
            return
        except (OSError, ValueError) as exc:
            log.error("worker process %s: %s", one.process.pid, exc)
            record = None
        if record is None:
            self._died(one)
            return
        self._release(one)
        job, one.job, one.upload = one.job, None, None
        if isinstance(job, Parked):
            job.service.attained += time.monotonic() - one.sent_at
            self.run_queue.served_turn(job.service)
        if record.job is Job.STARTED:
            one.started = True
        elif job is not None and record.job is Job.GIVEN_BACK:
            session = record.session()
            trace = None if self.tracer is None else self.tracer.for_conn(job.conn_id)
            session.adopt(self.store, record.fds, trace)
            parked = Parked(job.conn_id, job.sock, session, session.deadline)
            parked.service = job.service  # the same request keeps its place and service
            if record.preempted:
                self.requeue(parked, record.writing)
            else:
                self.dispatcher.take_back(parked, record.writing)
        elif job is not None and record.job is Job.CLOSED:
            self.finished(job.conn_id, record.close())
        else:
            log.error("worker process %s: unexpected %s", one.process.pid, record.job.name)
        self._dispatch()

    def _died(self, one: Worker, taken: bool = True) -> None:
        """A worker is gone: end what it served (or, never ``taken``, queue it again),
        remove what it wrote, replace it."""
        self.dispatcher.unwatch(one.channel.fileno())
        one.channel.close()
        one.process.join(1.0)
        log.warning(
            "a worker process died (exit %s); replacing the pool's dead worker",
            one.process.exitcode,
        )
        if isinstance(one.job, Parked):
            self.run_queue.served_turn(one.job.service)
        if one.job is not None and not taken:
            log.warning("connection %d was never taken: queued again", one.job.conn_id)
            self.run_queue.push_front(one.job)  # its session whole, its descriptors here
            one.job, one.lent = None, []
        elif one.job is not None:
            # It held the connection: end it, so that its client sees the end at once
            # rather than waiting for its timeout.
            self._release(one)
            self.finished(one.job.conn_id, Close(Closing.WORKER_DIED, CloseKind.ERROR))
        # Only a dead worker's own uploads can be left: it cannot remove them itself.
        keep = set(self.dispatcher.uploads_in_progress())
        for queued in self.run_queue:
            if isinstance(queued, Parked) and queued.session.upload_path is not None:
                keep.add(queued.session.upload_path)
        keep.update(w.upload for w in self._workers if w is not one and w.upload is not None)
        if one.process.pid is not None:
            self.store.remove_temp_files(pid=one.process.pid, keep=frozenset(keep))
        if one.upload is not None and one.upload not in keep:
            with contextlib.suppress(OSError):
                one.upload.unlink()
        index = self._workers.index(one)
        if self.stopping:
            del self._workers[index]
        else:
            self._workers[index] = self._start_worker()

    def stop_pool(self) -> None:
        for one in self._workers:
            self.dispatcher.unwatch(one.channel.fileno())
            one.channel.close()  # its end of stream: the worker stops
        deadline = time.monotonic() + self.grace + 2.0
        for one in self._workers:
            one.process.join(max(0.0, deadline - time.monotonic()))
            if one.process.is_alive():
                one.process.kill()
                one.process.join(5)
            self._release(one)
            if one.job is not None:
                self.finished(one.job.conn_id, Close(Closing.SERVER_STOPPING, CloseKind.ERROR))
        while (job := self.run_queue.pop()) is not None:
            if isinstance(job, Parked):
                job.session.abort()
            self.finished(job.conn_id, Close(Closing.SERVER_STOPPING, CloseKind.ERROR))


def _record(job: Queued) -> Handoff:
    """The record that hands ``job`` to a worker: the first take of a connection carries
    the bytes it received and no session."""
    fd = job.sock.fileno()
    if isinstance(job, Accepted):
        return Handoff(Job.ACCEPTED, job.conn_id, {SOCKET: fd}, accepted_at=job.accepted_at)
    seq, attained = job.service.seq, job.service.attained
    if job.received is not None:
        return Handoff(
            Job.FIRST,
            job.conn_id,
            {SOCKET: fd},
            bytes(job.received),
            accepted_at=job.accepted_at,
            first_at=job.first_at,
            seq=seq,
            attained=attained,
        )
    return handoff.carrying_session(
        Job.SESSION, job.conn_id, fd, job.session, seq=seq, attained=attained
    )


if __name__ == "__main__":
    from fileproto.server.run import main

    sys.exit(main("process"))
