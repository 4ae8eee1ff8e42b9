"""The pytest plugin as a user meets it: servers as fixtures in real processes, reuse,
clear start-up failures, no server outliving its session, --fileproto-target."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fileproto.procinfo import wait_gone
from fileproto.pytest.process import ServerProcess, ServerStartError
from fileproto.pytest.servers import RunningServer, ServerPool, name_prefix
from fileproto.server.registry import CLASSIC_KINDS, KINDS
from tests.helpers import skip_if_external, skip_if_target, wait_for

RunPytest = Callable[..., subprocess.CompletedProcess[str]]

ROOT = Path(__file__).resolve().parent.parent

# An inner test session: it starts a server of each kind through the plugin's fixtures,
# writes the pids of their whole process trees, then (if asked) waits to be killed. The
# pids file appears complete or not at all (written aside, then renamed), so its
# existence is the event the outer test waits for.
INNER_TEST = """
import json, os, time
from fileproto.server.registry import KINDS

def test_start_servers(fileproto_servers):
    pids = []
    for kind in KINDS:
        server = fileproto_servers.get(kind, 2)
        with server.client(timeout=10) as client:
            assert client.list() == []
        pids += server.pids()
    path = os.environ["PIDS_FILE"]
    with open(path + ".part", "w") as f:
        json.dump(pids, f)
    os.replace(path + ".part", path)
    if os.environ.get("WAIT_TO_BE_KILLED"):
        time.sleep(600)
"""


def _inner_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, **env: str
) -> tuple[subprocess.Popen[bytes], Path]:
    """INNER_TEST in a session of its own, started through pytester and not waited for."""
    pytester.makepyfile(test_inner=INNER_TEST)
    pids_file = pytester.path / "pids.json"
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)
    for name, value in {"PIDS_FILE": str(pids_file), **env}.items():
        monkeypatch.setenv(name, value)
    process = pytester.popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
         "-o", "addopts=", "test_inner.py"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return process, pids_file


@pytest.mark.smoke
def test_no_server_outlives_the_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    process, pids_file = _inner_session(pytester, monkeypatch)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output.decode(errors="replace")
    pids = json.loads(pids_file.read_text())
    assert len(pids) >= 4  # a thread server, and a process server with its pool
    assert wait_gone(pids, timeout=30) == []


@pytest.mark.smoke
def test_no_server_outlives_a_killed_session(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a session killed with SIGKILL (no teardown at all) leaves no server behind."""
    process, pids_file = _inner_session(pytester, monkeypatch, WAIT_TO_BE_KILLED="1")
    try:

        def started() -> bool:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            return pids_file.exists()

        wait_for(started, timeout=120, what="the inner session to start its servers")
        pids = json.loads(pids_file.read_text())
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        assert wait_gone(pids, timeout=30) == []
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


@pytest.mark.smoke
def test_servers_are_reused_per_kind_and_workers(fileproto_servers: ServerPool) -> None:
    skip_if_target(fileproto_servers, "starts its own servers")
    first = fileproto_servers.get("thread", 3)
    again = fileproto_servers.get("thread", 3)
    other = fileproto_servers.get("thread", 4)
    assert again is first and again.port == first.port
    assert other.port != first.port
    assert first.process is not None and first.process.running


@pytest.mark.smoke
def test_server_that_cannot_start_fails_clearly(tmp_path: Path) -> None:
    server = ServerProcess(
        "thread", 1, tmp_path / "root", extra_args=["--max-file-size", "lots"], startup_timeout=30
    )
    with pytest.raises(ServerStartError) as failure:
        server.start()
    message = str(failure.value)
    assert "exited with 2 before listening" in message
    assert "not a size: 'lots'" in message  # the server's own output is shown
    assert "fileproto serve" in message  # and the command that was run


@pytest.mark.smoke
def test_server_stops_on_sigterm_with_exit_status_0(fileproto_servers: ServerPool) -> None:
    skip_if_target(fileproto_servers, "starts its own servers")
    for kind in KINDS:
        server = fileproto_servers.start(kind, 2)
        pids = server.pids()
        assert fileproto_servers.stop(server) == 0
        assert wait_gone(pids, timeout=30) == []


