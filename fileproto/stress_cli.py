"""``fileproto stress``: the load generator against a running server, from the shell.

One case (or, with ``--matrix``, the sizes x clients grid of both operations) runs
through :mod:`fileproto.stress`, the code the pytest plugin uses: every client worker
starts together, every transfer is streamed and verified byte for byte. The results are
the classic table (:func:`fileproto.report.render_text`), the aggregate throughput and,
with ``--json``, a pytest-benchmark-shaped file that ``fileproto report`` reads.

Ctrl-C (or SIGTERM) during a case cancels it: client threads abort at their next chunk,
client processes are terminated, what was measured so far is printed, and files this
command created (the local test file, uploads on the server) are removed.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import multiprocessing
import multiprocessing.forkserver
import os
import platform
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from fileproto import __version__, report
from fileproto.client import Client, parse_address
from fileproto.errors import FileprotoError, ServerError
from fileproto.matrix import CLIENT_WORKERS, SIZES_MIB
from fileproto.stress import (
    METHODS,
    OPERATIONS,
    CaseOutcome,
    LoadSpec,
    Operation,
    PreparedCase,
    merge_rounds,
    verify,
)
from fileproto.testfiles import MIB, TestFile, make_test_file, sha256_of

EXTERNAL = "external"
DEFAULT_SERVER = "127.0.0.1:45000"
#: Seconds for the clean-up requests (DELETE of our uploads) at the end.
CLEANUP_TIMEOUT = 10.0


# -- argument types -----------------------------------------------------------------------


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _positive_mib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size in MiB: {text!r}") from None
    if not value > 0 or value * MIB < 1:
        raise argparse.ArgumentTypeError(f"a size must be more than 0 MiB, got {text}")
    return value


def _list_of(convert: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    """A comma-separated list (one value is a list of one)."""

    def parse(text: str) -> list[Any]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError("expected one value or a comma-separated list")
        return [convert(item) for item in items]

    parse.__name__ = getattr(convert, "__name__", "list")
    return parse


def _operation(text: str) -> Operation:
    upper = text.strip().upper()
    for operation in OPERATIONS:
        if upper == operation:
            return operation
    raise argparse.ArgumentTypeError(
        f"unknown operation {text!r}; choose from {', '.join(OPERATIONS)} (any case)"
    )


def _address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _server_workers(text: str) -> int | str:
    return EXTERNAL if text == EXTERNAL else _positive_int(text)


# -- the command line ---------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``stress`` subcommand to the main CLI's subparsers."""
    parser = subparsers.add_parser(
        "stress",
        help="run the load generator against a running server",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Run N client workers against a running server: all start together, each\n"
            "moves the test file once (UPLOAD or DOWNLOAD), streamed and verified byte for\n"
            "byte. Prints the classic results table and the aggregate throughput. The exit\n"
            "status is 0 only if every client succeeded.\n\n"
            "A progress bar of the bytes moved by all clients is shown on stderr when\n"
            "stderr is a terminal. Ctrl-C stops the run: what was measured so far is\n"
            "printed, client processes are stopped, files this command made are removed."
        ),
        epilog=(
            "examples:\n"
            "  fileproto stress --server 127.0.0.1:45000 --operation DOWNLOAD "
            "--size-mib 100 --clients 50\n"
            "  fileproto stress --operation upload --volume 10 --worker 5 --method process\n"
            "  fileproto stress --matrix --server-workers 5 --json results.json\n"
            "  fileproto report results.json --md results.md"
        ),
    )
    target = parser.add_argument_group("server")
    target.add_argument(
        "--server",
        "-s",
        type=_address,
        default=DEFAULT_SERVER,
        metavar="HOST:PORT",
        help="the server to load: HOST:PORT or fileproto://HOST:PORT (default: %(default)s)",
    )
    target.add_argument(
        "--server-workers",
        type=_server_workers,
        default=EXTERNAL,
        metavar="N",
        help="the server's worker count, for the table's Server Workers column; we cannot "
        "see it from here (default: %(default)s)",
    )
    target.add_argument(
        "--server-kind",
        default=EXTERNAL,
        metavar="KIND",
        help="a label for the server in the table, e.g. thread or process: the table has "
        "one section per kind (default: %(default)s)",
    )

    load = parser.add_argument_group("load")
    load.add_argument(
        "--operation",
        "-o",
        type=_operation,
        metavar="{UPLOAD,DOWNLOAD}",
        help="what every client does, in any case: UPLOAD sends the test file (client i "
        "stores it as NAME-c<i>), DOWNLOAD fetches it; required unless --matrix "
        "(with --matrix: only this operation instead of both)",
    )
    load.add_argument(
        "--size-mib",
        "--volume",
        dest="size_mib",
        type=_list_of(_positive_mib),
        metavar="MIB",
        help="size of the test file in MiB (fractions allowed, e.g. 0.5); required unless "
        "--file or --matrix. With --matrix a comma-separated list "
        f"(default there: {','.join(map(str, SIZES_MIB))})",
    )
    load.add_argument(
        "--clients",
        "--worker",
        dest="clients",
        type=_list_of(_positive_int),
        metavar="N",
        help="number of client workers, all started together; required unless --matrix. "
        "With --matrix a comma-separated list "
        f"(default there: {','.join(map(str, CLIENT_WORKERS))})",
    )
    load.add_argument(
        "--method",
        choices=METHODS,
        default="thread",
        help="run the client workers as threads or as processes (default: %(default)s)",
    )
    load.add_argument(
        "--dialect",
        choices=("json", "text"),
        default="json",
        help="request dialect the clients speak (default: %(default)s)",
    )
    load.add_argument(
        "--rounds",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run each case N times; the table shows times and rates averaged over the "
        "rounds and client counts summed (default: %(default)s)",
    )
    load.add_argument(
        "--matrix",
        action="store_true",
        help="run the whole grid: both operations x every size x every client count, "
        "against this one server",
    )
    load.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="longest wait on the network at once, per client (default: %(default)s)",
    )

    files = parser.add_argument_group("files")
    files.add_argument(
        "--file",
        type=Path,
        metavar="PATH",
        help="use this local file as the test file instead of a random one (its size is "
        "the size); DOWNLOAD uploads it to the server first unless --no-upload",
    )
    files.add_argument(
        "--remote-name",
        metavar="NAME",
        help="name of the test file on the server (DOWNLOAD) or the stem of the uploads "
        "(UPLOAD) (default: a fresh fileproto-stress-<random>.bin)",
    )
    files.add_argument(
        "--no-upload",
        action="store_true",
        help="DOWNLOAD: the server already holds --file under --remote-name; do not "
        "upload it first (it is still verified against the local file)",
    )
    files.add_argument(
        "--keep",
        action="store_true",
        help="leave the files this run stored on the server (by default they are deleted "
        "once verified)",
    )

    output = parser.add_argument_group("output")
    output.add_argument(
        "--json",
        type=Path,
        metavar="FILE",
        help="also write the figures as pytest-benchmark JSON, which 'fileproto report' "
        "and 'pytest-benchmark compare' read",
    )
    output.add_argument(
        "--no-progress", action="store_true", help="no progress bar even when stderr is a terminal"
    )
    output.add_argument(
        "--quiet",
        "-q",
        action="store_true",
        help="no status lines on stderr (failures are still reported)",
    )
    parser.set_defaults(func=run, _stress_parser=parser)


