"""One client worker's transfer: connect, wait for the go, move the file, check it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from fileproto.client import Client, ConnectError
from fileproto.errors import FileprotoError, ProtocolViolation, ServerError
from fileproto.stress.outcome import ClientOutcome
from fileproto.stress.spec import LoadSpec
from fileproto.testfiles import Comparator

#: Seconds a prepared worker waits to be ready or to be told to go.
READY_TIMEOUT = 120.0


class Cancelled(Exception):
    """The case was cancelled (Ctrl-C) while this worker was transferring."""


def classify(exc: BaseException) -> str:
    """The failure kind a table and a summary show for an exception."""
    if isinstance(exc, ConnectError) and isinstance(exc.__cause__, OSError):
        exc = exc.__cause__  # the OSError behind it says what went wrong
    if isinstance(exc, Cancelled):
        return "cancelled"
    if isinstance(exc, ServerError):
        return "server error"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError, ConnectionAbortedError)):
        return "reset"
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ProtocolViolation):
        return "protocol violation"
    if isinstance(exc, FileprotoError):
        return "client error"
    return type(exc).__name__


class Progress:
    """Bytes moved so far, shared by all workers of a case: a process-shared counter
    (``multiprocessing.Value``) for process workers, a locked int for threads."""

    def __init__(self, shared: Any = None, cancel: threading.Event | None = None) -> None:
        self._shared = shared
        self._cancel = cancel
        self._local = 0
        self._lock = threading.Lock()

    def add(self, count: int) -> None:
        # Called once per chunk: the place where a thread worker learns of a cancel.
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled("the case was cancelled")
        if self._shared is not None:
            with self._shared.get_lock():
                self._shared.value += count
        else:
            with self._lock:
                self._local += count

    @property
    def total(self) -> int:
        return int(self._shared.value) if self._shared is not None else self._local


def transfer(
    spec: LoadSpec,
    index: int,
    ready: Callable[[], None],
    go: Callable[[], bool],
    progress: Progress,
) -> ClientOutcome:
    """Client ``index``: connect, say ready, wait for the go, then move the file once.
    Every failure is returned as an outcome, none is raised."""
    name = spec.client_name(index)
    client = Client(spec.host, spec.port, dialect=spec.dialect, timeout=spec.timeout)
    ready()
    if not go():
        return ClientOutcome(index, False, 0.0, 0, name, "not started", "cancelled")
    problem: str | None = None
    start = time.perf_counter()
    try:
        if spec.operation == "UPLOAD":
            # No client-side hash: what the server stored is compared afterwards.
            done = client.upload(spec.source.path, name, progress=progress.add, checksum=False)
            if done.size != spec.source.size:
                problem = f"sent {done.size} bytes, expected {spec.source.size}"
        else:
            with Comparator(spec.source.path) as check:
                done = client.get(name, check, progress=progress.add, checksum=False)
            problem = check.problem(spec.source.size)
        seconds = time.perf_counter() - start
    except Exception as exc:  # every failure is counted, none is hidden
        elapsed = time.perf_counter() - start
        return ClientOutcome(index, False, elapsed, 0, name, str(exc), classify(exc))
    finally:
        client.close()
    if problem is not None:
        return ClientOutcome(index, False, seconds, done.size, name, problem, "wrong bytes")
    return ClientOutcome(index, True, seconds, done.size, name)


def lost(spec: LoadSpec, index: int, wall: float, why: str, kind: str) -> ClientOutcome:
    """The outcome of a worker that gave none (it hung, died or was stopped)."""
    return ClientOutcome(index, False, wall, 0, spec.client_name(index), why, kind)
