"""The fileproto pytest plugin (registered through the ``pytest11`` entry point).

Fixtures start real servers in their own OS processes (port 0, readiness line,
SIGTERM then SIGKILL), give clients and session-cached test files, and run matrix
cases as pytest-benchmark benchmarks. Options point the whole suite at a server that
is already running elsewhere (``--fileproto-target``).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fileproto.client import Client, parse_address
from fileproto.errors import ServerError
from fileproto.limit import LimitResult, measure_limit
from fileproto.matrix import MatrixCase, matrix_cases
from fileproto.server_process import ServerProcess, peak_rss
from fileproto.stress import (
    LoadSpec,
    Method,
    PreparedCase,
    download_check,
    merge_rounds,
    verify,
)
from fileproto.testfiles import MIB, TestFile, make_test_file, same_content
from fileproto.wire.events import Dialect

EXTERNAL = "external"
MATRIX_TIMEOUT = 900  # seconds; generous for 50 x 100 MiB, still stops a hung server
_PROPERTY = "fileproto_case"
_LIMIT_PROPERTY = "fileproto_limit"
_LIMIT_KEY = pytest.StashKey["LimitBook"]()


# -- options and markers ------------------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fileproto", "fileproto servers and stress matrix")
    group.addoption(
        "--fileproto-target",
        metavar="HOST:PORT",
        default=None,
        help="run the matrix and protocol tests against this running server "
        "instead of starting servers (server workers are then 'external')",
    )
    group.addoption(
        "--fileproto-dialect",
        choices=("json", "text"),
        default="json",
        help="request dialect clients use (default: json)",
    )
    group.addoption(
        "--fileproto-rounds",
        type=int,
        default=1,
        metavar="N",
        help="benchmark rounds per matrix case (default: 1)",
    )
    group.addoption(
        "--fileproto-method",
        choices=("thread", "process"),
        default=None,
        help="client workers as threads or processes (default: match the server kind)",
    )
    group.addoption(
        "--fileproto-report",
        metavar="DIR",
        default=None,
        help="write the results table (Markdown, CSV) and plot (PNG) into DIR",
    )
    group.addoption(
        "--fileproto-allow-failures",
        action="store_true",
        help="record failed clients without failing the case (for other servers)",
    )


def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "smoke: fast tests and the small part of the matrix; the default run",
        "full: the 108-case stress matrix",
        "limit: the machine's ceiling, the simplest pipeline that moves the same bytes",
        "conformance: protocol rules any server must keep (use with --fileproto-target)",
    ):
        config.addinivalue_line("markers", line)
    config.pluginmanager.register(_Recorder(config), "fileproto-recorder")
    rounds = config.getoption("--fileproto-rounds")
    if rounds is not None and rounds < 1:
        raise pytest.UsageError("--fileproto-rounds must be at least 1")
    target = config.getoption("--fileproto-target")
    if target:
        try:
            parse_address(target)
        except ValueError as exc:
            raise pytest.UsageError(f"--fileproto-target: {exc}") from None


@dataclass(frozen=True)
class Options:
    target: str | None
    dialect: Dialect
    rounds: int
    method: Method | None
    report_dir: Path | None
    allow_failures: bool

    @classmethod
    def from_config(cls, config: pytest.Config) -> Options:
        report = config.getoption("--fileproto-report")
        return cls(
            target=config.getoption("--fileproto-target"),
            dialect=config.getoption("--fileproto-dialect"),
            rounds=config.getoption("--fileproto-rounds"),
            method=config.getoption("--fileproto-method"),
            report_dir=Path(report) if report else None,
            allow_failures=config.getoption("--fileproto-allow-failures"),
        )


# -- servers ------------------------------------------------------------------------------


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
        """Peak resident memory summed over the server's processes (VmHWM)."""
        return sum(peak_rss(pid) for pid in self.pids())

    def reset_peak_rss(self) -> None:
        """Restart the VmHWM count, so a reused server reports each case's own peak."""
        for pid in self.pids():
            with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as f:
                f.write("5")

    def upload_check(self, source: TestFile) -> Callable[[str], str | None]:
        """How to check a stored upload: compare the file in the root when we know the
        root, else download it back (see ``fileproto.stress.download_check``)."""
        root = self.root
        if root is None:
            return download_check(
                LoadSpec(self.host, self.port, "UPLOAD", 1, source, dialect=self.dialect)
            )
        return lambda name: same_content(root / name, source.path)

    def remove(self, names: list[str]) -> None:
        if self.root is not None:
            for name in names:
                (self.root / name).unlink(missing_ok=True)
            return
        with self.client() as client:
            for name in names:
                with contextlib.suppress(ServerError):
                    client.delete(name)


