"""The event-loop kind's own behaviour: its loop choices, its supervisor replacing a
killed loop process, and its classic entry point. What it shares with the other kinds
(protocol, errors, deadlines, faults) is tested wherever the kinds are listed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from fileproto.pytest.servers import ServerPool
from fileproto.server.config import LOOPS
from fileproto.server.eventloop import uvloop_available
from tests.helpers import (
    IO_TIMEOUT,
    RawConnection,
    log_of,
    no_temp_files,
    skip_if_target,
    temp_files,
    wait_for,
)

pytestmark = pytest.mark.smoke

#: Every ``--loop`` choice the server has; uvloop only where it is installed.
LOOP_CHOICES = [
    pytest.param(
        loop,
        marks=pytest.mark.skipif(
            loop == "uvloop" and not uvloop_available(),
            reason="uvloop is not installed (pip install -e '.[uvloop]')",
        ),
    )
    for loop in LOOPS
]


@pytest.mark.parametrize("loop", LOOP_CHOICES)
def test_each_loop_serves_and_says_which_it_is(fileproto_servers: ServerPool, loop: str) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start("asyncio", 2, "--loop", loop, "-v")
    try:
        data = os.urandom(3 << 20)
        for dialect in ("json", "text"):
            with server.client(dialect=dialect, timeout=IO_TIMEOUT) as client:
                client.upload(data, f"loop-{dialect}.bin")
                assert client.get(f"loop-{dialect}.bin").size == len(data)
        wait_for(lambda: log_of(server).count("loop process") >= 2, what="both loops' log lines")
        # auto takes uvloop when it is installed, the standard library's loop otherwise.
        uses_uvloop = loop == "uvloop" or (loop == "auto" and uvloop_available())
        named = "uvloop.Loop" if uses_uvloop else "_UnixSelectorEventLoop"
        assert named in log_of(server), log_of(server)
    finally:
        assert fileproto_servers.stop(server) == 0


def test_a_killed_loop_process_is_replaced_and_its_upload_removed(
    fileproto_servers: ServerPool,
) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start("asyncio", 1)
    assert server.root is not None and server.process is not None
    root: Path = server.root
    try:
        (loop,) = psutil.Process(server.process.pid).children()
        with RawConnection(server) as conn:
            conn.send(b"UPLOAD half.bin QUJD")  # held open: a temporary file exists
            wait_for(lambda: temp_files(root), what="the upload's temporary file")
            os.kill(loop.pid, signal.SIGKILL)
            assert conn.read_until_closed() == b""
        wait_for(lambda: "a loop process died" in log_of(server), what="the supervisor's log")
        no_temp_files(root)  # the dead loop's upload is removed by the supervisor
        with server.client(timeout=IO_TIMEOUT) as client:
            assert client.list() == []
        (replacement,) = psutil.Process(server.process.pid).children()
        assert replacement.pid != loop.pid
    finally:
        assert fileproto_servers.stop(server) == 0


def test_classic_entry_point(tmp_path: Path) -> None:
    """``python -m servers.eventloop N``: the exercise's way to start it (port 45000 by
    default; here 0, so the test never collides with a real one)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "servers.eventloop", "2", "--port", "0", "--root", str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:"), line
        assert len(psutil.Process(proc.pid).children()) == 2
    finally:
        proc.terminate()
        assert proc.wait(30) == 0


def test_a_stop_sent_as_the_server_starts_listening_is_not_lost(tmp_path: Path) -> None:
    """SIGTERM the moment it says it listens (read from its pipe, not polled): its loop
    processes may not have set their own handler yet, and the stop must still reach
    them. With a 60 s grace period a lost stop would hold the server a minute; with
    nothing in flight it exits at once."""
    serve = [sys.executable, "-m", "fileproto", "serve", "--kind", "asyncio", "--workers", "2"]
    for attempt in range(3):
        root = tmp_path / str(attempt)
        proc = subprocess.Popen(
            [*serve, "--port", "0", "--grace", "60", "--root", str(root)],
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("listening on ")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(IO_TIMEOUT) == 0
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)  # the loops too, if it hung
            proc.wait()