# -- the plan -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    operation: Operation
    size: int  # bytes
    clients: int

    @property
    def size_mib_text(self) -> str:
        return f"{self.size / MIB:g}"

    def describe(self) -> str:
        return f"{self.operation} {self.size_mib_text} MiB x {self.clients} client(s)"


def _plan(
    args: argparse.Namespace, parser: argparse.ArgumentParser, file_size: int | None
) -> list[Case]:
    """The cases to run, in the matrix's order (operation, size, clients)."""
    if args.matrix:
        if args.file is not None:
            parser.error("--matrix makes its own test files; it cannot use --file")
        operations = [args.operation] if args.operation else list(OPERATIONS)
        sizes = args.size_mib or list(SIZES_MIB)
        clients = args.clients or list(CLIENT_WORKERS)
    else:
        if args.operation is None:
            parser.error("--operation is required (or --matrix)")
        if args.clients is None:
            parser.error("--clients/--worker is required (or --matrix)")
        if len(args.clients) > 1 or (args.size_mib and len(args.size_mib) > 1):
            parser.error("lists of sizes or client counts need --matrix")
        if args.size_mib is None and file_size is None:
            parser.error("--size-mib/--volume is required (or --file)")
        operations, clients = [args.operation], args.clients
        sizes = args.size_mib or [(file_size or 0) / MIB]
    if file_size is not None and args.size_mib and round(args.size_mib[0] * MIB) != file_size:
        parser.error(
            f"--size-mib {args.size_mib[0]:g} does not match --file "
            f"({file_size} bytes = {file_size / MIB:g} MiB); give one of them"
        )
    if args.no_upload and (args.file is None or args.remote_name is None):
        parser.error("--no-upload needs --file (to verify against) and --remote-name")
    return [Case(op, round(size * MIB), n) for op in operations for size in sizes for n in clients]


