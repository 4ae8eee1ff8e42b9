"""The matrix under --fileproto-allow-failures: a case in which every client failed
measured nothing, and must not read as a pass.

Apart from tests/test_matrix.py, which other tests run in sessions of their own and
whose test counts they check.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

REPO = Path(__file__).resolve().parent.parent

#: A server that reads each request to its terminator and answers it with an error:
#: every client of a case against it fails, and the server keeps answering.
REFUSING_SERVER = r"""
import socket, threading
TERMINATOR = b"\r\n\r\n"
ANSWER = b'{"status": "ERROR", "data": "refused on purpose"}' + TERMINATOR

def serve(conn):
    with conn:
        conn.settimeout(60)
        tail = b""
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            window = tail + data
            for _ in range(window.count(TERMINATOR)):
                conn.sendall(ANSWER)
            end = window.rfind(TERMINATOR)
            # Only the last 3 bytes can begin a terminator: memory stays bounded.
            tail = (window[end + len(TERMINATOR):] if end >= 0 else window)[-3:]

listener = socket.create_server(("127.0.0.1", 0))
print(f"listening on 127.0.0.1:{listener.getsockname()[1]}", flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
"""


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """HOST:PORT of a REFUSING_SERVER in its own process."""
    proc = subprocess.Popen(
        [sys.executable, "-c", REFUSING_SERVER],
        stdout=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints it at once, or exits (EOF)
        assert line.startswith("listening on "), line
        yield line.removeprefix("listening on ").strip()
    finally:
        proc.kill()
        proc.wait(10)


def test_a_case_in_which_every_client_failed_does_not_read_as_a_pass(
    refusing_server: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under --fileproto-allow-failures such a case is an xfail that says why, and the
    summary under the table names it."""
    pytester.makepyfile(test_inner="from tests.test_matrix import test_matrix\n")
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    monkeypatch.setenv("PYTHONPATH", path)
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)
    result = pytester.runpytest_subprocess(
        "-p", "no:xdist", "-o", "addopts=", "-rx", "-m", "smoke", "-k", "UPLOAD and c1",
        "--fileproto-target", refusing_server, "--fileproto-allow-failures",
        "--fileproto-no-probe", "test_inner.py",
        timeout=300,
    )  # fmt: skip
    inner = subprocess.CompletedProcess(
        ["pytest"], int(result.ret), result.stdout.str(), result.stderr.str()
    )
    output = inner.stdout + inner.stderr
    assert inner.returncode == 0, output  # allowed failures do not fail the run
    assert re.search(r"\b1 xfailed\b", output), output
    assert " passed" not in output, output
    assert "every client failed (1 of 1" in output, output
    assert "refused on purpose" in output, output
    # The summary under the table names the case in which no client succeeded.
    assert re.search(r"no client succeeded in .*external-UPLOAD-10MiB-c1", output), output
