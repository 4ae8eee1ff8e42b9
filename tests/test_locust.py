"""The Locust integration: request events, gevent, and a real distributed run.

The distributed test starts one ``locust --master`` and two ``locust --worker`` processes
(Locust monkey-patches them with gevent) against a real server on loopback, for a few
seconds, and reads what Locust and the server's root folder show afterwards.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from fileproto.pytest.servers import RunningServer, ServerPool

# Importing locust monkey-patches the importing process with gevent, which must not
# happen to the test session (threads would become greenlets for every other test):
# everything that imports fileproto.locust runs in a child process.
if importlib.util.find_spec("locust") is None:
    pytest.skip(
        "locust is not installed (pip install 'fileproto[locust]')", allow_module_level=True
    )

pytestmark = pytest.mark.smoke

REPO = Path(__file__).resolve().parents[1]
LOCUSTFILE = REPO / "examples" / "locustfile.py"
MIB = 1 << 20
COMMANDS = ("LIST", "GET", "UPLOAD", "DELETE")
#: The example's file size (the distributed test checks the files it leaves behind).
EXAMPLE_FILE_SIZE = 1 * MIB
NAME = re.compile(r"^locust-.+-(?P<pid>\d+)-u\d+-\d+\.bin$")

#: Prepended to every child script: a stand-in for Locust's request event.
PRELUDE = textwrap.dedent("""
    import json, sys
    from pathlib import Path

    class Recorder:
        def __init__(self):
            self.events = []

        def fire(self, **kw):
            exc = kw["exception"]
            kw["exception"] = None if exc is None else [type(exc).__name__, str(exc)]
            self.events.append(kw)

    def done(**result):
        print(json.dumps(result))
""")


def _child(script: str, *args: str, cwd: Path, timeout: float = 60) -> dict[str, Any]:
    """Run ``script`` in a fresh interpreter; it reports through ``done(**result)``."""
    run = subprocess.run(
        [sys.executable, "-c", PRELUDE + textwrap.dedent(script), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


@pytest.fixture
def server(fileproto_servers: ServerPool) -> RunningServer:
    return fileproto_servers.start("thread", 4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- the client's events --------------------------------------------------------------------

EVENTS_SCRIPT = """
    from fileproto.locust import FileprotoClient, write_payload

    recorder = Recorder()
    payload = write_payload(Path("payload.bin"), 300_000)
    results = []
    with FileprotoClient(f"fileproto://{sys.argv[1]}", recorder, timeout=30.0,
                         context=lambda: {"user": 7}) as client:
        results.append(client.upload(payload.path, "a.bin", expected=payload) is not None)
        results.append(client.list())
        got = client.get("a.bin", expected=payload, label="the file")
        results.append(got is not None and got.sha256 == payload.sha256)
        results.append(client.delete("a.bin"))
    done(results=results, events=recorder.events)
"""


def test_every_command_fires_one_event(server: RunningServer, tmp_path: Path) -> None:
    result = _child(EVENTS_SCRIPT, server.address, cwd=tmp_path)
    assert result["results"] == [True, ["a.bin"], True, True]
    events = result["events"]
    assert [e["request_type"] for e in events] == ["UPLOAD", "LIST", "GET", "DELETE"]
    assert [e["name"] for e in events] == ["a.bin", "LIST", "the file", "a.bin"]
    assert [e["response_length"] for e in events] == [300_000, 0, 300_000, 0]
    for event in events:
        assert event["exception"] is None
        assert event["response_time"] >= 0
        assert event["context"] == {"user": 7}


FAILURES_SCRIPT = """
    from fileproto.locust import FileprotoClient, write_payload
    from fileproto.load.testfiles import TestFile

    recorder = Recorder()
    payload = write_payload(Path("payload.bin"), 1000)
    other = TestFile(payload.path, payload.size, "0" * 64)
    results = []
    with FileprotoClient(sys.argv[1], recorder, timeout=30.0) as client:
        results.append(client.get("missing.bin"))  # an error answer
        results.append(client.upload(payload.path, "b.bin") is not None)
        results.append(client.get("b.bin", expected=other))  # bytes that do not verify
        results.append(client.delete("missing.bin"))
    with FileprotoClient(sys.argv[2], recorder, timeout=5.0) as client:
        results.append(client.list())  # nothing listens there
    done(results=results, events=recorder.events)
"""


def test_failures_are_reported_not_raised(server: RunningServer, tmp_path: Path) -> None:
    result = _child(FAILURES_SCRIPT, server.address, f"127.0.0.1:{_free_port()}", cwd=tmp_path)
    assert result["results"] == [None, True, None, False, None]
    failures = [(e["request_type"], e["exception"] and e["exception"][0]) for e in result["events"]]
    assert failures == [
        ("GET", "ServerError"),
        ("UPLOAD", None),
        ("GET", "VerificationError"),
        ("DELETE", "ServerError"),
        ("LIST", "ConnectError"),
    ]
    assert "file not found" in result["events"][0]["exception"][1]
    assert all(e["response_length"] == 0 for e in result["events"] if e["exception"])


PAYLOAD_SCRIPT = """
    from fileproto.locust import payload_file, payload_sha256, verify_payload, write_payload

    made = payload_file(70_000)
    done(
        size=made.path.stat().st_size,
        cached=payload_file(70_000) == made,
        again=write_payload(Path("again.bin"), 70_000).sha256 == made.sha256,
        computed=payload_sha256(70_000) == made.sha256,
        verifies=verify_payload(made.path, 70_000),
        wrong_size=verify_payload(made.path, 69_999),
    )
