"""What clients feel: latency percentiles, and a LIST probe that measures how quickly a
new client is answered while a case runs (responsiveness under load)."""

from __future__ import annotations

import contextlib
import math
import socket
import threading
import time
from dataclasses import asdict, dataclass

from fileproto.wire import TERMINATOR, encode_request

PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 5.0
_LIST = encode_request("LIST")


@dataclass(frozen=True)
class Percentiles:
    """p50, p90, p99 and max of a set of seconds (nearest-rank, as wrk and k6 report)."""

    count: int
    p50: float
    p90: float
    p99: float
    max: float

    @classmethod
    def of(cls, values: list[float]) -> Percentiles | None:
        if not values:
            return None
        ordered = sorted(values)

        def rank(q: float) -> float:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

        return cls(len(ordered), rank(0.50), rank(0.90), rank(0.99), ordered[-1])

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


class ListProbe:
    """Every ``interval`` seconds, a new connection sends LIST and times the answer.

    A probe that gets no answer within ``timeout`` counts as a failure and as
    ``timeout`` seconds of latency: a frozen server shows as such, not as a gap.
    ``stop`` ends a probe still waiting for its answer at once. Its latency is at
    least the time it had waited: if that is longer than every probe counted before,
    it counts with that time (a server frozen to the end shows so), not as a failure
    (it had not timed out); otherwise it tells nothing and is left out.
    """

    def __init__(
        self,
        host: str,
        port: int,
        interval: float = PROBE_INTERVAL,
        timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.host, self.port = host, port
        self.interval, self.timeout = interval, timeout
        self.latencies: list[float] = []
        self.failures = 0
        self._stop = threading.Event()
        self._sock: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="fileproto-probe", daemon=True)

    def __enter__(self) -> ListProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> Percentiles | None:
        self._stop.set()
        sock = self._sock
        if sock is not None:
            with contextlib.suppress(OSError):  # closed meanwhile: nothing to cut
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(self.timeout + 5)
        return Percentiles.of(self.latencies)

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            seconds, ok = self.probe_once()
            if not ok and self._stop.is_set():  # cut short by stop()
                if seconds > max(self.latencies, default=0.0):
                    self.latencies.append(seconds)
                break
            self.latencies.append(seconds)
            if not ok:
                self.failures += 1
            next_at += self.interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))
            next_at = max(next_at, time.monotonic() - self.interval)  # no catch-up burst

    def probe_once(self) -> tuple[float, bool]:
        """(seconds, answered). Not answered: the timeout, or the time waited if
        ``stop`` cut the probe short."""
        started = time.perf_counter()
        deadline = time.monotonic() + self.timeout
        answer = b""
        try:
            with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
                self._sock = sock
                if self._stop.is_set():
                    return 0.0, False
                sock.sendall(_LIST)
                while not answer.endswith(TERMINATOR):
                    sock.settimeout(max(0.001, deadline - time.monotonic()))
                    data = sock.recv(1 << 16)
                    if not data:
                        break
                    answer += data
        except OSError:
            pass
        finally:
            self._sock = None
        waited = time.perf_counter() - started
        if answer.endswith(TERMINATOR) and b'"OK"' in answer[:40]:
            return waited, True
        return (min(waited, self.timeout) if self._stop.is_set() else self.timeout), False
