"""Servers under test: ones the session starts (each in its own OS process, reused
until the session ends) or the user's, already running (``--fileproto-target``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fileproto.client import Client, parse_address
from fileproto.errors import FileprotoError, ServerError
from fileproto.load.testfiles import TestFile, same_content
from fileproto.procinfo import peak_rss, reset_peak_rss
from fileproto.pytest.process import ServerProcess
from fileproto.pytest.settings import Options
from fileproto.results import EXTERNAL
from fileproto.results.timeline import TraceReader
from fileproto.stress import LoadSpec, RoundOutcome, download_check
from fileproto.wire.events import Dialect

#: Seconds for deleting this session's files from an external server at the end.
CLEANUP_TIMEOUT = 30.0


def name_prefix() -> str:
    """The start of every file name the plugin stores: per run and per pytest-xdist
    worker, so that workers (and runs) sharing one external server never touch each
    other's files. xdist gives its workers one id for the whole run."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID") if worker else None
    token = (run or secrets.token_hex(4))[:8]
    return f"fileproto-{token}-{worker}-" if worker else f"fileproto-{token}-"


@dataclass
class RunningServer:
    """A server under test: one we started, or the user's (``external``)."""

    kind: str
    workers: int | str
    host: str
    port: int
    dialect: Dialect = "json"
    root: Path | None = None
    process: ServerProcess | None = None
    #: Names the plugin stored there and has not removed yet.
    stored: set[str] = field(default_factory=set)
    #: Its trace file, when the session traces our servers (--fileproto-trace).
    trace: TraceReader | None = None

    @property
    def external(self) -> bool:
        return self.process is None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def client(self, **kwargs: Any) -> Client:
        kwargs.setdefault("dialect", self.dialect)
        return Client(self.host, self.port, **kwargs)

    def pids(self) -> list[int]:
        return self.process.pids() if self.process is not None else []

    def peak_rss(self) -> int:
        """Peak resident memory summed over the server's processes."""
        return sum(peak_rss(pid) for pid in self.pids())

    def reset_peak_rss(self) -> None:
        """Restart the peak count, so a reused server reports each case's own peak."""
        for pid in self.pids():
            reset_peak_rss(pid)

    def upload_check(self, source: TestFile) -> Callable[[str], str | None]:
        """How to check a stored upload: compare the file in the root when we know the
        root, else download it back (see ``fileproto.stress.download_check``)."""
        root = self.root
        if root is None:
            return download_check(
                LoadSpec(self.host, self.port, "UPLOAD", 1, source, dialect=self.dialect)
            )
        return lambda name: same_content(root / name, source.path)

    def store(self, source: TestFile, name: str) -> None:
        """Upload ``source`` as ``name`` unless the server already holds those bytes."""
        self.stored.add(name)
        if self.upload_check(source)(name) is None:
            return
        with self.client(timeout=300.0) as client:
            client.upload(source.path, name)

    def mark_trace(self) -> None:
        """Where the next round's server events begin in the trace file."""
        if self.trace is not None:
            self.trace.mark()

    def attach_trace(self, outcome: RoundOutcome) -> None:
        """The server's events since the mark into the round, ``at`` from its start."""
        if self.trace is not None and outcome.started is not None:
            outcome.server_events, outcome.server_events_dropped = self.trace.since_mark(
                outcome.started
            )

    def remove(self, names: Iterable[str]) -> None:
        names = list(names)
        self.stored.difference_update(names)
        if self.root is not None:
            for name in names:
                (self.root / name).unlink(missing_ok=True)
            return
        with self.client(timeout=CLEANUP_TIMEOUT) as client:
            for name in names:
                with contextlib.suppress(ServerError):
                    client.delete(name)


class ServerPool:
    """Starts servers on demand and keeps them for reuse until the session ends."""

    def __init__(self, base: Path, options: Options) -> None:
        self.base = base
        self.options = options
        #: Every name the plugin's fixtures and the matrix store starts with this.
        self.prefix = name_prefix()
        self._servers: dict[tuple[str, int, tuple[str, ...]], RunningServer] = {}
        self._started: list[ServerProcess] = []
        self._external: RunningServer | None = None

    def name(self, stem: str) -> str:
        """A file name of this run and worker: ``<prefix><stem>``."""
        return f"{self.prefix}{stem}"

    def external(self) -> RunningServer:
        assert self.options.target is not None
        if self._external is None:
            host, port = parse_address(self.options.target)
            self._external = RunningServer(EXTERNAL, EXTERNAL, host, port, self.options.dialect)
        return self._external

    def get(self, kind: str, workers: int, *extra_args: str) -> RunningServer:
        """A shared server of this kind and size (the external one with --fileproto-target)."""
        if self.options.target:
            return self.external()
        key = (kind, workers, extra_args)
        server = self._servers.get(key)
        if server is None or server.process is None or not server.process.running:
            server = self.start(kind, workers, *extra_args)
            self._servers[key] = server
        return server

    def start(self, kind: str, workers: int, *extra_args: str) -> RunningServer:
        """A fresh server with its own empty root, stopped at the end of the session
        (or earlier by ``stop``)."""
        root = Path(tempfile.mkdtemp(prefix=f"{kind}-w{workers}-", dir=self.base))
        trace = None
        if self.options.trace:
            trace = TraceReader(root.with_suffix(".trace.jsonl"))
            extra_args = (*extra_args, "--trace", str(trace.path))
        process = ServerProcess(
            kind, workers, root, extra_args=extra_args, log_path=root.with_suffix(".log")
        )
        process.start()
        self._started.append(process)
        return RunningServer(
            kind, workers, process.host, process.port, self.options.dialect, root, process,
            trace=trace,
        )  # fmt: skip

    def stop(self, server: RunningServer) -> int | None:
        if server.process is None:
            return None
        return server.process.stop()

    def close(self) -> None:
        """Stop our servers; delete what this session left on an external one."""
        for process in self._started:
            process.stop()
        self._started.clear()
        self._servers.clear()
        external, self._external = self._external, None
        if external is not None and external.stored:
            with contextlib.suppress(OSError, FileprotoError):
                external.remove(sorted(external.stored))