"""


def test_payload_is_the_same_everywhere(tmp_path: Path) -> None:
    result = _child(PAYLOAD_SCRIPT, cwd=tmp_path)
    assert result == {
        "size": 70_000,
        "cached": True,
        "again": True,
        "computed": True,
        "verifies": True,
        "wrong_size": False,
    }


# -- gevent -----------------------------------------------------------------------------------

GEVENT_SCRIPT = """
    from gevent import monkey
    monkey.patch_all()

    import socket
    import gevent, gevent.socket
    from fileproto.locust import MIB, FileprotoClient, payload_file

    recorder = Recorder()
    payload = payload_file(4 * MIB)
    ticks = 0

    def beat():
        global ticks
        while True:
            gevent.sleep(0.005)
            ticks += 1

    def user(i):
        # A socket timeout far beyond the join below: an idle-connection check that
        # waited for it would leave the users unfinished, whatever the machine's speed.
        with FileprotoClient(sys.argv[1], recorder, timeout=600.0) as client:
            client.upload(payload.path, f"g{i}.bin", expected=payload)
            client.list()
            client.list()
            client.get(f"g{i}.bin", expected=payload)
            client.delete(f"g{i}.bin")

    beater = gevent.spawn(beat)
    users = [gevent.spawn(user, i) for i in range(4)]
    gevent.joinall(users, timeout=90)
    beater.kill()
    for event in recorder.events:
        event.pop("context")
    done(patched=socket.socket is gevent.socket.socket,
         finished=all(u.successful() for u in users),
         ticks=ticks, events=recorder.events)
"""


@pytest.mark.timeout(300)
def test_client_under_gevent_monkey_patching(server: RunningServer, tmp_path: Path) -> None:
    result = _child(GEVENT_SCRIPT, server.address, cwd=tmp_path, timeout=300)
    assert result["patched"] and result["finished"], result
    events = result["events"]
    assert [e["exception"] for e in events] == [None] * 20
    counts = {c: sum(e["request_type"] == c for e in events) for c in COMMANDS}
    assert counts == {"LIST": 8, "GET": 4, "UPLOAD": 4, "DELETE": 4}
    assert {e["response_length"] for e in events if e["request_type"] in ("GET", "UPLOAD")} == {
        4 * MIB
    }
    # Reusing a connection did not wait for the socket timeout on the idle check (the
    # users finished, above), and the hub kept running other greenlets meanwhile.
    assert result["ticks"] > 0, result


VERIFY_SCRIPT = """
    from fileproto.locust import verify_payload

    size = int(sys.argv[1])
    done(bad=[p for p in sys.argv[2:] if not verify_payload(p, size)])
"""


# -- a distributed run ------------------------------------------------------------------------


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@pytest.mark.timeout(300)
def test_distributed_headless_run(server: RunningServer, tmp_path: Path) -> None:
    assert server.root is not None
    port = _free_port()
    prefix = tmp_path / "run"
    common = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    master_log = tmp_path / "master.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    try:
        with open(master_log, "wb") as log:
            procs.append(
                subprocess.Popen(
                    [
                        *common,
                        "--headless",
                        "--master",
                        "--expect-workers",
                        "2",
                        "--expect-workers-max-wait",
                        "30",
                        "--master-bind-host",
                        "127.0.0.1",
                        "--master-bind-port",
                        str(port),
                        "--host",
                        f"fileproto://{server.address}",
                        "-u",
                        "4",
                        "-r",
                        "4",
                        "-t",
                        "2s",
                        "--csv",
                        str(prefix),
                        "--loglevel",
                        "INFO",
                    ],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                    env=env,
                )
            )
        workers = []
        for index in range(2):
            with open(tmp_path / f"worker{index}.log", "wb") as log:
                worker = subprocess.Popen(
                    [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                    env=env,
                )
            procs.append(worker)
            workers.append(worker)
        master = procs[0]
        try:
            code = master.wait(120)
        except subprocess.TimeoutExpired:
            pytest.fail(
                "the Locust master did not finish within 120 s:\n"
                + master_log.read_text(errors="replace")[-3000:]
            )
        for worker in workers:  # they quit when the master tells them to
            try:
                worker.wait(60)
            except subprocess.TimeoutExpired:
                pytest.fail(f"Locust worker {worker.pid} did not quit after the master")
    finally:
        _stop(procs)

    output = master_log.read_text(errors="replace")
    assert code == 0, output[-3000:]
    ready = set(re.findall(r"(\S+) \(index \d+\) reported as ready", output))
    assert len(ready) == 2, output[-3000:]

    with open(f"{prefix}_stats.csv", newline="") as f:
        rows = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    aggregated = rows.pop(("", "Aggregated"))
    assert int(aggregated["Failure Count"]) == 0
    by_type = {
        t: sum(int(r["Request Count"]) for (rt, _), r in rows.items() if rt == t) for t in COMMANDS
    }
    assert all(by_type[c] > 0 for c in COMMANDS), by_type
    assert all(int(r["Failure Count"]) == 0 for r in rows.values())
    with open(f"{prefix}_failures.csv", newline="") as f:
        assert list(csv.DictReader(f)) == []

    stored = [p for p in server.root.iterdir() if NAME.match(p.name)]
    pids = {int(NAME.match(p.name)["pid"]) for p in stored}  # type: ignore[index]
    assert pids == {w.pid for w in workers}, sorted(p.name for p in stored)
    checked = _child(VERIFY_SCRIPT, str(EXAMPLE_FILE_SIZE), *map(str, stored), cwd=tmp_path)
    assert checked["bad"] == []
