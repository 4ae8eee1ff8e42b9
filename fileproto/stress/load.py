"""One round of a load: prepare the workers, release them together, verify what moved."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fileproto.client import Client
from fileproto.errors import ServerError
from fileproto.load.background import BackgroundClients
from fileproto.load.latency import ListProbe
from fileproto.load.testfiles import Comparator
from fileproto.results.felt import Background, Waiting
from fileproto.stress.outcome import RoundOutcome
from fileproto.stress.processes import ProcessWorkers
from fileproto.stress.spec import LoadSpec
from fileproto.stress.threads import ThreadWorkers

#: Checks the file a worker uploaded: returns None if the server holds exactly the
#: source's bytes under that name, else a description of what is wrong.
UploadCheck = Callable[[str], str | None]


@dataclass(frozen=True)
class Surroundings:
    """What runs beside the measured clients during a round: the LIST probe, and
    connections that wait (:mod:`fileproto.load.background`); stalled readers GET
    ``stalled_name``, a file the caller has stored on the server."""

    probe: bool = True
    waiting: Waiting = field(default_factory=Waiting)
    stalled_name: str | None = None


class PreparedLoad:
    """Workers started and prepared, background connections open, waiting for the go;
    ``run`` is the timed part.

    Splitting the two keeps process start-up out of the measurement.
    """

    def __init__(
        self,
        spec: LoadSpec,
        on_progress: Callable[[int], None] | None = None,
        cancel: threading.Event | None = None,
        surroundings: Surroundings | None = None,
    ) -> None:
        if spec.clients < 1:
            raise ValueError("clients must be at least 1")
        self.spec = spec
        self.on_progress = on_progress
        self.cancel = cancel or threading.Event()
        self.surroundings = surroundings or Surroundings(probe=False)
        self._workers: ThreadWorkers | ProcessWorkers = (
            ProcessWorkers(spec, self.cancel)
            if spec.method == "process"
            else ThreadWorkers(spec, self.cancel)
        )
        self._background: BackgroundClients | None = None
        around = self.surroundings
        if around.waiting.opened:
            # Opened before the go, so the clients meet a server already holding them.
            self._background = BackgroundClients(
                spec.host, spec.port, around.waiting, stalled_name=around.stalled_name
            )
            try:
                self._background.start()
            except BaseException:
                self._background.stop()
                self._workers.abandon()
                raise

    def _tick(self) -> None:
        if self.on_progress is not None:
            self.on_progress(self._workers.progress.total)

    def run(self) -> RoundOutcome:
        """Release all workers at once and wait for the last; no verification here. The
        probe runs from the go until the last worker is done; then the background
        connections are closed."""
        started = time.monotonic()  # the case's start: timelines and due times count from it
        probe = (
            ListProbe(self.spec.host, self.spec.port, start=started)
            if self.surroundings.probe
            else None
        )
        try:
            with probe if probe is not None else contextlib.nullcontext():
                clients, wall, peak = self._workers.run(self._tick)
        finally:
            background = self._stop_background()
        self._tick()
        return RoundOutcome(
            self.spec,
            clients,
            wall,
            verified=False,
            client_peak_rss=peak,
            interrupted=self.cancel.is_set(),
            probe_latencies=None if probe is None else list(probe.latencies),
            probe_failures=0 if probe is None else probe.failures,
            background=background,
            started=started,
            probe_sent_latencies=None if probe is None else list(probe.sent_latencies),
            probe_late=0 if probe is None else probe.late,
            probe_in_flight=None if probe is None else probe.in_flight,
            probe_spans=[] if probe is None else probe.spans(started),
            probe_due=0 if probe is None else probe.due_count,
            probe_answered=0 if probe is None else probe.answered,
            probe_cut_off=0 if probe is None else probe.cut_off,
        )

    def _stop_background(self) -> Background | None:
        held, self._background = self._background, None
        return None if held is None else held.stop()

    def abandon(self) -> None:
        """Stop workers that were prepared but will not run (e.g. after Ctrl-C)."""
        self._stop_background()
        self._workers.abandon()


def verify(outcome: RoundOutcome, check_upload: UploadCheck | None = None) -> None:
    """Check what uploads stored, then set ``outcome.verified``. By default each uploaded
    file is downloaded back and compared; a caller with access to the server's folder
    can pass a cheaper ``check_upload``."""
    if outcome.spec.operation == "UPLOAD":
        _verify_uploads(outcome, check_upload or download_check(outcome.spec))
    outcome.verified = outcome.failures == 0 and not outcome.interrupted


def run_load(
    spec: LoadSpec,
    *,
    check_upload: UploadCheck | None = None,
    on_progress: Callable[[int], None] | None = None,
    cancel: threading.Event | None = None,
    surroundings: Surroundings | None = None,
) -> RoundOutcome:
    """Prepare, run and verify one round."""
    outcome = PreparedLoad(spec, on_progress, cancel, surroundings).run()
    verify(outcome, check_upload)
    return outcome


def download_check(spec: LoadSpec) -> UploadCheck:
    """Check an uploaded file by downloading it and comparing with the source."""

    def check(name: str) -> str | None:
        with (
            Client(spec.host, spec.port, dialect=spec.dialect, timeout=spec.timeout) as client,
            Comparator(spec.source.path) as compare,
        ):
            try:
                client.get(name, compare, checksum=False)
            except ServerError as exc:
                return f"cannot read back {name}: {exc.message}"
            return compare.problem(spec.source.size)

    return check


def _verify_uploads(outcome: RoundOutcome, check: UploadCheck) -> None:
    done = [o for o in outcome.clients if o.ok]
    with ThreadPoolExecutor(max_workers=min(4, max(1, len(done)))) as pool:
        problems = list(pool.map(lambda o: check(o.name), done))
    for client, problem in zip(done, problems, strict=True):
        if problem is not None:
            client.ok = False
            client.error_kind = "wrong bytes"
            client.error = f"stored file {client.name}: {problem}"
