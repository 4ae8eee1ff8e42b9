"""The fileproto pytest plugin: the ``pytest11`` entry point named ``fileproto``.

Fixtures start real servers in their own OS processes (port 0, readiness line,
SIGTERM then SIGKILL), give clients and session-cached test files, and run matrix
cases as pytest-benchmark benchmarks. Options point the whole suite at a server that
is already running elsewhere (``--fileproto-target``).
"""

from __future__ import annotations

from typing import Any

import pytest

from fileproto.pytest import comparing
from fileproto.pytest.classic import fileproto_run_case, parametrize

# Fixtures are found where the plugin is registered: this module.
from fileproto.pytest.fixtures import (
    fileproto_client,
    fileproto_limit,
    fileproto_options,
    fileproto_server,
    fileproto_servers,
    fileproto_testfile,
    server_param,
)
from fileproto.pytest.recording import Recorder, check_xdist_saving
from fileproto.pytest.refine import (
    REFINER,
    group_by_load,
    order_by_load,
    refiner_for,
    tell_worker,
)
from fileproto.pytest.settings import Options, add_plugin_options, check_options
from fileproto.pytest.slowclients import fileproto_run_slow_case, parametrize_slow
from fileproto.server.registry import KINDS, kind_names

__all__ = [
    "fileproto_client",
    "fileproto_limit",
    "fileproto_options",
    "fileproto_run_case",
    "fileproto_run_slow_case",
    "fileproto_server",
    "fileproto_servers",
    "fileproto_testfile",
    "pytest_addoption",
    "pytest_cmdline_main",
    "pytest_collection_finish",
    "pytest_collection_modifyitems",
    "pytest_configure",
    "pytest_configure_node",
    "pytest_generate_tests",
]

MARKERS = (
    "smoke: fast tests and the small part of the matrix; the default run",
    "exhaustive: the cross products (every rule, hostile request or error message x every "
    "kind and dispatch); the default run has the first kind's copy of each",
    "full: the stress matrix (108 cases over the classic kinds)",
    "slowclients: clients that wait, beside the classic matrix: kind x dispatch (accept, "
    "ready; loop for asyncio) x server workers (1, 5) x scenario (idle: 200 idle + 20 "
    "slowloris beside 5 clients uploading 10 MiB; slow-links: 20 clients uploading 10 MiB "
    "at 1 MiB/s; stalled: 20 GETs of a 20 MiB file that read nothing, beside 5 clients "
    "uploading 10 MiB, server --send-timeout 3), each stopped 15 s after its start, 8 s "
    "for stalled (--fileproto-slow-deadline)",
    "limit: the machine's ceiling, the simplest pipeline that moves the same bytes",
    "conformance: protocol rules any server must keep (use with --fileproto-target)",
    # pytest-xdist's own, named here too so the matrix collects without it.
    "xdist_group(name): run tests of one group on one pytest-xdist worker "
    "(--dist loadgroup): the matrix groups one load's cases",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_plugin_options(parser)
    comparing.add_compare_options(parser)


def pytest_cmdline_main(config: pytest.Config) -> None:
    """After pytest-xdist has read ``-n``: keep one load's cases on one worker."""
    group_by_load(config)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist starts a worker: tell it how tests are grouped."""
    tell_worker(node.config, node.workerinput)


def pytest_configure(config: pytest.Config) -> None:
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    check_options(config)
    check_xdist_saving(config)
    config.stash[REFINER] = refiner_for(config, Options.from_config(config).budget)
    config.pluginmanager.register(Recorder(config), "fileproto-recorder")
    comparing.configure(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Any test that asks for ``fileproto_case`` runs over the stress matrix, one that
    asks for ``fileproto_slow_case`` over the slow-client matrix."""
    if "fileproto_case" in metafunc.fixturenames:
        parametrize(metafunc)
    if "fileproto_slow_case" in metafunc.fixturenames:
        parametrize_slow(metafunc)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The matrix's cases load by load (one load's cases are compared, and the last of
    them adds rounds where a comparison is open). With --fileproto-target there is one
    server: tests parametrized over our server kinds would run once per kind against
    it, so keep the first kind's copy only."""
    order_by_load(items)
    if not config.getoption("--fileproto-target"):
        return
    first = kind_names()[0]
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        param = callspec.params.get("fileproto_server") if callspec else None
        kind = server_param(param)[0] if param is not None else first
        (drop if kind in KINDS and kind != first else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_collection_finish(session: pytest.Session) -> None:
    session.config.stash[REFINER].plan(session.items)