class ServerPool:
    """Starts servers on demand and keeps them for reuse until the session ends."""

    def __init__(self, base: Path, options: Options) -> None:
        self.base = base
        self.options = options
        self._servers: dict[tuple[str, int, tuple[str, ...]], RunningServer] = {}
        self._started: list[ServerProcess] = []

    def external(self) -> RunningServer:
        assert self.options.target is not None
        host, port = parse_address(self.options.target)
        return RunningServer(EXTERNAL, EXTERNAL, host, port, self.options.dialect)

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
        process = ServerProcess(
            kind, workers, root, extra_args=extra_args, log_path=root.with_suffix(".log")
        )
        process.start()
        self._started.append(process)
        return RunningServer(
            kind, workers, process.host, process.port, self.options.dialect, root, process
        )

    def stop(self, server: RunningServer) -> int | None:
        if server.process is None:
            return None
        return server.process.stop()

    def close(self) -> None:
        for process in self._started:
            process.stop()
        self._started.clear()
        self._servers.clear()


@pytest.fixture(scope="session")
def fileproto_options(pytestconfig: pytest.Config) -> Options:
    return Options.from_config(pytestconfig)


@pytest.fixture(scope="session")
def fileproto_servers(
    fileproto_options: Options, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerPool]:
    """Factory of servers: ``.get(kind, workers)`` shares, ``.start(...)`` makes a fresh one."""
    pool = ServerPool(tmp_path_factory.mktemp("servers"), fileproto_options)
    yield pool
    pool.close()


def _server_param(request: pytest.FixtureRequest) -> tuple[str, int]:
    param = getattr(request, "param", "thread")
    if isinstance(param, tuple):
        return str(param[0]), int(param[1])
    kind, _, workers = str(param).partition(":")
    return kind, int(workers or 2)


@pytest.fixture
def fileproto_server(
    request: pytest.FixtureRequest, fileproto_servers: ServerPool
) -> RunningServer:
    """A running server. Parametrize indirectly with "thread", "process" or "kind:N".

    Shared between tests of the same kind and size; tests that need an empty root or
    kill the server should use ``fileproto_servers.start`` instead.
    """
    kind, workers = _server_param(request)
    return fileproto_servers.get(kind, workers)


@pytest.fixture
def fileproto_client(fileproto_server: RunningServer) -> Iterator[Client]:
    with fileproto_server.client(timeout=30.0) as client:
        yield client


@pytest.fixture(scope="session")
def fileproto_testfile(tmp_path_factory: pytest.TempPathFactory) -> Callable[[int], TestFile]:
    """``make(size_bytes)``: a random file of that size, made once per session."""
    folder = tmp_path_factory.mktemp("testfiles")
    made: dict[int, TestFile] = {}

    def make(size: int) -> TestFile:
        if size not in made:
            made[size] = make_test_file(folder / f"random-{size}.bin", size)
        return made[size]

    return make