@pytest.mark.parametrize(
    "rules",
    [
        # The default run: the plugin's path to a target, on a few rules (every rule
        # runs on our servers in tests/test_conformance.py).
        pytest.param(("-k", "list or get"), id="some-rules", marks=pytest.mark.smoke),
        pytest.param((), id="every-rule", marks=pytest.mark.exhaustive),
    ],
)
def test_target_option_runs_suites_against_a_running_server(
    tmp_path: Path, run_pytest: RunPytest, rules: tuple[str, ...]
) -> None:
    """--fileproto-target: the matrix collapses to 'external' server workers, and the
    conformance tests pass against a server the session did not start."""
    with ServerProcess("thread", 2, tmp_path / "root") as server:
        target = f"--fileproto-target={server.address}"
        collected = run_pytest(target, "-m", "full", "--collect-only", "-q", "tests/test_matrix.py")
        ids = [line for line in collected.stdout.splitlines() if "::" in line]
        # Kind and server workers collapse: 2 operations x 3 sizes x 3 client counts.
        assert len(ids) == 18, collected.stdout
        assert all("test_matrix[external-" in line for line in ids), ids
        run = run_pytest(target, "-m", "conformance", "-q", *rules, "tests/test_peers.py")
        assert run.returncode == 0, run.stdout + run.stderr
        assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.smoke
def test_running_server_reports_its_memory(fileproto_server: RunningServer) -> None:
    skip_if_external(fileproto_server, "needs our own server's processes")
    assert fileproto_server.peak_rss() > 1 << 20


FAKE_KIND_PLUGIN = """
from fileproto.server.registry import KINDS, ServerKind

# A later kind, as the registry will list it: the plugin must need no change for it.
KINDS["later"] = ServerKind(
    name="later",
    target="fileproto.server.threadpool:ThreadPoolServer",
    label="later kind",
    description="a stand-in for a later kind",
    default_method="thread",
)
"""


def _collect_matrix(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """The full matrix's ids, collected by an inner session with the later kind's plugin."""
    return pytester.runpytest_subprocess(
        "-p", "no:xdist", "-p", "later_kind", "-m", "full", "--collect-only", "-q",
        str(ROOT / "tests" / "test_matrix.py"), *args,
    )  # fmt: skip


@pytest.mark.smoke
def test_matrix_kinds_come_from_the_registry(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(later_kind=FAKE_KIND_PLUGIN)
    path = os.pathsep.join(filter(None, [str(pytester.path), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)

    def ids(run: pytest.RunResult) -> list[str]:
        assert run.ret == 0, run.stdout.str() + run.stderr.str()
        return [line for line in run.outlines if "::" in line]

    assert len(ids(_collect_matrix(pytester))) == 108  # the classic kinds by default
    # Every kind the registry has beyond the classic ones, and one registered by a
    # plugin, at once; a kind that no --workers sizes (thread per connection) runs
    # once per load.
    thirds = [*(k for k in KINDS if k not in CLASSIC_KINDS), "later"]
    cases = ids(_collect_matrix(pytester, "--fileproto-kinds", ",".join(["process", *thirds])))
    own = {k: 54 if k == "later" or KINDS[k].sized else 18 for k in thirds}
    assert len(cases) == 54 + sum(own.values())
    assert sum("test_matrix[process-" in line for line in cases) == 54
    for third, count in own.items():
        assert sum(f"test_matrix[{third}-" in line for line in cases) == count, third
    wrong = _collect_matrix(pytester, "--fileproto-kinds", "thread,nope")
    assert wrong.ret == 4
    assert "unknown server kind 'nope'; choose from thread, process" in wrong.stderr.str()
    assert ", later" in wrong.stderr.str()


@pytest.mark.smoke
def test_xdist_workers_sharing_a_target_keep_apart(tmp_path: Path, run_pytest: RunPytest) -> None:
    """--fileproto-target under pytest-xdist: each worker's files have a name of their
    own (no worker deletes another's uploads), and nothing is left on the server."""
    pytest.importorskip("xdist")
    root = tmp_path / "root"
    with ServerProcess("thread", 4, root) as server:
        run = run_pytest(
            "-n", "2",
            "-p", "no:fileproto-conformance",  # the matrix alone, not the rule catalogue
            f"--fileproto-target={server.address}", "-m", "smoke", "tests/test_matrix.py",
            "--fileproto-rounds", "2", "-q", xdist=True,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout + run.stderr
        assert re.search(r"(?<!\d)4 passed", run.stdout), run.stdout
        assert [p.name for p in root.iterdir()] == []


@pytest.mark.smoke
def test_file_names_are_per_run_and_per_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_TESTRUNUID", "0123456789abcdef")
    prefixes = set()
    for worker in ("gw0", "gw1"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        prefixes.add(name_prefix())
    assert prefixes == {"fileproto-01234567-gw0-", "fileproto-01234567-gw1-"}
    monkeypatch.delenv("PYTEST_XDIST_WORKER")
    monkeypatch.delenv("PYTEST_XDIST_TESTRUNUID")
    assert name_prefix() != name_prefix()  # a fresh token per run (session)