# -- progress and status --------------------------------------------------------------------


class _Display:
    """Status lines and, when stderr is a terminal and rich is installed, a progress bar of
    the bytes moved by all clients together."""

    def __init__(self, stream: TextIO, bar: bool, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self._progress: Any = None
        self._console: Any = None
        if bar:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )
            except ImportError:  # the 'progress' extra is not installed
                return
            self._console = Console(file=stream)
            self._progress = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TextColumn("{task.fields[rate]}", style="progress.data.speed"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )

    def __enter__(self) -> _Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def status(self, text: str) -> None:
        if self.quiet:
            return
        if self._console is not None:
            self._console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    @contextlib.contextmanager
    def bytes_bar(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """Yields ``set(bytes_so_far)``; the bar disappears when the block ends."""
        if self._progress is None:
            yield lambda _done: None
            return
        progress = self._progress
        task = progress.add_task(description, total=total, rate="")

        def show(done: int) -> None:
            progress.update(task, completed=done)
            speed = next((t.speed for t in progress.tasks if t.id == task), None)
            if speed:
                progress.update(task, rate=_rate(speed))

        try:
            yield show
        finally:
            self._progress.remove_task(task)


# -- Ctrl-C ---------------------------------------------------------------------------------


class ServerUnreachable(FileprotoError):
    """Every client of a round was refused: running more rounds or cases is pointless."""


class _Interrupts:
    """SIGINT/SIGTERM while a case runs cancels the case instead of unwinding through the
    measurement: the workers are stopped and the case ends with what it has. A second
    signal, or one outside a case, raises KeyboardInterrupt; a third exits at once."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.in_case = False
        self.signals = 0
        self.signum = int(signal.SIGINT)
        #: Removed before a forced exit (the third signal).
        self.workdir: Path | None = None
        self._saved: dict[int, Any] = {}

    @property
    def exit_status(self) -> int:
        """As a shell reports a death by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    @property
    def interrupted(self) -> bool:
        return self.signals > 0

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.signum = signum
        self.cancel.set()
        _terminate_client_processes()
        if self.signals > 2:
            # The last resort, e.g. client threads stuck on a server that stopped
            # answering: remove our files and leave without waiting for anything.
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
            os.write(2, b"fileproto stress: interrupted three times; quitting at once\n")
            os._exit(128 + signum)
        if not self.in_case or self.signals > 1:
            raise KeyboardInterrupt
        os.write(
            2, b"\nfileproto stress: stopping the clients (interrupt twice more to quit at once)\n"
        )

    @contextlib.contextmanager
    def case(self) -> Iterator[threading.Event]:
        self.in_case = True
        try:
            yield self.cancel
        finally:
            self.in_case = False


def _client_process_ids() -> list[int]:
    """The client processes of this command: the children of its multiprocessing
    forkserver (read from /proc: safe inside a signal handler, unlike polling Process
    objects; empty where there is no /proc)."""
    me = str(os.getpid())
    parent_of: dict[int, str] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parent_of[int(entry)] = f.read().rsplit(")", 1)[1].split()[1]
        except (OSError, IndexError):
            continue
    forkservers = set()
    for pid, parent in parent_of.items():
        if parent != me:
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"multiprocessing.forkserver" in f.read():
                    forkservers.add(str(pid))
        except OSError:
            continue
    return [pid for pid, parent in parent_of.items() if parent in forkservers]


def _terminate_client_processes() -> None:
    for pid in _client_process_ids():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)


