"""The load generator: N client workers do one operation at once, timed and verified.

One case: every worker connects and moves one file (UPLOAD or DOWNLOAD) after all of
them are ready; the case ends when the last one finishes. Workers are threads or
processes. Every transfer is streamed and checked: a download against the known
sha256, an upload by what the server stored (see ``verify``).
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.synchronize
import os
import queue
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from fileproto.client import Client
from fileproto.errors import FileprotoError, ProtocolViolation, ServerError
from fileproto.procinfo import peak_rss
from fileproto.testfiles import MIB, Comparator, TestFile
from fileproto.wire.events import Dialect

Operation = Literal["UPLOAD", "DOWNLOAD"]
Method = Literal["thread", "process"]
OPERATIONS: tuple[Operation, ...] = ("UPLOAD", "DOWNLOAD")
METHODS: tuple[Method, ...] = ("thread", "process")
_READY_TIMEOUT = 120.0


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    operation: Operation
    clients: int
    source: TestFile
    method: Method = "thread"
    dialect: Dialect = "json"
    #: Seconds a client may wait on the network at once (connect, send, receive).
    timeout: float = 300.0
    #: DOWNLOAD: the name on the server. UPLOAD: worker i stores "<name>-c<i>".
    remote_name: str = "stress.bin"

    def upload_name(self, index: int) -> str:
        stem, dot, ext = self.remote_name.rpartition(".")
        return f"{stem}-c{index}.{ext}" if dot else f"{self.remote_name}-c{index}"


@dataclass
class ClientOutcome:
    index: int
    ok: bool
    seconds: float
    size: int
    name: str
    error: str | None = None
    error_kind: str | None = None


@dataclass
class CaseOutcome:
    spec: LoadSpec
    outcomes: list[ClientOutcome]
    wall_time: float
    verified: bool
    client_peak_rss: int = 0
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def successes(self) -> int:
        return sum(o.ok for o in self.outcomes)

    @property
    def failures(self) -> int:
        return self.spec.clients - self.successes

    @property
    def avg_time(self) -> float:
        times = [o.seconds for o in self.outcomes if o.ok]
        return sum(times) / len(times) if times else 0.0

    @property
    def throughput(self) -> float:
        """Per-client throughput (file bytes / that client's time), averaged: the
        classic table's figure."""
        rates = [o.size / o.seconds for o in self.outcomes if o.ok and o.seconds > 0]
        return sum(rates) / len(rates) if rates else 0.0

    @property
    def aggregate(self) -> float:
        moved = sum(o.size for o in self.outcomes if o.ok)
        return moved / self.wall_time if self.wall_time > 0 else 0.0

    @property
    def first_error(self) -> str | None:
        for o in sorted(self.outcomes, key=lambda o: o.index):
            if not o.ok:
                return f"client {o.index}: {o.error_kind}: {o.error}"
        return None

    def extra_info(self, server_kind: str, server_workers: int | str) -> dict[str, Any]:
        """The figures recorded per case (DESIGN.md, Benchmark semantics)."""
        spec = self.spec
        return {
            "operation": spec.operation,
            "size_mib": round(spec.source.size / MIB, 3)
            if spec.source.size % MIB
            else spec.source.size // MIB,
            "size_bytes": spec.source.size,
            "client_workers": spec.clients,
            "server_workers": server_workers,
            "server_kind": server_kind,
            "method": spec.method,
            "dialect": spec.dialect,
            "avg_time_s": self.avg_time,
            "throughput_Bps": self.throughput,
            "aggregate_Bps": self.aggregate,
            "wall_time_s": self.wall_time,
            "successes": self.successes,
            "failures": self.failures,
            "verified": self.verified,
            "first_error": self.first_error,
            "client_peak_rss_bytes": self.client_peak_rss,
        }


class Cancelled(Exception):
    """The case was cancelled (Ctrl-C) while this worker was transferring."""


def _classify(exc: BaseException) -> str:
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


class _Progress:
    """Bytes moved so far, shared by all workers of a case."""

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


def _transfer(
    spec: LoadSpec,
    index: int,
    ready: Callable[[], None],
    go: Callable[[], bool],
    progress: _Progress,
) -> ClientOutcome:
    name = spec.upload_name(index) if spec.operation == "UPLOAD" else spec.remote_name
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
        return ClientOutcome(index, False, elapsed, 0, name, str(exc), _classify(exc))
    finally:
        client.close()
    if problem is not None:
        return ClientOutcome(index, False, seconds, done.size, name, problem, "wrong bytes")
    return ClientOutcome(index, True, seconds, done.size, name)


# -- process workers ------------------------------------------------------------------


def _keep_freed_heap() -> None:
    """Let glibc keep freed heap memory in this process instead of trimming it at once.

    A fresh client process has a small heap: glibc gave back the memory of every freed
    chunk buffer and faulted it in anew for the next, about 21,000 page faults per
    100 MiB upload (measured with getrusage), against none in a process whose heap has
    grown. Only what is touched stays resident, so the peak memory does not change.
    """
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None)
        libc.mallopt(_M_TRIM_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TOP_PAD, 4 << 20)


