"""A worker process of the process pool. It waits on its channel for a connection
(``handoff``), takes one turn with it (``turn``, as a pool's thread does) and answers
on the channel: the session given back with its descriptors, or the connection's Close,
for the parent to end it. It stops when the parent closes the channel (or is gone).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket

from fileproto.server import handoff
from fileproto.server.config import ServerConfig
from fileproto.server.drive import GiveBack
from fileproto.server.handoff import SOCKET, Handoff, Job
from fileproto.server.policy import Quantum, Waiting, preemptive
from fileproto.server.tracer import Tracer, open_tracer
from fileproto.server.turn import new_session, turn
from fileproto.store import FileStore


def main(
    channel: socket.socket, config: ServerConfig, waiting_cells: ctypes.Array[ctypes.c_longlong]
) -> None:
    # Ctrl-C reaches the whole process group; the parent decides how workers stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(
        level=logging.INFO if config.verbose else logging.WARNING,
        format="%(asctime)s %(processName)s %(message)s",
    )
    store = FileStore(config.root)
    tracer = open_tracer(config.trace)
    waiting = Waiting(waiting_cells)
    channel.setblocking(True)
    try:
        handoff.send(channel, Handoff(Job.STARTED))
        while True:
            record = handoff.receive(channel)
            if record is None:
                return  # the parent closed the channel: stop
            reply = serve(record, store, config, tracer, waiting)
            try:
                handoff.send(channel, reply)
            finally:
                # The session that went back is the parent's now: our copies go.
                for name, fd in reply.fds.items():
                    if name != SOCKET:
                        os.close(fd)
    except (OSError, ValueError):
        return  # the parent is gone (or spoke nonsense): nothing left to serve


def serve(
    record: Handoff, store: FileStore, config: ServerConfig, tracer: Tracer | None, waiting: Waiting
) -> Handoff:
    """One turn with the connection ``record`` hands over, and the answer to send."""
    conn_id = record.conn_id
    sock = socket.socket(fileno=record.fds[SOCKET])
    try:
        sock.setblocking(False)
        classic = record.job is Job.ACCEPTED
        if classic or record.job is Job.FIRST:
            session = new_session(store, config.limits, conn_id, record.accepted_at, tracer)
            if record.job is Job.FIRST:
                session.receive_data(record.payload, record.first_at)
        else:
            session = record.session()
            trace = None if tracer is None else tracer.for_conn(conn_id)
            files = {name: fd for name, fd in record.fds.items() if name != SOCKET}
            session.adopt(store, files, trace)
        someone_waits = None if classic else waiting.someone_waits
        quantum = None
        if not classic and preemptive(config.schedule):
            quantum = Quantum(waiting, record.seq, config.schedule, record.attained)
        outcome = turn(
            conn_id, sock, session, config.recv_size, tracer, not classic, someone_waits, quantum
        )
    finally:
        sock.close()  # ours only: the parent's descriptor ends the connection
    if isinstance(outcome, GiveBack):
        return handoff.carrying_session(
            Job.GIVEN_BACK,
            conn_id,
            None,
            session,
            writing=outcome.writing,
            preempted=outcome.preempted is not None,
        )
    return handoff.closed(conn_id, outcome)
