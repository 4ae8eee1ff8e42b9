"""A fileproto server in its own OS process: start on port 0, wait until it listens,
stop with SIGTERM and then SIGKILL. Used by the pytest plugin, by tests and by the
benchmarks.

The server runs in a process group of its own so the whole tree (the process pool's
workers and forkserver too) can be ended together, and on Linux it is told to die with
the process that started it, so a crashed test session leaves no server behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from fileproto.procinfo import process_tree
from fileproto.server.config import LISTENING_PREFIX

__all__ = ["ServerProcess", "ServerStartError"]


class ServerStartError(RuntimeError):
    """The server did not report that it listens; the message includes its output."""


def _die_with_parent() -> None:
    # PR_SET_PDEATHSIG: the kernel sends SIGTERM when the starting *thread* exits, so
    # start servers from a thread that lives as long as they should (pytest's main one).
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)
    except OSError:
        pass


class ServerProcess:
    def __init__(
        self,
        kind: str,
        workers: int,
        root: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        extra_args: Sequence[str] = (),
        startup_timeout: float = 60.0,
        grace: float = 5.0,
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.kind = kind
        self.workers = workers
        self.root = Path(root)
        self.host = host
        self.extra_args = list(extra_args)
        self.startup_timeout = startup_timeout
        self.grace = grace
        self.log_path = (
            Path(log_path)
            if log_path
            else Path(tempfile.mkstemp(prefix=f"fileproto-{kind}-", suffix=".log")[1])
        )
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "fileproto",
            "serve",
            "--kind",
            self.kind,
            "--workers",
            str(self.workers),
            "--host",
            self.host,
            "--port",
            "0",
            "--root",
            str(self.root),
            *self.extra_args,
        ]

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> ServerProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            for line in self.output().splitlines():
                if line.startswith(LISTENING_PREFIX):
                    self.port = int(line.rsplit(":", 1)[1])
                    return self
            if self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.kind} server exited with {self.proc.returncode} before listening:\n"
                    f"$ {' '.join(self.command)}\n{self.output()}"
                )
            time.sleep(0.02)
        self.kill()
        raise ServerStartError(
            f"{self.kind} server did not print {LISTENING_PREFIX!r} within "
            f"{self.startup_timeout}s:\n"
            f"$ {' '.join(self.command)}\n{self.output()}"
        )

    def pids(self) -> list[int]:
        """The server's process and all its descendants (pool workers, forkserver)."""
        return process_tree(self.pid) if self.running else []

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        """SIGTERM, wait up to ``grace``, then SIGKILL the whole group. Returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(self.grace)
        self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is None:
            return
        # The group holds the pool workers and the forkserver; none may outlive us.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
