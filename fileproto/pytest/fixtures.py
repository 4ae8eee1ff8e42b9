"""The plugin's fixtures: options, servers, clients, test files and the limit."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fileproto.client import Client
from fileproto.load.limit import LimitResult, measure_limit
from fileproto.load.testfiles import TestFile, make_test_file
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.pytest.settings import Options


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


#: Where the session's LimitBook is kept, for the benchmark JSON.
LIMIT_BOOK = pytest.StashKey[LimitBook]()


@pytest.fixture(scope="session")
def fileproto_options(pytestconfig: pytest.Config) -> Options:
    return Options.from_config(pytestconfig)


@pytest.fixture(scope="session")
def fileproto_servers(
    fileproto_options: Options, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerPool]:
    """Factory of servers: ``.get(kind, workers)`` shares, ``.start(...)`` makes a fresh one.
    ``.name(stem)`` gives a file name of this run and worker."""
    pool = ServerPool(tmp_path_factory.mktemp("servers"), fileproto_options)
    yield pool
    pool.close()


def server_param(param: object) -> tuple[str, int]:
    """A ``fileproto_server`` parameter: "kind", "kind:N" or (kind, N); 2 workers unless
    given."""
    if isinstance(param, tuple):
        return str(param[0]), int(param[1])
    kind, _, workers = str(param).partition(":")
    return kind, int(workers or 2)


@pytest.fixture
def fileproto_server(
    request: pytest.FixtureRequest, fileproto_servers: ServerPool
) -> RunningServer:
    """A running server. Parametrize indirectly with a kind ("thread", ...) or "kind:N".

    Shared between tests of the same kind and size; tests that need an empty root or
    kill the server should use ``fileproto_servers.start`` instead.
    """
    kind, workers = server_param(getattr(request, "param", "thread"))
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


@pytest.fixture(scope="session")
def fileproto_limit(
    pytestconfig: pytest.Config,
    fileproto_testfile: Callable[[int], TestFile],
    tmp_path_factory: pytest.TempPathFactory,
) -> LimitBook:
    """The limit per size; what it measured also goes into the benchmark JSON."""
    book = LimitBook(fileproto_testfile, tmp_path_factory.mktemp("limit"))
    pytestconfig.stash[LIMIT_BOOK] = book
    return book