def _start_forkserver_ignoring_sigint() -> None:
    """Start the forkserver with SIGINT ignored, so the client processes it forks inherit
    that: a terminal's Ctrl-C then reaches only this process, which stops them itself
    (no traceback from every worker)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["fileproto.stress"])
    if threading.current_thread() is not threading.main_thread():
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)


# -- running --------------------------------------------------------------------------------


@dataclass
class CaseResult:
    case: Case
    rounds: list[CaseOutcome] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return sum(r.failures for r in self.rounds)

    @property
    def transfers(self) -> int:
        return sum(r.spec.clients for r in self.rounds)


class Runner:
    def __init__(
        self, args: argparse.Namespace, display: _Display, interrupts: _Interrupts, workdir: Path
    ) -> None:
        self.args = args
        self.host, self.port = args.server
        self.display = display
        self.interrupts = interrupts
        self.workdir = workdir
        self.token = secrets.token_hex(4)
        self.results: list[CaseResult] = []
        self._sources: dict[int, TestFile] = {}
        self._stored: dict[int, str] = {}  # size -> name of the DOWNLOAD file on the server
        self._to_delete: list[str] = []  # what we stored on the server
        self._forkserver_ready = False

    # the test files ------------------------------------------------------------------

    def source(self, size: int) -> TestFile:
        if size not in self._sources:
            if self.args.file is not None:
                path = self.args.file
                self._sources[size] = TestFile(path, path.stat().st_size, sha256_of(path))
            else:
                self.display.status(f"making a {size / MIB:g} MiB random test file")
                self._sources[size] = make_test_file(self.workdir / f"random-{size}.bin", size)
        return self._sources[size]

    def _client(self, timeout: float) -> Client:
        return Client(self.host, self.port, dialect=self.args.dialect, timeout=timeout)

    def download_name(self, source: TestFile) -> str:
        """The DOWNLOAD test file on the server, uploaded there once per size."""
        if source.size in self._stored:
            return self._stored[source.size]
        if self.args.no_upload:
            name = str(self.args.remote_name)
        else:
            name = self.args.remote_name or (
                f"fileproto-stress-{self.token}-{source.size / MIB:g}MiB.bin"
            )
            self.display.status(f"uploading the test file as {name}")
            with self.display.bytes_bar(f"storing {name}", source.size) as show:
                moved = 0

                def advance(count: int) -> None:
                    nonlocal moved
                    moved += count
                    show(moved)

                with self._client(self.args.timeout) as client:
                    client.upload(source.path, name, progress=advance)
            self._to_delete.append(name)
        self._stored[source.size] = name
        return name

    def upload_stem(self, size: int) -> str:
        return self.args.remote_name or f"fileproto-stress-{self.token}-up-{size / MIB:g}MiB.bin"

    # one case ------------------------------------------------------------------------

    def run_case(self, case: Case) -> CaseResult:
        args = self.args
        source = self.source(case.size)
        if case.operation == "DOWNLOAD":
            remote = self.download_name(source)
        else:
            remote = self.upload_stem(case.size)
        spec = LoadSpec(
            self.host,
            self.port,
            case.operation,
            case.clients,
            source,
            method=args.method,
            dialect=args.dialect,
            timeout=args.timeout,
            remote_name=remote,
        )
        if args.method == "process" and not self._forkserver_ready:
            _start_forkserver_ignoring_sigint()
            self._forkserver_ready = True
        result = CaseResult(case)
        self.results.append(result)
        for number in range(1, args.rounds + 1):
            rounds = f", round {number}/{args.rounds}" if args.rounds > 1 else ""
            self.display.status(f"running {case.describe()}{rounds} ({args.method} workers)")
            outcome = self._run_round(spec, case, rounds)
            if outcome is None:
                break
            result.rounds.append(outcome)
            self._note_stored(outcome)
            if outcome.interrupted:
                break
            self._verify(outcome)
            if outcome.successes == 0 and all(o.error_kind == "refused" for o in outcome.outcomes):
                raise ServerUnreachable(
                    f"the server at {self.host}:{self.port} refused every connection; "
                    "stopping (the table shows the cases run so far)"
                )
        return result

    def _run_round(self, spec: LoadSpec, case: Case, label: str) -> CaseOutcome | None:
        interrupts = self.interrupts
        with (
            interrupts.case() as cancel,
            self.display.bytes_bar(f"{case.describe()}{label}", case.size * case.clients) as show,
        ):

            def on_progress(done: int) -> None:
                show(done)

            if cancel.is_set():
                return None
            try:
                prepared = PreparedCase(spec, on_progress, cancel)
            except RuntimeError:
                if cancel.is_set():  # Ctrl-C while the client processes were starting
                    return None
                raise
            if cancel.is_set():
                prepared.abandon()
                return None
            outcome = prepared.run()
        return outcome

    def _verify(self, outcome: CaseOutcome) -> None:
        if outcome.spec.operation == "UPLOAD" and outcome.successes:
            self.display.status(f"verifying {outcome.successes} uploaded file(s)")
        try:
            verify(outcome)
        except (OSError, FileprotoError) as exc:
            # The stored files could not be read back (the server is gone?): a transfer
            # that cannot be verified does not count as a success.
            message = f"could not read the stored file back: {type(exc).__name__}: {exc}"
            for client in outcome.outcomes:
                if client.ok:
                    client.ok = False
                    client.error_kind = "not verified"
                    client.error = message
            outcome.verified = False

    # clean-up ------------------------------------------------------------------------

    def _note_stored(self, outcome: CaseOutcome) -> None:
        """Remember the uploads the server may have completed (it discards unfinished
        ones itself; a client stopped by Ctrl-C may have finished just before)."""
        if outcome.spec.operation != "UPLOAD":
            return
        for client in outcome.outcomes:
            if client.error_kind != "refused" and client.name not in self._to_delete:
                self._to_delete.append(client.name)

    def cleanup(self) -> None:
        """Delete what this run stored on the server (unless --keep); bounded in time."""
        if self.args.keep or not self._to_delete:
            return
        try:
            with Client(
                self.host,
                self.port,
                dialect=self.args.dialect,
                timeout=CLEANUP_TIMEOUT,
                connect_timeout=CLEANUP_TIMEOUT,
            ) as client:
                for name in self._to_delete:
                    with contextlib.suppress(ServerError):  # never stored: nothing to do
                        client.delete(name)
        except (OSError, FileprotoError) as exc:
            print(
                f"fileproto stress: could not delete the files this run may have left on "
                f"the server ({exc}): {', '.join(self._to_delete)}",
                file=sys.stderr,
            )
        self._to_delete.clear()


# -- figures --------------------------------------------------------------------------------


def _stats(times: Sequence[float]) -> dict[str, Any]:
    """pytest-benchmark's ``stats`` of the case's wall times, one per round (computed by
    pytest-benchmark itself when it is installed, so ``compare`` reads them alike)."""
    data = list(times) or [0.0]
    try:
        bench_stats: Any = importlib.import_module("pytest_benchmark.stats")
    except ImportError:
        mean, total = statistics.mean(data), sum(data)
        q1, _, q3 = statistics.quantiles(data, n=4) if len(data) > 1 else (data[0],) * 3
        stats: dict[str, Any] = {
            "min": min(data),
            "max": max(data),
            "mean": mean,
            "stddev": statistics.stdev(data) if len(data) > 1 else 0,
            "rounds": len(data),
            "median": statistics.median(data),
            "iqr": q3 - q1,
            "q1": q1,
            "q3": q3,
            "total": total,
            "ops": len(data) / total if total else 0,
        }
    else:
        collected = bench_stats.Stats()
        for value in data:
            collected.update(value)
        stats = dict(collected.as_dict())
    stats["iterations"] = 1
    stats["data"] = data
    return stats


def merged_info(result: CaseResult, kind: str, workers: int | str) -> dict[str, Any]:
    """One case's extra_info over its rounds, as the pytest plugin records it."""
    return merge_rounds(result.rounds, kind, workers)


