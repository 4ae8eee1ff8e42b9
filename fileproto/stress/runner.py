"""``fileproto stress``: run the planned loads against one server, round by round."""

from __future__ import annotations

import contextlib
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

from fileproto.client import Client
from fileproto.errors import FileprotoError, ServerError
from fileproto.load.testfiles import TestFile, make_test_file, sha256_of
from fileproto.results import LoadResult
from fileproto.stress.display import Display
from fileproto.stress.interrupts import Interrupts
from fileproto.stress.load import PreparedLoad, Surroundings, verify
from fileproto.stress.outcome import RoundOutcome, merge_rounds
from fileproto.stress.plan import PlannedLoad, StressOptions
from fileproto.stress.processes import start_forkserver_ignoring_sigint
from fileproto.stress.spec import LoadSpec, Method
from fileproto.units import MIB

#: Seconds for the clean-up requests (DELETE of our uploads) at the end.
CLEANUP_TIMEOUT = 10.0


class ServerUnreachable(FileprotoError):
    """Every client of a round was refused: running more rounds or cases is pointless."""


@dataclass
class LoadRounds:
    """The rounds run of one planned load (fewer than asked if the run stopped)."""

    load: PlannedLoad
    rounds: list[RoundOutcome] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.rounds)

    @property
    def transfers(self) -> int:
        return sum(r.spec.clients for r in self.rounds)

    def result(
        self,
        kind: str,
        workers: int | str,
        *,
        dispatch: str | None = None,
        scenario: str | None = None,
    ) -> LoadResult:
        return merge_rounds(self.rounds, kind, workers, dispatch=dispatch, scenario=scenario)


