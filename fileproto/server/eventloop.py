"""The event-loop model: N processes, each one asyncio loop, sharing one listening
socket (pre-fork, as nginx and gunicorn with uvicorn workers do).

One loop multiplexes all its connections, so a waiting client costs a socket and a
session, never a worker. Each loop drives the same ServerSession as the other kinds
through an ``asyncio.Protocol`` (fileproto/server/loop_protocol.py). The parent only
supervises: it starts the loop processes, replaces one that dies (removing that
process's temporary uploads) and turns SIGINT/SIGTERM into an orderly stop.

The module is not called ``asyncio``: a module of that name shadows the standard
library's whenever its folder is on ``sys.path`` (running the file directly, some tools).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

from fileproto.server.base import BaseServer, Listening
from fileproto.server.config import POLL, ServerConfig
from fileproto.server.loop_protocol import LoopState, SessionProtocol
from fileproto.server.tracer import open_tracer

log = logging.getLogger("fileproto.server")


def uvloop_available() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def new_loop(choice: str) -> asyncio.AbstractEventLoop:
    if choice == "uvloop" or (choice == "auto" and uvloop_available()):
        import uvloop  # an optional extra: imported only when chosen

        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


def _loop_process(
    listener: socket.socket, config: ServerConfig, max_connections: int, grace: float
) -> None:
    """One loop process: serve until SIGTERM, then give connections ``grace`` seconds."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # Blocked since the fork (see _start_loop): one sent meanwhile ends the process now,
    # before it holds any connection.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM})
    from fileproto.store import FileStore

    loop = new_loop(config.loop)
    asyncio.set_event_loop(loop)
    log.info("loop process %d: %s.%s", os.getpid(), type(loop).__module__, type(loop).__name__)
    tracer = open_tracer(config.trace)
    state = LoopState(
        FileStore(config.root),
        config.limits,
        max_connections,
        read_buffer=memoryview(bytearray(config.recv_size)),
        pid=os.getpid(),
        verbose=config.verbose,
        tracer=tracer,
    )
    stop = asyncio.Event()

    async def serve() -> None:
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        server = await loop.create_server(
            lambda: SessionProtocol(state), sock=listener, backlog=config.backlog
        )
        await stop.wait()
        server.close()  # no new connections
        for protocol in [p for p in state.connections if p.waiting]:
            protocol.shutdown()  # nothing in flight: closed at once, as the pools do
        # Those with a request in flight get the grace period.
        deadline = time.monotonic() + grace
        while state.connections and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for protocol in list(state.connections):
            protocol.shutdown()
        await asyncio.sleep(0)  # let the aborts run their callbacks

    try:
        loop.run_until_complete(serve())
    finally:
        loop.close()


class EventLoopServer(BaseServer):
    def __init__(self, config: ServerConfig, workers: int, **kwargs: object) -> None:
        super().__init__(config, workers, **kwargs)  # type: ignore[arg-type]
        self._context = multiprocessing.get_context("fork")
        self._started = itertools.count()
        self._loops: list[BaseProcess] = []
        # The cap is per loop process, split evenly.
        self._per_loop = max(1, -(-self.max_connections // workers))
        # A stop wakes the supervising wait at once (a signal alone would not end it).
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)

    def request_stop(self, *_: object) -> None:
        super().request_stop()
        with contextlib.suppress(OSError):  # a full pipe already means "wake up"
            self._wake_w.send(b"\0")

    def _start_loop(self) -> BaseProcess:
        process = self._context.Process(
            target=_loop_process,
            args=(self.listener, self.config, self._per_loop, self.grace),
            name=f"fileproto-loop-{next(self._started)}",
            daemon=False,
        )
        # The child starts with this process's SIGTERM handler, which would only set the
        # child's copy of the stop flag: a stop sent before _loop_process resets it would
        # be lost. Blocked over the fork, it waits in the child for the reset.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        return process

    def start_pool(self) -> None:
        # Fork before any thread exists in this process: the loops start clean.
        self._loops = [self._start_loop() for _ in range(self.workers)]

    def stop_pool(self) -> None:
        for process in self._loops:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + self.grace + 2.0
        for process in self._loops:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join(5)

    def serve_forever(self, listening: Listening | None = None) -> None:
        removed = self.store.remove_temp_files()
        if removed:
            log.warning("removed %d temporary file(s) left by an earlier run", removed)
        self.start_pool()
        if listening is not None:
            listening(*self.address)
        try:
            while not self.stopping:
                sentinels = [p.sentinel for p in self._loops]
                for done in wait([*sentinels, self._wake_r], timeout=POLL):
                    if done is not self._wake_r:
                        self._replace(sentinels.index(done))  # type: ignore[arg-type]
        finally:
            self.stop_pool()
            self.listener.close()
            self._wake_r.close()
            self._wake_w.close()
            self.store.remove_temp_files()

    def _replace(self, index: int) -> None:
        dead = self._loops[index]
        dead.join(1)
        if self.stopping:
            return
        log.warning("a loop process died (exit %s); starting another", dead.exitcode)
        if dead.pid is not None:
            self.store.remove_temp_files(pid=dead.pid)
        self._loops[index] = self._start_loop()

    @property
    def description(self) -> str:
        return "event loops"


if __name__ == "__main__":
    from fileproto.server.run import main

    sys.exit(main("asyncio"))
