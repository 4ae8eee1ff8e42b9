"""Client workers as threads of this process."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as futures_wait

from fileproto.procinfo import peak_rss, reset_peak_rss
from fileproto.stress.outcome import ClientOutcome
from fileproto.stress.spec import LoadSpec
from fileproto.stress.transfer import PREPARE_TIMEOUT, Progress, lost, transfer


class ThreadWorkers:
    """``spec.clients`` threads, connected and waiting for the go once constructed."""

    def __init__(self, spec: LoadSpec, cancel: threading.Event) -> None:
        self.spec = spec
        self.cancel = cancel
        self.progress = Progress(cancel=cancel)
        prepared = threading.Semaphore(0)
        self._go = threading.Event()
        self._pool = ThreadPoolExecutor(
            max_workers=spec.clients, thread_name_prefix="fileproto-client"
        )
        go = self._go
        self._futures = [
            self._pool.submit(
                transfer,
                spec,
                i,
                prepared.release,
                lambda: go.wait(PREPARE_TIMEOUT) and not cancel.is_set(),
                self.progress,
            )
            for i in range(spec.clients)
        ]
        for _ in self._futures:
            prepared.acquire(timeout=PREPARE_TIMEOUT)

    def run(self, tick: Callable[[], None]) -> tuple[list[ClientOutcome], float, int]:
        """Release every thread and wait for the last: (outcomes, wall time, this
        process's peak memory during the round)."""
        reset_peak_rss()  # the peak of this round, not of the whole session
        deadline = time.monotonic() + self.spec.timeout * 3 + 30
        start = time.perf_counter()
        self._go.set()
        try:
            pending: set[Future[ClientOutcome]] = set(self._futures)
            while pending:
                # wait() returns the moment the last one finishes: the wall time is exact.
                _, pending = futures_wait(pending, timeout=0.05)
                tick()
                if pending and time.monotonic() > deadline:
                    self.cancel.set()  # workers stop at their next chunk or socket timeout
                    futures_wait(pending, timeout=self.spec.timeout + 5)
                    break
            wall = time.perf_counter() - start
            late = "client thread never finished"
            outcomes = [
                f.result() if f.done() else lost(self.spec, i, wall, late, "timeout")
                for i, f in enumerate(self._futures)
            ]
        finally:
            self._pool.shutdown(wait=False, cancel_futures=True)
        return outcomes, wall, peak_rss(os.getpid())

    def abandon(self) -> None:
        """Stop threads that were prepared but will not run."""
        self.cancel.set()
        self._go.set()
        self._pool.shutdown(wait=True)
