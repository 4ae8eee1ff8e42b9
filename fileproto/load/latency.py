"""What a newcomer feels while a case runs: a LIST probe on a fixed schedule, timed
without coordinated omission (docs/trace.md).

Probe k is due at ``start + k * interval``, whatever happened to the probes before it,
and its latency counts from that due time to the answer's end, as wrk2 does: a probe
that waits for a slow server does not stop the schedule, so a server that stops for two
seconds shows in the twenty probes due meanwhile, not in one. Probes go out open-loop,
each on a new connection, several in flight when the server is slow, at most
``in_flight`` at once; a probe due while that many wait is sent when one finishes and
counted as late (never skipped). The figures from each probe's actual start are kept
beside, uncorrected, as most load tools report them.

Every probe due before the case ends is counted once: answered, failed (no answer
within the timeout, or an error), or cut off (still waiting, or never sent, when the
case ended: neither a timeout nor a failure). Late is beside: a probe held back by the
bound, whatever became of it.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import socket
import threading
import time
from dataclasses import dataclass

from fileproto.results.felt import Percentiles, counted_waits
from fileproto.results.timeline import ProbeSpan
from fileproto.wire import TERMINATOR, encode_request

__all__ = ["PROBE_INTERVAL", "ListProbe", "Percentiles", "ProbeRecord"]

PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 5.0
#: Probes waiting for an answer at once, at most: a few newcomers, not a flood.
PROBE_IN_FLIGHT = 4
_LIST = encode_request("LIST")


@dataclass
class ProbeRecord:
    """One probe: time.monotonic() seconds of each phase (None: not reached)."""

    due: float
    connect: float | None = None
    connected: float | None = None
    sent: float | None = None
    first_byte: float | None = None
    done: float | None = None
    ok: bool = False
    port: int | None = None
    #: Sent later than due because ``in_flight`` probes were waiting.
    late: bool = False


@dataclass(eq=False)
class _Active:
    record: ProbeRecord
    sock: socket.socket
    deadline: float
    unsent: bytes = _LIST
    answer: bytes = b""


class ListProbe:
    """Every ``interval`` seconds a new connection sends LIST and times the answer.

    A probe not answered OK within ``timeout`` of its start counts as a failure, with
    ``timeout`` seconds (from its start; more from its due time): a frozen server shows
    as such, not as a gap. ``stop`` ends the probes still waiting at once: each of them,
    and each probe due but not yet sent, is cut off, neither a failure nor a timeout
    (it had not timed out). It has waited at least since it was due, and its latency
    counts as in :func:`fileproto.results.felt.counted_waits`.

    ``latencies`` are from the due times, ``sent_latencies`` from the actual starts.
    ``answered``, ``failures`` and ``cut_off`` add up to ``due_count``; ``late`` counts
    the probes held back by the bound.
    """

    def __init__(
        self,
        host: str,
        port: int,
        interval: float = PROBE_INTERVAL,
        timeout: float = PROBE_TIMEOUT,
        *,
        in_flight: int = PROBE_IN_FLIGHT,
        start: float | None = None,
    ) -> None:
        if interval <= 0 or in_flight < 1:
            raise ValueError("the probe needs a positive interval and at least 1 in flight")
        self.host, self.port = host, port
        self.interval, self.timeout, self.in_flight = interval, timeout, in_flight
        #: The schedule's origin (time.monotonic()); by default when the probe starts.
        self.start = start
        self.records: list[ProbeRecord] = []
        self.latencies: list[float] = []
        self.sent_latencies: list[float] = []
        self.answered = 0
        self.failures = 0
        self.cut_off = 0
        self.late = 0
        #: When the bound of probes in flight was last full (time.monotonic()): a probe
        #: due before then was held back.
        self._full_until = float("-inf")
        self._stop = threading.Event()
        self._stopped_at: float | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._run, name="fileproto-probe", daemon=True)

    def __enter__(self) -> ListProbe:
        if self.start is None:
            self.start = time.monotonic()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def due(self, k: int) -> float:
        assert self.start is not None
        return self.start + k * self.interval

    @property
    def due_count(self) -> int:
        """Probes due so far (after ``stop``: before the case ended)."""
        return len(self.records)

    def stop(self) -> Percentiles | None:
        if self._stopped_at is None:
            self._stopped_at = time.monotonic()
        self._stop.set()
        with contextlib.suppress(OSError):  # the thread is gone already
            self._wake_w.send(b"x")
        if self._thread.is_alive():
            self._thread.join(self.timeout + 5)
        for sock in (self._wake_r, self._wake_w):
            sock.close()
        return Percentiles.of(self.latencies)

    def spans(self, origin: float) -> list[ProbeSpan]:
        """Each probe's phases in seconds from ``origin`` (a time.monotonic() value)."""

        def at(moment: float | None) -> float | None:
            return None if moment is None else round(moment - origin, 6)

        return [
            ProbeSpan(
                round(r.due - origin, 6),
                at(r.sent),
                at(r.first_byte),
                at(r.done),
                r.ok,
                r.port,
                at(r.connect),
                at(r.connected),
                r.late,
            )
            for r in self.records
        ]

    # -- the schedule, in one thread around one selector --------------------------------

    def _run(self) -> None:
        selector = selectors.DefaultSelector()
        selector.register(self._wake_r, selectors.EVENT_READ, None)
        active: set[_Active] = set()
        k = 0  # the next probe to send
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                while self.due(k) <= now and len(active) < self.in_flight:
                    # Due while the bound was full: held back. (The loop sleeps while
                    # full, so it learns of that only when a probe ends.)
                    record = ProbeRecord(self.due(k), late=self.due(k) < self._full_until)
                    self.records.append(record)
                    self._open(record, selector, active, now)
                    k += 1
                for probe in [p for p in active if p.deadline <= now]:
                    self._finish(probe, selector, active, ok=False)
                wait = min((p.deadline for p in active), default=now + self.interval)
                if len(active) < self.in_flight:
                    wait = min(wait, self.due(k))
                for key, events in selector.select(max(0.0, wait - time.monotonic())):
                    if key.data is None:
                        continue  # woken by stop()
                    self._ready(key.data, events, selector, active)
        finally:
            self._wind_up(k, active)
            selector.close()

    def _open(
        self,
        record: ProbeRecord,
        selector: selectors.BaseSelector,
        active: set[_Active],
        now: float,
    ) -> None:
        record.connect = now
        try:
            sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET)
        except OSError:  # out of descriptors: this probe failed, the schedule goes on
            record.done = now
            self._account(record, ok=False)
            return
        sock.setblocking(False)
        probe = _Active(record, sock, now + self.timeout)
        active.add(probe)
        error = sock.connect_ex((self.host, self.port))
        if error not in (0, errno.EINPROGRESS, errno.EAGAIN):
            self._finish(probe, selector, active, ok=False, registered=False)
            return
        selector.register(sock, selectors.EVENT_WRITE, probe)

    def _ready(
        self,
        probe: _Active,
        events: int,
        selector: selectors.BaseSelector,
        active: set[_Active],
    ) -> None:
        record, sock = probe.record, probe.sock
        try:
            if record.connected is None:
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    raise ConnectionRefusedError
                record.connected = time.monotonic()
                record.port = sock.getsockname()[1]
            if probe.unsent:
                probe.unsent = probe.unsent[sock.send(probe.unsent) :]
                if probe.unsent:
                    return  # the rest when the socket is writable again
                record.sent = time.monotonic()
                selector.modify(sock, selectors.EVENT_READ, probe)
                return
            if events & selectors.EVENT_READ:
                data = sock.recv(1 << 16)
                if record.first_byte is None:
                    record.first_byte = time.monotonic()
                probe.answer += data
                if data and not probe.answer.endswith(TERMINATOR):
                    return
                answer = probe.answer
                ok = answer.endswith(TERMINATOR) and b'"OK"' in answer[:40]
                self._finish(probe, selector, active, ok=ok)
        except BlockingIOError:
            return
        except OSError:
            self._finish(probe, selector, active, ok=False)

    def _finish(
        self,
        probe: _Active,
        selector: selectors.BaseSelector,
        active: set[_Active],
        *,
        ok: bool,
        registered: bool = True,
    ) -> None:
        record = probe.record
        record.done, record.ok = time.monotonic(), ok
        if registered and len(active) >= self.in_flight:
            self._full_until = record.done
        active.discard(probe)
        if registered:
            with contextlib.suppress(KeyError, ValueError):
                selector.unregister(probe.sock)
        probe.sock.close()
        self._account(record, ok=ok)

    def _account(self, record: ProbeRecord, *, ok: bool) -> None:
        assert record.connect is not None and record.done is not None
        if ok:
            self.answered += 1
            self.latencies.append(record.done - record.due)
            self.sent_latencies.append(record.done - record.connect)
        else:
            # Unanswered (or answered with an error): the timeout, from its start.
            self.failures += 1
            self.latencies.append(record.connect + self.timeout - record.due)
            self.sent_latencies.append(self.timeout)
        if record.late:
            self.late += 1

    def _wind_up(self, k: int, active: set[_Active]) -> None:
        """At stop: the probes still waiting, and those due but not yet sent, are cut
        off; their waits count as :func:`counted_waits` says."""
        stopped = self._stopped_at if self._stopped_at is not None else time.monotonic()
        if len(active) >= self.in_flight:
            # Full at the end: every probe due since was held back.
            self._full_until = stopped
        waits: list[float] = []
        sent_waits: list[float] = []
        for probe in active:
            probe.sock.close()
            record = probe.record
            assert record.connect is not None
            waits.append(stopped - record.due)
            sent_waits.append(stopped - record.connect)
        cut_off = [p.record for p in active]
        while self.due(k) <= stopped:
            record = ProbeRecord(self.due(k), late=self.due(k) < self._full_until)
            self.records.append(record)
            cut_off.append(record)
            waits.append(stopped - record.due)
            k += 1
        self.cut_off += len(cut_off)
        self.late += sum(r.late for r in cut_off)
        self.latencies = counted_waits(self.latencies, waits)
        self.sent_latencies = counted_waits(self.sent_latencies, sent_waits)

    # -- one probe now, blocking (a quick look at a server) -----------------------------

    def probe_once(self) -> tuple[float, bool]:
        """(seconds, answered OK) of one probe sent now. Not answered: the timeout, or
        the time waited if ``stop`` cut it short."""
        started = time.monotonic()
        deadline = started + self.timeout
        answer = b""
        with (
            contextlib.suppress(OSError),
            socket.create_connection((self.host, self.port), timeout=self.timeout) as sock,
        ):
            sock.sendall(_LIST)
            while not answer.endswith(TERMINATOR) and not self._stop.is_set():
                sock.settimeout(max(0.001, deadline - time.monotonic()))
                data = sock.recv(1 << 16)
                if not data:
                    break
                answer += data
        waited = time.monotonic() - started
        if answer.endswith(TERMINATOR) and b'"OK"' in answer[:40]:
            return waited, True
        return (min(waited, self.timeout) if self._stop.is_set() else self.timeout), False