def case_id(info: dict[str, Any]) -> str:
    return (
        f"{info['server_kind']}-{info['operation']}-{info['size_mib']}MiB-"
        f"c{info['client_workers']}-w{info['server_workers']}"
    )


def benchmark_document(
    results: Sequence[CaseResult], kind: str, workers: int | str, args: argparse.Namespace
) -> dict[str, Any]:
    """The run as pytest-benchmark JSON: one benchmark per case, figures in extra_info."""
    benchmarks = []
    for result in results:
        if not result.rounds:
            continue
        info = merged_info(result, kind, workers)
        name = f"stress[{case_id(info)}]"
        benchmarks.append(
            {
                "group": f"{kind} {info['operation']}",
                "name": name,
                "fullname": f"fileproto stress::{name}",
                "params": None,
                "param": case_id(info),
                "extra_info": info,
                "options": {
                    "rounds": args.rounds,
                    "iterations": 1,
                    "timer": "perf_counter",
                    "method": args.method,
                    "dialect": args.dialect,
                },
                "stats": _stats([o.wall_time for o in result.rounds]),
            }
        )
    uname = platform.uname()
    return {
        "machine_info": {
            "node": uname.node,
            "processor": uname.processor,
            "machine": uname.machine,
            "python_compiler": platform.python_compiler(),
            "python_implementation": platform.python_implementation(),
            "python_version": platform.python_version(),
            "release": uname.release,
            "system": uname.system,
            "cpu": {"count": os.cpu_count()},
        },
        "commit_info": {},
        "benchmarks": benchmarks,
        "datetime": datetime.datetime.now(datetime.UTC).isoformat(),
        "version": f"fileproto {__version__}",
        "fileproto": {"command": "stress", "server": _address_text(args)},
    }


