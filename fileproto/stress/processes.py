"""Client workers as processes, forked by a multiprocessing forkserver."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import multiprocessing.forkserver
import multiprocessing.process
import os
import queue
import signal
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

from fileproto.procinfo import peak_rss
from fileproto.stress.outcome import ClientOutcome
from fileproto.stress.spec import LoadSpec
from fileproto.stress.transfer import PREPARE_TIMEOUT, Progress, lost, transfer

#: What the forkserver imports once, so each client process starts with it loaded.
PRELOAD = ["fileproto.stress.processes"]
_M_TRIM_THRESHOLD = -1  # from glibc's malloc.h
_M_TOP_PAD = -2


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


def _process_worker(
    spec: LoadSpec, index: int, prepared: Any, go: Any, results: Any, shared_bytes: Any
) -> None:
    if sys.platform == "linux":
        _keep_freed_heap()
    outcome = transfer(
        spec,
        index,
        prepared.release,
        # The parent closes its end to start everyone at once (EOF makes poll true).
        lambda: bool(go.poll(PREPARE_TIMEOUT + spec.timeout)),
        Progress(shared_bytes),
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


def _wait_prepared(prepared: Any, workers: Sequence[multiprocessing.process.BaseProcess]) -> None:
    deadline = time.monotonic() + PREPARE_TIMEOUT
    pending = len(workers)
    while pending:
        if prepared.acquire(timeout=0.1):
            pending -= 1
        elif any(w.exitcode not in (None, 0) for w in workers):
            codes = sorted({w.exitcode for w in workers if w.exitcode not in (None, 0)})
            raise RuntimeError(f"client processes died before starting (exit codes {codes})")
        elif time.monotonic() > deadline:
            raise RuntimeError(f"{pending} client process(es) not prepared in {PREPARE_TIMEOUT}s")


def start_forkserver_ignoring_sigint() -> None:
    """Start the forkserver with SIGINT ignored, so the client processes it forks inherit
    that: a terminal's Ctrl-C then reaches only this process, which stops them itself
    (no traceback from every worker)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


class ProcessWorkers:
    """``spec.clients`` processes, connected and waiting for the go once constructed."""

    def __init__(self, spec: LoadSpec, cancel: threading.Event) -> None:
        self.spec = spec
        self.cancel = cancel
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        # A pipe, not an Event: Event.set() waits for every sleeper to wake, and hangs
        # if one was killed; closing the write end releases all readers at once.
        self._go, self._go_sender = ctx.Pipe(duplex=False)
        self._results = ctx.Queue()
        shared_bytes = ctx.Value("q", 0)
        self.progress = Progress(shared_bytes)
        prepared = ctx.Semaphore(0)
        self._workers = [
            ctx.Process(
                target=_process_worker,
                args=(spec, i, prepared, self._go, self._results, shared_bytes),
                name=f"fileproto-client-{i}",
                daemon=True,
            )
            for i in range(spec.clients)
        ]
        try:
            with _main_module_hidden():
                for w in self._workers:
                    w.start()
            _wait_prepared(prepared, self._workers)
        except BaseException:
            self._reap(0)
            raise

    def run(self, tick: Callable[[], None]) -> tuple[list[ClientOutcome], float, int]:
        """Release every process and wait for the last: (outcomes, wall time, the
        client processes' peak memory summed)."""
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
                    tick()
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
                outcomes[i] = lost(spec, i, wall, "client process gave no result", kind)
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
        """Stop processes that were prepared but will not run."""
        self.cancel.set()
        self._reap(0.5)