class LimitBook:
    """The machine's ceiling per file size, measured once per session when first asked.

    The ceiling is what the machine can do, and noise only ever makes a run slower, so
    dirty pages are flushed first (writeback competes with the pipeline's file writes)
    and the fastest of several runs is kept: runs here fall into two modes, ~0.10 s and
    ~0.135 s per 100 MiB.
    """

    RUNS = 7

    def __init__(self, make_file: Callable[[int], TestFile], folder: Path) -> None:
        self._make_file = make_file
        self._folder = folder
        self.results: dict[int, LimitResult] = {}

    def get(self, size: int) -> LimitResult:
        if size not in self.results:
            source = self._make_file(size)
            os.sync()
            runs = [measure_limit(source.path, self._folder) for _ in range(self.RUNS)]
            self.results[size] = min(runs, key=lambda r: r.seconds)
        return self.results[size]


@pytest.fixture(scope="session")
def fileproto_limit(
    pytestconfig: pytest.Config,
    fileproto_testfile: Callable[[int], TestFile],
    tmp_path_factory: pytest.TempPathFactory,
) -> LimitBook:
    """The limit per size; what it measured also goes into the benchmark JSON."""
    book = LimitBook(fileproto_testfile, tmp_path_factory.mktemp("limit"))
    pytestconfig.stash[_LIMIT_KEY] = book
    return book


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """With --fileproto-target there is one server: tests parametrized over our two
    server kinds would run twice against it, so keep the first kind's copy only."""
    if not config.getoption("--fileproto-target"):
        return
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        kind = str(callspec.params.get("fileproto_server", "")) if callspec else ""
        (drop if kind.startswith("process") else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# -- the matrix ---------------------------------------------------------------------------


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Any test that asks for ``fileproto_case`` runs over the stress matrix."""
    if "fileproto_case" not in metafunc.fixturenames:
        return
    external = bool(metafunc.config.getoption("--fileproto-target"))
    params = []
    seen = set()
    for case in matrix_cases():
        if external:
            # Someone else's server: its worker count is not ours to vary.
            case = MatrixCase(EXTERNAL, case.operation, case.size_mib, case.clients, 0)
            if case in seen:
                continue
            seen.add(case)
        marks = [pytest.mark.full, pytest.mark.timeout(MATRIX_TIMEOUT)]
        if case.smoke or (external and case.size_mib == 10 and case.clients in (1, 5)):
            marks.append(pytest.mark.smoke)
        # e.g. external-UPLOAD-10MiB-c5: the server's kind and workers are not ours to name
        case_id = case.id if not external else case.id.rsplit("-w", 1)[0]
        params.append(pytest.param(case, id=case_id, marks=marks))
    metafunc.parametrize("fileproto_case", params)


@pytest.fixture
def fileproto_run_case(
    request: pytest.FixtureRequest,
    benchmark: Any,
    fileproto_servers: ServerPool,
    fileproto_testfile: Callable[[int], TestFile],
    fileproto_options: Options,
    fileproto_limit: LimitBook,
) -> Callable[[MatrixCase], dict[str, Any]]:
    """Run one matrix case as a benchmark; returns (and records) its extra_info."""

    def run(case: MatrixCase) -> dict[str, Any]:
        options = fileproto_options
        external = case.kind == EXTERNAL
        server = fileproto_servers.get(case.kind, case.server_workers)
        source = fileproto_testfile(case.size_mib * MIB)
        method: Method = options.method or ("process" if case.kind == "process" else "thread")
        download_name = f"fileproto-download-{case.size_mib}MiB.bin"
        if case.operation == "DOWNLOAD":
            _ensure_stored(server, source, download_name)
        spec = LoadSpec(
            server.host,
            server.port,
            case.operation,
            case.clients,
            source,
            method=method,
            dialect=options.dialect,
            remote_name=download_name
            if case.operation == "DOWNLOAD"
            else f"fileproto-upload-{case.size_mib}MiB.bin",
        )
        upload_names = [spec.upload_name(i) for i in range(case.clients)]
        outcomes = []

        def setup() -> tuple[tuple[PreparedCase], dict[str, Any]]:
            if case.operation == "UPLOAD":
                server.remove(upload_names)
            server.reset_peak_rss()
            return (PreparedCase(spec),), {}

        def timed(prepared: PreparedCase) -> None:
            outcomes.append(prepared.run())

        benchmark.pedantic(timed, setup=setup, rounds=options.rounds, iterations=1)
        server_peak = server.peak_rss()
        for outcome in outcomes:
            verify(outcome, server.upload_check(source))
        if case.operation == "UPLOAD":
            server.remove(upload_names)  # 50 x 100 MiB would otherwise pile up on disk
        info = merge_rounds(
            outcomes,
            "external" if external else case.kind,
            EXTERNAL if external else case.server_workers,
        )
        info["server_peak_rss_bytes"] = server_peak
        limit = fileproto_limit.get(source.size)
        info["limit_time_s"] = limit.seconds
        info["limit_Bps"] = limit.throughput
        info["ratio_to_limit"] = info["avg_time_s"] / limit.seconds if limit.seconds else None
        benchmark.extra_info.update(info)
        request.node.user_properties.append((_PROPERTY, {"name": request.node.name, **info}))
        if info["failures"] and not options.allow_failures:
            pytest.fail(
                f"{info['failures']} of {case.clients * options.rounds} client(s) failed "
                f"({info['successes']} succeeded); first error: {info['first_error']}",
                pytrace=False,
            )
        return info

    return run


def _ensure_stored(server: RunningServer, source: TestFile, name: str) -> None:
    if server.upload_check(source)(name) is None:
        return
    with server.client(timeout=300.0) as client:
        client.upload(source.path, name)


# -- reporting ----------------------------------------------------------------------------


@pytest.hookimpl(optionalhook=True)
def pytest_benchmark_update_json(
    config: pytest.Config, benchmarks: list[Any], output_json: dict[str, Any]
) -> None:
    """Keep the limit measured in this run beside the cases it is compared with."""
    book = config.stash.get(_LIMIT_KEY, None)
    if book is not None and book.results:
        from fileproto.report import LIMIT_KEY

        output_json[LIMIT_KEY] = [r.extra_info() for _, r in sorted(book.results.items())]


class _Recorder:
    """Collects each case's figures for the terminal summary and the report files.

    It reads them from ``user_properties``, which travel from xdist workers to the
    controller with the test report, so the summary sees every case however the run
    was distributed.
    """

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.cases: list[dict[str, Any]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for key, value in report.user_properties:
            if key == _PROPERTY and isinstance(value, dict):
                self.cases.append(value)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not self.cases or hasattr(self.config, "workerinput"):
            return
        from fileproto import report

        data = {"benchmarks": [{"name": c["name"], "extra_info": c} for c in self.cases]}
        loaded = report.sort_cases(report.load_cases(data))
        terminalreporter.section("fileproto stress matrix")
        terminalreporter.write_line(report.render_text(loaded))
        limits = {c["size_bytes"]: c for c in self.cases if c.get("limit_time_s")}
        for size, c in sorted(limits.items()):
            terminalreporter.write_line(
                f"limit (bare pipeline, same run): {size / MIB:g} MiB in {c['limit_time_s']:.3f} s"
                f" = {c['limit_Bps']:,.0f} B/s"
            )
        report_dir = Options.from_config(self.config).report_dir
        if report_dir is None:
            return
        report_dir.mkdir(parents=True, exist_ok=True)
        (report_dir / "results.md").write_text(report.render_markdown(loaded))
        (report_dir / "results.csv").write_text(report.render_csv(loaded))
        written = ["results.md", "results.csv"]
        references = [
            {"reference": "limit", "size_mib": c["size_mib"], "throughput_Bps": c["limit_Bps"]}
            for c in limits.values()
        ]
        try:
            report.render_png(loaded, report_dir / "results.png", references=references)
            written.append("results.png")
        except RuntimeError as exc:
            terminalreporter.write_line(f"no plot: {exc}")
        terminalreporter.write_line(f"report written to {report_dir}: {', '.join(written)}")
