"""The load generator's parts for clients that wait: the link-rate bucket, latency
percentiles, the LIST probe, background idle/slowloris/parked/stalled connections, and
what a client says when it cannot connect."""

from __future__ import annotations

import socket

import pytest

from fileproto.client import Client, ConnectError
from fileproto.load.background import BackgroundClients
from fileproto.load.latency import ListProbe, Percentiles
from fileproto.pytest.servers import ServerPool
from fileproto.ratelimit import TokenBucket
from fileproto.results.felt import Waiting
from tests.helpers import skip_if_target, wait_for
from tests.helpers.kinds import each_kind


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += seconds


@pytest.mark.smoke
def test_bucket_paces_bytes_at_the_rate_after_one_burst() -> None:
    fake = FakeClock()
    bucket = TokenBucket(1000.0, burst=100, clock=fake.clock, sleep=fake.sleep)
    for _ in range(50):
        bucket.take(100)  # 5,000 bytes at 1,000 B/s with 100 in the first burst
    assert fake.slept == pytest.approx(4.9)
    fake.now += 10.0  # an idle link refills only up to one burst
    before = fake.slept
    bucket.take(100)
    bucket.take(100)
    assert fake.slept - before == pytest.approx(0.1)


@pytest.mark.smoke
def test_bucket_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0)


@pytest.mark.smoke
def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    summary = Percentiles.of(values)
    assert summary == Percentiles(100, 50.0, 90.0, 99.0, 100.0)
    assert Percentiles.of([]) is None
    assert Percentiles.of([3.0]) == Percentiles(1, 3.0, 3.0, 3.0, 3.0)


@pytest.mark.smoke
def test_connect_error_names_the_address_and_a_hint() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nobody listens there now (bound, never listening, closed).
    with pytest.raises(ConnectError) as caught, Client("127.0.0.1", port) as client:
        client.list()
    message = str(caught.value)
    assert f"cannot connect to 127.0.0.1:{port}: connection refused" in message
    assert "is the server running" in message


@pytest.mark.smoke
def test_rate_limited_client_moves_the_same_bytes(fileproto_servers: ServerPool) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.get("thread", 1)
    data = bytes(range(256)) * 400
    with server.client(rate=4 << 20, timeout=30.0) as client:
        client.upload(data, "rated.bin")
        assert client.last_timing is not None
        assert 0 < client.last_timing.ttfb <= client.last_timing.total
        got = client.get("rated.bin")
        assert got.size == len(data)
        client.delete("rated.bin")


@pytest.mark.smoke
@pytest.mark.parametrize("kind", ["thread", "asyncio"])
def test_background_clients_are_closed_by_the_header_deadline_and_reopened(
    fileproto_servers: ServerPool, kind: str
) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start(kind, 1, "--header-timeout", "0.5")
    try:
        background = BackgroundClients(
            server.host, server.port, Waiting(idle=10, slowloris=5, parked=3), piece_interval=0.1
        )
        with background:
            wait_for(
                lambda: (
                    background.report().closed_by_server.get("slowloris", 0) >= 5
                    and background.report().closed_by_server.get("idle", 0) >= 10
                ),
                what=lambda: f"the deadline to close them: {background.report()}",
            )
            with server.client(timeout=20.0) as client:  # the one worker is free
                assert client.list() == []
        report = background.stop()
        assert (report.idle, report.slowloris, report.parked, report.stalled) == (10, 5, 3, 0)
        assert report.errors.get("request timeout", 0) >= 15
        assert report.connect_failures == 0
        # The header deadline runs from accept: no idle connection lived shorter.
        assert report.closed_after_s["idle"].count >= 10
        assert report.closed_after_s["idle"].p50 >= 0.5
    finally:
        assert fileproto_servers.stop(server) == 0


@pytest.mark.parametrize("kind", each_kind())
def test_stalled_readers_are_closed_by_the_send_deadline_and_reopened(
    fileproto_servers: ServerPool, kind: str
) -> None:
    """GET a file larger than the socket buffers, read nothing: the server gives up after
    its --send-timeout, the client sees it without reading, opens the reader again."""
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start(kind, 2, "--send-timeout", "0.5")
    assert server.root is not None
    (server.root / "big.bin").write_bytes(bytes(range(256)) * (16 << 12))  # 16 MiB
    try:
        background = BackgroundClients(
            server.host, server.port, Waiting(stalled=3), stalled_name="big.bin"
        )
        with background:
            wait_for(
                lambda: background.report().closed_by_server.get("stalled", 0) >= 4,
                what=lambda: (
                    f"the send deadline to close them (and a reopened one): {background.report()}"
                ),
            )
            with server.client(timeout=20.0) as client:
                assert client.list() == ["big.bin"]
        report = background.stop()
        assert report.stalled == 3 and report.connect_failures == 0
        assert report.errors == {}  # they read nothing, so they saw no answer
        # Given up on only after the send deadline, never before.
        assert report.closed_after_s["stalled"].p50 >= 0.5
    finally:
        assert fileproto_servers.stop(server) == 0


@pytest.mark.smoke
def test_stalled_readers_need_a_file_to_ask_for() -> None:
    with pytest.raises(ValueError, match="name of a file"):
        BackgroundClients("127.0.0.1", 9, Waiting(stalled=1))
    with pytest.raises(ValueError, match="cannot be negative"):
        Waiting(idle=-1)


@pytest.mark.smoke
def test_probe_times_answers_and_counts_a_frozen_server(fileproto_servers: ServerPool) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.get("thread", 1)
    with ListProbe(server.host, server.port, interval=0.02) as probe:
        wait_for(lambda: len(probe.latencies) >= 5, what="five probes")
    assert probe.failures == 0
    frozen = fileproto_servers.start("thread", 1, "--dispatch", "accept")
    try:
        with socket.create_connection((frozen.host, frozen.port), timeout=10) as idle:
            idle.sendall(b"L")  # holds the one classic worker
            stuck = ListProbe(frozen.host, frozen.port, timeout=0.3)
            seconds, ok = stuck.probe_once()
            assert not ok and seconds == 0.3
    finally:
        fileproto_servers.stop(frozen)