def _rate(value: float) -> str:
    return f"{value / MIB:,.1f} MiB/s"


def summary_lines(results: Sequence[CaseResult]) -> list[str]:
    """Per case (over its rounds): counts, average time, aggregate throughput and the
    clients' peak memory; then the whole run."""
    lines = []
    moved = 0
    wall = 0.0
    for result in results:
        if not result.rounds:
            continue
        info = merged_info(result, EXTERNAL, EXTERNAL)
        ok_bytes = sum(o.size for r in result.rounds for o in r.outcomes if o.ok)
        case_wall = sum(r.wall_time for r in result.rounds)
        moved += ok_bytes
        wall += case_wall
        count = len(result.rounds)
        over = f" over {count} rounds" if count > 1 else ""
        note = " [interrupted]" if info["interrupted"] else ""
        lines.append(
            f"{result.case.describe()}{over}: {info['successes']} ok, {info['failures']} "
            f"failed; avg {info['avg_time_s']:.3f} s per client; aggregate "
            f"{_rate(info['aggregate_Bps'])} ({ok_bytes / MIB:,.1f} MiB in {case_wall:.3f} s); "
            f"client peak RSS {info['client_peak_rss_bytes'] / MIB:,.1f} MiB{note}"
        )
    if len(lines) > 1 and wall > 0:
        lines.append(
            f"all cases: {moved / MIB:,.1f} MiB in {wall:.3f} s of case time, "
            f"aggregate {_rate(moved / wall)}"
        )
    return lines


