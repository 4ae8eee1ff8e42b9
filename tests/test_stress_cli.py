"""``fileproto stress`` run as a user runs it: a separate process against real servers.

Sizes are small (a few MiB) so the whole module stays within seconds; what is checked is
what a user reads: the exit status, the table's counts, the failure report, the JSON that
``fileproto report`` reads, and that nothing is left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import pty
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fileproto import report
from fileproto.cli import build_parser, main
from fileproto.procinfo import process_tree, wait_gone
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.units import MIB
from tests.helpers import WaitTimeout, wait_for

pytestmark = pytest.mark.smoke


ROW = re.compile(
    r"^\s*(\d+)\s+(UPLOAD|DOWNLOAD)\s+(\S+)\s+(\d+)\s+(\S+)\s+([\d.]+)\s+"
    r"([\d,.]+)\s+([\d,.]+)\s+(\d+)\s+(\d+)(\s+⚠)?\s*$",
    re.MULTILINE,
)


def _stress(*args: str) -> list[str]:
    return [sys.executable, "-m", "fileproto", "stress", *args]


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    """A private TMPDIR, to see that the command leaves no file of its own behind.

    Short on purpose: multiprocessing puts its forkserver's socket there, and a Unix
    socket path may not exceed 107 bytes (pytest's tmp_path under xdist can).
    """
    folder = Path(tempfile.mkdtemp(prefix="fp-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp), "PYTHONIOENCODING": "utf-8"}


def _rows(stdout: str) -> list[dict[str, Any]]:
    return [
        {
            "operation": m[2],
            "size": m[3],
            "clients": int(m[4]),
            "server_workers": m[5],
            "successes": int(m[9]),
            "failures": int(m[10]),
            "marked": bool(m[11]),
        }
        for m in ROW.finditer(stdout)
    ]


def _server_files(server: RunningServer) -> list[str]:
    assert server.root is not None
    return sorted(p.name for p in server.root.iterdir())


def _wait_for(path: Path, text: str, proc: subprocess.Popen[Any], timeout: float) -> None:
    def shown() -> bool:
        if text in path.read_text(errors="replace"):
            return True
        if proc.poll() is not None:
            pytest.fail(f"stress ended before {text!r}:\n{path.read_text(errors='replace')}")
        return False

    try:
        wait_for(shown, timeout=timeout, what=lambda: f"{text!r} in {path.read_text()!r}")
    except WaitTimeout:
        proc.kill()
        raise


@pytest.mark.parametrize(
    ("kind", "operation", "method"),
    [("thread", "download", "thread"), ("process", "Upload", "process")],
)
def test_classic_flags_against_each_server_kind(
    fileproto_servers: ServerPool,
    tmp_path: Path,
    private_tmp: Path,
    kind: str,
    operation: str,
    method: str,
) -> None:
    server = fileproto_servers.start(kind, 2)
    out = tmp_path / "results.json"
    run = subprocess.run(
        _stress(
            "--server",
            server.address,
            "--operation",
            operation,
            "--volume",
            "2",
            "--worker",
            "3",
            "--method",
            method,
            "--server-workers",
            "2",
            "--server-kind",
            kind,
            "--json",
            str(out),
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(private_tmp),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = _rows(run.stdout)
    assert rows == [
        {
            "operation": operation.upper(),
            "size": "2",
            "clients": 3,
            "server_workers": "2",
            "successes": 3,
            "failures": 0,
            "marked": False,
        }
    ]
    assert report.kind_label(kind) in run.stdout
    assert re.search(r"aggregate [\d,.]+ MiB/s", run.stdout)
    assert "━" not in run.stderr and "\x1b[" not in run.stderr  # no progress bar when piped

    cases = report.load_results(out)  # what `fileproto report` reads
    assert len(cases) == 1
    case = cases[0]
    assert (
        case.operation,
        case.size_bytes,
        case.client_workers,
        case.server_workers,
        case.server_kind,
        case.method,
    ) == (operation.upper(), 2 * MIB, 3, 2, kind, method)
    assert (case.successes, case.failures, case.verified) == (3, 0, True)
    assert case.client_peak_rss_bytes and case.client_peak_rss_bytes > 0
    document = json.loads(out.read_text())
    assert document["benchmarks"][0]["stats"]["rounds"] == 1
    assert report.render_text(cases) in run.stdout  # the same table as `fileproto report`

    assert _server_files(server) == []  # uploads and the DOWNLOAD file were deleted
    assert list(private_tmp.iterdir()) == []  # and the local test file


def test_matrix_fills_the_server_workers_column(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    server = fileproto_servers.start("thread", 3)
    run = subprocess.run(
        _stress(
            "--server",
            f"fileproto://{server.address}",
            "--matrix",
            "--volume",
            "0.5,1",
            "--worker",
            "1,2",
            "--server-workers",
            "3",
            "--rounds",
            "2",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(private_tmp),
    )
    assert run.returncode == 0, run.stdout + run.stderr
    rows = _rows(run.stdout)
    assert [(r["operation"], r["size"], r["clients"]) for r in rows] == [
        (op, size, n) for op in ("UPLOAD", "DOWNLOAD") for size in ("0.5", "1") for n in (1, 2)
    ]
    assert {r["server_workers"] for r in rows} == {"3"}
    assert all(r["successes"] == 2 * r["clients"] and r["failures"] == 0 for r in rows)
    assert "external server" in run.stdout  # no --server-kind: that section
    assert "all cases:" in run.stdout
    assert _server_files(server) == []


def test_server_killed_mid_run(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    server = fileproto_servers.start("thread", 2)
    assert server.process is not None
    err = tmp_path / "stderr.txt"
    out_json = tmp_path / "results.json"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(
            _stress(
                "--server",
                server.address,
                "--operation",
                "DOWNLOAD",
                "--volume",
                "4",
                "--worker",
                "4",
                "--rounds",
                "500",
                "--timeout",
                "20",
                "--json",
                str(out_json),
            ),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_env(private_tmp),
        )
    try:
        _wait_for(err, "round 3/500", proc, timeout=30)
        server.process.kill()
        stdout, _ = proc.communicate(timeout=60)  # no hang: refused/reset fail at once
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    out, messages = stdout.decode(), err.read_text()
    assert proc.returncode == 1, out + messages
    rows = _rows(out)
    assert len(rows) == 1 and rows[0]["marked"], out
    assert rows[0]["failures"] > 0 and rows[0]["successes"] >= 8
    info = report.load_document(out_json)["benchmarks"][0]["extra_info"]
    assert info["rounds"] < 500  # it stopped once the server refused every client
    assert rows[0]["successes"] + rows[0]["failures"] == 4 * info["rounds"]
    failed = re.search(r"(\d+) of (\d+) client transfer\(s\) failed", messages)
    assert failed, messages
    assert (int(failed[1]), int(failed[2])) == (rows[0]["failures"], 4 * info["rounds"])
    assert re.search(
        r"^fileproto stress:   (refused|reset|protocol violation) \(x\d+\): ",
        messages,
        re.MULTILINE,
    ), messages
    assert "refused every connection" in messages
    assert list(private_tmp.iterdir()) == []


def test_ctrl_c_stops_client_processes(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    server = fileproto_servers.start("thread", 2)
    err = tmp_path / "stderr.txt"
    with open(err, "wb") as stderr:
        proc = subprocess.Popen(
            _stress(
                "--server",
                server.address,
                "--operation",
                "UPLOAD",
                "--volume",
                "4",
                "--worker",
                "4",
                "--method",
                "process",
                "--rounds",
                "500",
            ),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=_env(private_tmp),
        )
    try:
        _wait_for(err, "round 3/500", proc, timeout=30)
        tree = process_tree(proc.pid)
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    out, messages = stdout.decode(), err.read_text()
    assert proc.returncode == 130, out + messages
    assert "interrupted" in messages and "Traceback" not in messages, messages
    rows = _rows(out)  # what was measured before the interrupt is printed
    assert len(rows) == 1 and rows[0]["successes"] >= 8, out
    assert wait_gone(tree, timeout=10) == [], "client processes outlived the stress command"
    assert list(private_tmp.iterdir()) == []  # no partial file on the client side
    assert [n for n in _server_files(server) if not n.startswith(".")] == []


def test_progress_bar_on_a_terminal(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    server = fileproto_servers.start("thread", 2)
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.Popen(
            _stress(
                "--server",
                server.address,
                "--operation",
                "DOWNLOAD",
                "--volume",
                "2",
                "--worker",
                "2",
                "--rounds",
                "40",
            ),
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=_env(private_tmp),
        )
        os.close(terminal)
        seen = b""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # the terminal's other side is closed: the command ended
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        stdout, _ = proc.communicate(timeout=30)
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0
    shown = seen.decode(errors="replace")
    assert "━" in shown and "MiB" in shown, shown[-2000:]
    assert "━" not in stdout.decode()  # the bar goes to stderr only


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--volume", "1", "--worker", "2"], "--operation is required"),
        (["--operation", "put", "--volume", "1", "--worker", "2"], "unknown operation"),
        (["--operation", "UPLOAD", "--worker", "2"], "--size-mib/--volume is required"),
        (["--operation", "UPLOAD", "--volume", "1,2", "--worker", "2"], "need --matrix"),
        (["--operation", "UPLOAD", "--volume", "0", "--worker", "2"], "more than 0 MiB"),
        (["--operation", "UPLOAD", "--volume", "1", "--worker", "0"], "at least 1"),
        (
            ["--server", "nohost", "--operation", "UPLOAD", "--volume", "1", "--worker", "1"],
            "HOST:PORT",
        ),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stress", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_help_explains_every_flag(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    stress = commands.choices["stress"]
    for action in stress._actions:
        assert action.help and action.help != argparse.SUPPRESS, action.option_strings
    with pytest.raises(SystemExit):
        main(["stress", "--help"])
    text = capsys.readouterr().out
    for flag in (
        "--server",
        "--operation",
        "--size-mib",
        "--volume",
        "--clients",
        "--worker",
        "--method",
        "--dialect",
        "--rounds",
        "--json",
        "--file",
        "--matrix",
        "--server-workers",
        "--server-kind",
        "--remote-name",
        "--no-upload",
        "--keep",
        "--timeout",
        "--no-progress",
        "--quiet",
    ):
        assert re.search(rf"(^|, )\s*{re.escape(flag)}\b", text, re.MULTILINE), flag
