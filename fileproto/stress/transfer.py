"""One client worker's transfer: connect, wait for the go, move the file, check it."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

from fileproto.client import Client, ConnectError
from fileproto.errors import FileprotoError, ProtocolViolation, ServerError
from fileproto.load.testfiles import Comparator
from fileproto.stress.outcome import ClientOutcome
from fileproto.stress.spec import LoadSpec

#: Seconds a worker may take to prepare (start and connect), and then waits to be told to go.
PREPARE_TIMEOUT = 120.0


class Cancelled(Exception):
    """The case was cancelled (Ctrl-C) while this worker was transferring."""


class DeadlinePassed(Exception):
    """The case's deadline passed while this worker was transferring."""


class Deadline:
    """Stops one client at the case's deadline (``LoadSpec.deadline`` seconds after the
    go): its socket is shut down, so a send or receive blocked on a server that does
    not read or answer returns at once, and its next chunk raises DeadlinePassed.

    Each worker keeps its own, thread and process workers alike: they all start at the
    go, so they all stop together."""

    def __init__(self, client: Client, seconds: float | None) -> None:
        self.client = client
        self.seconds = seconds
        self.expired = threading.Event()
        #: Bytes the client had written that its peer had not acknowledged when the
        #: deadline passed: they never reached the server.
        self.unsent = 0
        self._timer: threading.Timer | None = None
        if seconds is not None:
            self._timer = threading.Timer(seconds, self._expire)
            self._timer.daemon = True

    def start(self) -> None:
        if self._timer is not None:
            self._timer.start()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def check(self) -> None:
        if self.expired.is_set():
            raise DeadlinePassed(f"the case's deadline ({self.seconds:g} s) passed")

    def _expire(self) -> None:
        self.expired.set()
        self.unsent = self.client.abort()


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
    prepared: Callable[[], None],
    go: Callable[[], bool],
    progress: Progress,
) -> ClientOutcome:
    """Client ``index``: connect, say it is prepared, wait for the go, then move the file once.
    Every failure is returned as an outcome, none is raised. The outcome carries the
    request's timing when an answer came, and the file bytes moved even when the
    transfer did not finish."""
    name = spec.client_name(index)
    connect_timeout = 10.0 if spec.deadline is None else min(10.0, spec.deadline)
    client = Client(
        spec.host,
        spec.port,
        dialect=spec.dialect,
        timeout=spec.timeout,
        connect_timeout=connect_timeout,
        rate=spec.rate,
    )
    prepared()
    if not go():
        return ClientOutcome(index, False, 0.0, 0, name, "not started", "cancelled")
    deadline = Deadline(client, spec.deadline)
    moved = 0

    def count(amount: int) -> None:
        nonlocal moved
        moved += amount
        progress.add(amount)
        deadline.check()

    problem: str | None = None
    start = time.perf_counter()
    deadline.start()
    try:
        if spec.operation == "UPLOAD":
            # No client-side hash: what the server stored is compared afterwards.
            done = client.upload(spec.source.path, name, progress=count, checksum=False)
            if done.size != spec.source.size:
                problem = f"sent {done.size} bytes, expected {spec.source.size}"
        else:
            with Comparator(spec.source.path) as check:
                done = client.get(name, check, progress=count, checksum=False)
            problem = check.problem(spec.source.size)
        seconds = time.perf_counter() - start
    except Exception as exc:  # every failure is counted, none is hidden
        elapsed = time.perf_counter() - start
        kind, message = classify(exc), str(exc)
        if deadline.expired.is_set():
            kind = "deadline"
            message = f"not finished when the case's deadline ({spec.deadline:g} s) passed"
            if spec.operation == "UPLOAD":
                # What sat in the send queue never reached the server (base64: 4 wire
                # bytes per 3 file bytes).
                moved = max(0, moved - deadline.unsent * 3 // 4)
        ttfb, total = _timing(client)
        return ClientOutcome(
            index, False, elapsed, 0, name, message, kind, moved, ttfb, total, **_phases(client)
        )
    finally:
        deadline.cancel()
        client.close()
    ttfb, total = _timing(client)
    phases = _phases(client)
    if problem is not None:
        return ClientOutcome(
            index, False, seconds, done.size, name, problem, "wrong bytes", done.size, ttfb,
            total, **phases,
        )  # fmt: skip
    return ClientOutcome(
        index, True, seconds, done.size, name, None, None, done.size, ttfb, total, **phases
    )


def _timing(client: Client) -> tuple[float | None, float | None]:
    """The request's time to first byte and total, if an answer (OK or ERROR) came."""
    timing = client.last_timing
    return (None, None) if timing is None else (timing.ttfb, timing.total)


def _phases(client: Client) -> dict[str, Any]:
    """The request's phases for the timeline (docs/trace.md); none if none was made."""
    phases = client.last_phases
    return {} if phases is None else dataclasses.asdict(phases)


def lost(spec: LoadSpec, index: int, wall: float, why: str, kind: str) -> ClientOutcome:
    """The outcome of a worker that gave none (it hung, died or was stopped)."""
    return ClientOutcome(index, False, wall, 0, spec.client_name(index), why, kind)