class Runner:
    def __init__(
        self,
        options: StressOptions,
        method: Method,
        display: Display,
        interrupts: Interrupts,
        workdir: Path,
    ) -> None:
        self.options = options
        self.method = method
        self.host, self.port = options.host, options.port
        self.display = display
        self.interrupts = interrupts
        self.workdir = workdir
        self.token = secrets.token_hex(4)
        self.results: list[LoadRounds] = []
        self._sources: dict[int, TestFile] = {}
        self._stored: dict[int, str] = {}  # size -> name of the DOWNLOAD file on the server
        self._to_delete: list[str] = []  # what we stored on the server
        self._stalled_name: str | None = None
        self._forkserver_started = False

    # the test files ------------------------------------------------------------------

    def source(self, size: int) -> TestFile:
        if size not in self._sources:
            if self.options.file is not None:
                path = self.options.file
                self._sources[size] = TestFile(path, path.stat().st_size, sha256_of(path))
            else:
                self.display.status(f"making a {size / MIB:g} MiB random test file")
                self._sources[size] = make_test_file(self.workdir / f"random-{size}.bin", size)
        return self._sources[size]

    def _client(self, timeout: float) -> Client:
        return Client(self.host, self.port, dialect=self.options.dialect, timeout=timeout)

    def _store(self, source: TestFile, name: str, what: str) -> None:
        self.display.status(f"uploading {what} as {name}")
        with self.display.bytes_bar(f"storing {name}", source.size) as show:
            moved = 0

            def advance(count: int) -> None:
                nonlocal moved
                moved += count
                show(moved)

            with self._client(self.options.timeout) as client:
                client.upload(source.path, name, progress=advance)
        self._to_delete.append(name)

    def download_name(self, source: TestFile) -> str:
        """The DOWNLOAD test file on the server, uploaded there once per size."""
        if source.size in self._stored:
            return self._stored[source.size]
        if self.options.no_upload:
            name = str(self.options.remote_name)
        else:
            name = self.options.remote_name or (
                f"fileproto-stress-{self.token}-{source.size / MIB:g}MiB.bin"
            )
            self._store(source, name, "the test file")
        self._stored[source.size] = name
        return name

    def upload_stem(self, size: int) -> str:
        stem = f"fileproto-stress-{self.token}-up-{size / MIB:g}MiB.bin"
        return self.options.remote_name or stem

    def stalled_name(self) -> str | None:
        """The file stalled readers GET: a random one, uploaded once per run (deleted
        with the run's other files); None without stalled readers."""
        size = self.options.stalled_size
        if not self.options.waiting.stalled or self._stalled_name is not None:
            return self._stalled_name
        self.display.status(f"making a {size / MIB:g} MiB random file for the stalled readers")
        source = make_test_file(self.workdir / f"stalled-{size}.bin", size)
        name = f"fileproto-stress-{self.token}-stalled-{size / MIB:g}MiB.bin"
        self._store(source, name, "the stalled readers' file")
        self._stalled_name = name
        return name

    # one load ------------------------------------------------------------------------

    def run_load(self, load: PlannedLoad) -> LoadRounds:
        options = self.options
        source = self.source(load.size)
        if load.operation == "DOWNLOAD":
            remote = self.download_name(source)
        else:
            remote = self.upload_stem(load.size)
        spec = LoadSpec(
            self.host,
            self.port,
            load.operation,
            load.clients,
            source,
            method=self.method,
            dialect=options.dialect,
            timeout=options.timeout,
            remote_name=remote,
            rate=options.rate,
            deadline=options.deadline,
        )
        surroundings = options.surroundings(self.stalled_name())
        if self.method == "process" and not self._forkserver_started:
            start_forkserver_ignoring_sigint()
            self._forkserver_started = True
        result = LoadRounds(load)
        self.results.append(result)
        for number in range(1, options.rounds + 1):
            rounds = f", round {number}/{options.rounds}" if options.rounds > 1 else ""
            self.display.status(f"running {load.describe()}{rounds} ({self.method} workers)")
            outcome = self._run_round(spec, load, rounds, surroundings)
            if outcome is None:
                break
            result.rounds.append(outcome)
            self._note_stored(outcome)
            if outcome.interrupted:
                break
            self._verify(outcome)
            if outcome.successes == 0 and all(o.error_kind == "refused" for o in outcome.clients):
                raise ServerUnreachable(
                    f"the server at {self.host}:{self.port} refused every connection; "
                    "stopping (the table shows the cases run so far)"
                )
        return result

    def _run_round(
        self, spec: LoadSpec, load: PlannedLoad, label: str, surroundings: Surroundings
    ) -> RoundOutcome | None:
        with (
            self.interrupts.case() as cancel,
            self.display.bytes_bar(f"{load.describe()}{label}", load.size * load.clients) as show,
        ):
            if cancel.is_set():
                return None
            try:
                prepared = PreparedLoad(spec, show, cancel, surroundings)
            except RuntimeError:
                if cancel.is_set():  # Ctrl-C while the client processes were starting
                    return None
                raise
            if cancel.is_set():
                prepared.abandon()
                return None
            return prepared.run()

    def _verify(self, outcome: RoundOutcome) -> None:
        if outcome.spec.operation == "UPLOAD" and outcome.successes:
            self.display.status(f"verifying {outcome.successes} uploaded file(s)")
        try:
            verify(outcome)
        except (OSError, FileprotoError) as exc:
            # The stored files could not be read back (the server is gone?): a transfer
            # that cannot be verified does not count as a success.
            message = f"could not read the stored file back: {type(exc).__name__}: {exc}"
            for client in outcome.clients:
                if client.ok:
                    client.ok = False
                    client.error_kind = "not verified"
                    client.error = message
            outcome.verified = False

    # clean-up ------------------------------------------------------------------------

    def _note_stored(self, outcome: RoundOutcome) -> None:
        """Remember the uploads the server may have completed (it discards unfinished
        ones itself; a client stopped by Ctrl-C may have finished just before)."""
        if outcome.spec.operation != "UPLOAD":
            return
        for client in outcome.clients:
            if client.error_kind != "refused" and client.name not in self._to_delete:
                self._to_delete.append(client.name)

    def cleanup(self) -> None:
        """Delete what this run stored on the server (unless --keep); bounded in time."""
        if self.options.keep or not self._to_delete:
            return
        try:
            with Client(
                self.host,
                self.port,
                dialect=self.options.dialect,
                timeout=CLEANUP_TIMEOUT,
                connect_timeout=CLEANUP_TIMEOUT,
            ) as client:
                for name in self._to_delete:
                    with contextlib.suppress(ServerError):  # never stored: nothing to do
                        client.delete(name)
        except (OSError, FileprotoError) as exc:
            print(
                "fileproto stress: could not delete the files this run may have left on "
                f"the server ({exc}): {', '.join(self._to_delete)}",
                file=sys.stderr,
            )
        self._to_delete.clear()