_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_TOP_PAD = -2


def _process_worker(
    spec: LoadSpec, index: int, ready: Any, go: Any, results: Any, shared_bytes: Any
) -> None:
    if sys.platform == "linux":
        _keep_freed_heap()
    outcome = _transfer(
        spec,
        index,
        ready.release,
        # The parent closes its end to start everyone at once (EOF makes poll true).
        lambda: bool(go.poll(_READY_TIMEOUT + spec.timeout)),
        _Progress(shared_bytes),
    )
    results.put((asdict(outcome), peak_rss(os.getpid())))


@contextlib.contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Start client processes without re-importing the parent's ``__main__`` in each.

    multiprocessing has every new process import the parent's main module; under pytest
    that is pytest with its plugins, about 5 MiB per client. The workers' code lives in
    this module, so they do not need it: hide it while the processes start.
    """
    saved = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = saved


def _wait_ready(ready: Any, workers: Sequence[multiprocessing.process.BaseProcess]) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    pending = len(workers)
    while pending:
        if ready.acquire(timeout=0.1):
            pending -= 1
        elif any(w.exitcode not in (None, 0) for w in workers):
            codes = sorted({w.exitcode for w in workers if w.exitcode not in (None, 0)})
            raise RuntimeError(f"client processes died before starting (exit codes {codes})")
        elif time.monotonic() > deadline:
            raise RuntimeError(f"{pending} client process(es) not ready after {_READY_TIMEOUT}s")


def _reset_peak_rss() -> None:
    """Restart this process's VmHWM count (Linux), so each case reports its own peak."""
    with contextlib.suppress(OSError), open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def _lost(spec: LoadSpec, index: int, wall: float, why: str) -> ClientOutcome:
    name = spec.upload_name(index) if spec.operation == "UPLOAD" else spec.remote_name
    return ClientOutcome(index, False, wall, 0, name, why, "timeout")


class PreparedCase:
    """Workers started and connected-ready, waiting for the go; ``run`` is the timed part.

    Splitting the two keeps process start-up out of the measurement.
    """

    def __init__(
        self,
        spec: LoadSpec,
        on_progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        if spec.clients < 1:
            raise ValueError("clients must be at least 1")
        self.spec = spec
        self.on_progress = on_progress
        self.cancel = cancel or threading.Event()
        if spec.method == "process":
            self._start_processes()
        else:
            self._start_threads()

    def _start_processes(self) -> None:
        spec = self.spec
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["fileproto.stress"])
        # A pipe, not an Event: Event.set() waits for every sleeper to wake, and hangs
        # if one was killed; closing the write end releases all readers at once.
        self._go, self._go_sender = ctx.Pipe(duplex=False)
        self._results = ctx.Queue()
        shared_bytes = ctx.Value("q", 0)
        self._progress = _Progress(shared_bytes)
        ready = ctx.Semaphore(0)
        self._workers = [
            ctx.Process(
                target=_process_worker,
                args=(spec, i, ready, self._go, self._results, shared_bytes),
                name=f"fileproto-client-{i}",
                daemon=True,
            )
            for i in range(spec.clients)
        ]
        try:
            with _main_module_hidden():
                for w in self._workers:
                    w.start()
            _wait_ready(ready, self._workers)
        except BaseException:
            self._reap(0)
            raise

    def _start_threads(self) -> None:
        spec = self.spec
        ready = threading.Semaphore(0)
        self._thread_go = threading.Event()
        self._progress = _Progress(cancel=self.cancel)
        self._pool = ThreadPoolExecutor(
            max_workers=spec.clients, thread_name_prefix="fileproto-client"
        )
        go = self._thread_go
        cancel = self.cancel
        self._futures = [
            self._pool.submit(
                _transfer,
                spec,
                i,
                ready.release,
                lambda: go.wait(_READY_TIMEOUT) and not cancel.is_set(),
                self._progress,
            )
            for i in range(spec.clients)
        ]
        for _ in self._futures:
            ready.acquire(timeout=_READY_TIMEOUT)

    def run(self) -> CaseOutcome:
        """Release all workers at once and wait for the last; no verification here."""
        if self.spec.method == "process":
            outcomes, wall, peak = self._run_processes()
        else:
            outcomes, wall, peak = self._run_threads()
        if self.on_progress is not None:
            self.on_progress(self._progress.total)
        return CaseOutcome(
            self.spec,
            outcomes,
            wall,
            verified=False,
            client_peak_rss=peak,
            interrupted=self.cancel.is_set(),
        )

    def _tick(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self._progress.total)

    def _run_threads(self) -> tuple[list[ClientOutcome], float, int]:
        _reset_peak_rss()  # the peak of this case, not of the whole session
        deadline = time.monotonic() + self.spec.timeout * 3 + 30
        start = time.perf_counter()
        self._thread_go.set()
        try:
            pending: set[Future[ClientOutcome]] = set(self._futures)
            while pending:
                # wait() returns the moment the last one finishes: the wall time is exact.
                _, pending = futures_wait(pending, timeout=0.05)
                self._tick()
                if pending and time.monotonic() > deadline:
                    self.cancel.set()  # workers stop at their next chunk or socket timeout
                    futures_wait(pending, timeout=self.spec.timeout + 5)
                    break
            wall = time.perf_counter() - start
            late = "client thread never finished"
            outcomes = [
                f.result() if f.done() else _lost(self.spec, i, wall, late)
                for i, f in enumerate(self._futures)
            ]
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return outcomes, wall, peak_rss(os.getpid())

    def _run_processes(self) -> tuple[list[ClientOutcome], float, int]:
        spec = self.spec
        outcomes: dict[int, ClientOutcome] = {}
        peak = 0
        start = time.perf_counter()
        self._go_sender.close()
        deadline = time.monotonic() + spec.timeout * 3 + 30
        try:
            while len(outcomes) < spec.clients and time.monotonic() < deadline:
                if self.cancel.is_set():
                    break
                try:
                    data, rss = self._results.get(timeout=0.05)
                except queue.Empty:
                    self._tick()
                    if not any(w.is_alive() for w in self._workers) and self._results.empty():
                        break
                    continue
                outcomes[data["index"]] = ClientOutcome(**data)
                peak += rss
            wall = time.perf_counter() - start
        finally:
            self._reap(0.5 if self.cancel.is_set() else 5)
        kind = "cancelled" if self.cancel.is_set() else "lost"
        for i in range(spec.clients):
            if i not in outcomes:
                name = spec.upload_name(i) if spec.operation == "UPLOAD" else spec.remote_name
                outcomes[i] = ClientOutcome(
                    i, False, wall, 0, name, "client process gave no result", kind
                )
        return [outcomes[i] for i in range(spec.clients)], wall, peak

    def _reap(self, wait: float) -> None:
        self._go_sender.close()  # a worker still waiting must not wait forever
        deadline = time.monotonic() + wait  # one deadline for all, not ``wait`` each
        for w in self._workers:
            w.join(timeout=max(0.0, deadline - time.monotonic()))
        for w in self._workers:
            if w.is_alive():
                w.kill()
        for w in self._workers:
            w.join(5)

    def abandon(self) -> None:
        """Stop workers that were prepared but will not run (e.g. after Ctrl-C)."""
        self.cancel.set()
        if self.spec.method == "process":
            self._reap(0.5)
        else:
            self._thread_go.set()
            self._pool.shutdown(wait=True)