def failure_lines(results: Sequence[CaseResult]) -> list[str]:
    """The failure count and the first error of each kind."""
    failed = sum(r.failures for r in results)
    if not failed:
        return []
    total = sum(r.transfers for r in results)
    counts: dict[str, int] = {}
    first: dict[str, str] = {}
    for result in results:
        for outcome in result.rounds:
            for client in sorted(outcome.outcomes, key=lambda c: c.index):
                if client.ok:
                    continue
                kind = client.error_kind or "unknown"
                counts[kind] = counts.get(kind, 0) + 1
                first.setdefault(
                    kind,
                    f"{result.case.describe()}, client {client.index}: "
                    f"{' '.join((client.error or '').split())}",
                )
    lines = [f"{failed} of {total} client transfer(s) failed; first error of each kind:"]
    lines += [f"  {kind} (x{counts[kind]}): {first[kind]}" for kind in counts]
    return lines


# -- the command ----------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args._stress_parser
    file_size: int | None = None
    if args.file is not None:
        if not args.file.is_file():
            parser.error(f"--file {args.file}: no such file")
        file_size = args.file.stat().st_size
        if file_size == 0:
            parser.error(f"--file {args.file} is empty")
    cases = _plan(args, parser, file_size)
    kind = str(args.server_kind)
    workers: int | str = args.server_workers
    interrupts = _Interrupts()
    bar = sys.stderr.isatty() and not args.no_progress
    interrupted = False
    error: BaseException | None = None
    results: list[CaseResult] = []
    interrupts.install()
    try:
        with (
            tempfile.TemporaryDirectory(prefix="fileproto-stress-") as workdir,
            _Display(sys.stderr, bar, args.quiet) as display,
        ):
            interrupts.workdir = Path(workdir)
            runner = Runner(args, display, interrupts, Path(workdir))
            results = runner.results
            try:
                for case in cases:
                    runner.run_case(case)
                    if interrupts.interrupted:
                        break
            except KeyboardInterrupt:
                interrupted = True
            except (OSError, FileprotoError, RuntimeError) as exc:
                error = exc  # print what was measured, then say why it stopped
            finally:
                interrupted = interrupted or interrupts.interrupted
                try:
                    runner.cleanup()
                except KeyboardInterrupt:
                    interrupted = True
    except KeyboardInterrupt:  # in the clean-up of the temporary folder
        interrupted = True
    finally:
        interrupts.restore()
    status = interrupts.exit_status if interrupted else None
    return _finish(results, kind, workers, args, status, error)


def _address_text(args: argparse.Namespace) -> str:
    host, port = args.server
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _finish(
    results: list[CaseResult],
    kind: str,
    workers: int | str,
    args: argparse.Namespace,
    interrupted: int | None,
    error: BaseException | None,
) -> int:
    """Print the table, the summary and the failures; write the JSON. ``interrupted`` is
    the exit status after a signal, None if the run was not interrupted."""
    document = benchmark_document(results, kind, workers, args)
    if document["benchmarks"]:
        cases = report.load_cases(document)
        _print(report.render_text(cases))
        print()
        for line in summary_lines(results):
            _print(line)
        sys.stdout.flush()
    if args.json is not None:
        args.json.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {len(document['benchmarks'])} case(s) to {args.json}", file=sys.stderr)
    for line in failure_lines(results):
        print(f"fileproto stress: {line}", file=sys.stderr)
    if error is not None:
        print(
            f"fileproto stress: stopped (server {_address_text(args)}): "
            f"{type(error).__name__}: {error}",
            file=sys.stderr,
        )
    if interrupted is not None:
        print(
            "fileproto stress: interrupted; the figures above are what was measured before that",
            file=sys.stderr,
        )
        return interrupted
    if error is not None:
        return 1
    return 1 if any(r.failures for r in results) else 0


def _print(text: str) -> None:
    # The table's failure marker is not ASCII; a terminal that cannot show it gets "?".
    text = text if text.endswith("\n") else text + "\n"
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "ascii"
        sys.stdout.write(text.encode(encoding, "replace").decode(encoding))
