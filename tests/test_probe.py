"""The LIST probe without coordinated omission (docs/trace.md): a fixed schedule, open-loop
with a bound in flight, latency from the due time, against real servers that the tests
freeze with SIGSTOP.

What is asserted are counts of the schedule (how many probes were due while the server
was stopped), never how fast the machine is: a slower machine only makes the freeze
longer and the corrected figures larger.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from fileproto.load.latency import ListProbe
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.results.felt import Percentiles
from tests.helpers import skip_if_target, wait_for

pytestmark = pytest.mark.smoke


@contextlib.contextmanager
def frozen(server: RunningServer, seconds: float) -> Iterator[None]:
    """The server's process stopped (SIGSTOP) for ``seconds``, resumed by a timer and,
    whatever happens, at the end of the block."""
    assert server.process is not None
    pid = server.process.pid
    thaw = threading.Timer(seconds, os.kill, (pid, signal.SIGCONT))
    os.kill(pid, signal.SIGSTOP)
    thaw.start()
    try:
        yield
    finally:
        thaw.cancel()
        os.kill(pid, signal.SIGCONT)


def _answered(probe: ListProbe, count: int) -> None:
    """Wait until ``count`` probes have been answered (the sleeps beside this one are how
    long the server stays frozen: those are the test's own pace)."""
    wait_for(
        lambda: probe.answered >= count, what=lambda: f"{count} answered probes: {probe.answered}"
    )


@pytest.fixture
def server(fileproto_servers: ServerPool) -> Iterator[RunningServer]:
    skip_if_target(fileproto_servers, "freezes its own server")
    running = fileproto_servers.start("thread", 1)
    try:
        yield running
    finally:
        fileproto_servers.stop(running)


def test_a_server_frozen_for_1_5_s_shows_in_the_probe_p90(server: RunningServer) -> None:
    probe = ListProbe(server.host, server.port, interval=0.05, in_flight=4)
    with probe:
        _answered(probe, 10)  # before the freeze
        with frozen(server, 1.5):
            time.sleep(1.5)
        _answered(probe, probe.due_count + 5)  # the held ones, and some after the thaw
    corrected = Percentiles.of(probe.latencies)
    uncorrected = Percentiles.of(probe.sent_latencies)
    assert corrected is not None and uncorrected is not None
    # About 30 of about 65 due probes were due while the server was stopped, each late by
    # up to 1.5 s, 20 of them by more than half a second: more than a tenth waited at
    # least half a second, from its due time.
    assert corrected.p90 >= 0.5, corrected
    # From the actual sends, only the few in flight when it stopped waited; the others
    # were held back by the bound and sent once it answered again.
    assert uncorrected.p90 < corrected.p90, (uncorrected, corrected)
    assert corrected.max >= 1.0 and probe.late >= 5 and probe.failures == 0


def test_probes_keep_their_schedule_within_the_bound(server: RunningServer) -> None:
    interval, bound = 0.05, 2
    probe = ListProbe(server.host, server.port, interval=interval, in_flight=bound)
    with probe:
        _answered(probe, 3)
        with frozen(server, 1.0):
            time.sleep(1.0)
        thawed = time.monotonic()
        _answered(probe, probe.due_count)
    assert probe.start is not None
    records = probe.records
    # Probe k is due at start + k * interval: none skipped, up to the thaw at least.
    assert [r.due for r in records] == pytest.approx(
        [probe.start + k * interval for k in range(len(records))]
    )
    assert len(records) >= int((thawed - probe.start) / interval)
    # Never more than the bound in flight at once.
    moments = sorted(
        [(r.connect, 1) for r in records if r.connect is not None]
        + [(r.done, -1) for r in records if r.done is not None]
    )
    in_flight = peak = 0
    for _, step in moments:
        in_flight += step
        peak = max(peak, in_flight)
    assert peak <= bound
    # The probes due while the bound was full were counted late and sent when a slot
    # freed (or, if the end came first, counted so): about 20 due during the freeze.
    late = [r for r in records if r.late]
    assert len(late) == probe.late >= 5
    assert all(r.connect is None or r.connect >= r.due for r in late)
    answered = [r for r in records if r.ok]
    assert answered and all(
        r.due <= (r.connect or 0) <= (r.connected or 0) <= (r.sent or 0) <= (r.first_byte or 0)
        <= (r.done or 0)
        for r in answered
    )  # fmt: skip
    assert all(r.port for r in answered)
    assert max(probe.sent_latencies) <= max(probe.latencies)


def test_probes_still_waiting_at_the_end_are_cut_off(server: RunningServer) -> None:
    probe = ListProbe(server.host, server.port, interval=0.05, in_flight=2)
    with probe:
        _answered(probe, 1)
        with frozen(server, 30.0):  # thawed only after the probe stopped
            time.sleep(0.6)
            probe.stop()
    # The two in flight and the held ones were cut off by the end: neither failures nor
    # timeouts (none had timed out), and every probe due is counted once.
    assert probe.failures == 0 and probe.late >= 3
    assert probe.answered >= 1 and probe.cut_off >= 3
    assert probe.answered + probe.failures + probe.cut_off == probe.due_count
    assert probe.due_count == len(probe.records)
    cut_off = [r for r in probe.records if r.done is None]
    assert len(cut_off) == probe.cut_off and not any(r.ok for r in cut_off)
    # Those that had waited longer than any answered probe count with that wait (the
    # last ones due had hardly waited: they tell nothing, and are left out).
    figures = Percentiles.of(probe.latencies)
    assert figures is not None and figures.max >= 0.5
    assert probe.answered < figures.count <= probe.answered + probe.cut_off
    never_sent = [r for r in probe.records if r.connect is None]
    assert never_sent and all(r.late for r in never_sent)


def test_a_probe_held_back_by_the_bound_is_late_once_sent(server: RunningServer) -> None:
    """Frozen from the start for 0.5 s, two in flight at most: the probes due at 0.2,
    0.3 and 0.4 s wait for a slot, go out when the first two are answered, and are late;
    the first two went out on time and are not."""
    probe = ListProbe(server.host, server.port, interval=0.1, in_flight=2)
    with frozen(server, 0.5), probe:
        _answered(probe, 5)  # after the thaw
    first, second, *held = probe.records[:5]
    assert not first.late and not second.late
    assert all(r.late and r.connect is not None and r.ok for r in held), held
    assert probe.late == sum(r.late for r in probe.records) >= 3
    assert [s.late for s in probe.spans(probe.start or 0.0)[:5]] == [False, False] + [True] * 3