#: Checks the file a worker uploaded: returns None if the server holds exactly the
#: source's bytes under that name, else a description of what is wrong.
UploadCheck = Callable[[str], str | None]


def verify(case: CaseOutcome, check_upload: UploadCheck | None = None) -> None:
    """Check what uploads stored, then set ``case.verified``. By default each uploaded
    file is downloaded back and compared; a caller with access to the server's folder
    can pass a cheaper ``check_upload``."""
    if case.spec.operation == "UPLOAD":
        _verify_uploads(case, check_upload or download_check(case.spec))
    case.verified = case.failures == 0 and not case.interrupted


def run_case(
    spec: LoadSpec,
    *,
    check_upload: UploadCheck | None = None,
    on_progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
) -> CaseOutcome:
    """Prepare, run and verify one case."""
    case = PreparedCase(spec, on_progress, cancel).run()
    verify(case, check_upload)
    return case


def download_check(spec: LoadSpec) -> UploadCheck:
    """Check an uploaded file by downloading it and comparing with the source."""

    def check(name: str) -> str | None:
        with (
            Client(spec.host, spec.port, dialect=spec.dialect, timeout=spec.timeout) as client,
            Comparator(spec.source.path) as compare,
        ):
            try:
                client.get(name, compare, checksum=False)
            except ServerError as exc:
                return f"cannot read back {name}: {exc.message}"
            return compare.problem(spec.source.size)

    return check


def _verify_uploads(case: CaseOutcome, check: UploadCheck) -> None:
    done = [o for o in case.outcomes if o.ok]
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(done)))) as pool:
        problems = list(pool.map(lambda o: check(o.name), done))
    for outcome, problem in zip(done, problems, strict=True):
        if problem is not None:
            outcome.ok = False
            outcome.error_kind = "wrong bytes"
            outcome.error = f"stored file {outcome.name}: {problem}"


def merge_rounds(
    outcomes: Sequence[CaseOutcome], server_kind: str, server_workers: int | str
) -> dict[str, Any]:
    """One case's extra_info over its rounds: times and rates averaged, counts summed."""
    infos = [o.extra_info(server_kind, server_workers) for o in outcomes]
    merged = dict(infos[-1])
    count = len(infos)
    for key in ("avg_time_s", "throughput_Bps", "aggregate_Bps", "wall_time_s"):
        merged[key] = sum(i[key] for i in infos) / count
    for key in ("successes", "failures"):
        merged[key] = sum(i[key] for i in infos)
    merged["client_peak_rss_bytes"] = max(i["client_peak_rss_bytes"] for i in infos)
    merged["verified"] = all(i["verified"] for i in infos)
    merged["first_error"] = next((i["first_error"] for i in infos if i["first_error"]), None)
    merged["rounds"] = count
    merged["interrupted"] = any(o.interrupted for o in outcomes)
    return merged
