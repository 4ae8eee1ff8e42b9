"""pytest plugin (``pytest11`` entry point ``fileproto-conformance``): the conformance
catalogue as one test item per rule.

``pytest -m conformance --fileproto-target HOST:PORT`` runs every rule against that
server, test id = rule id. Without a target, ``-m conformance`` runs the catalogue against
every server kind we ship (ids ``RULE[kind]``), each started once per session on port 0.
Items are only added when conformance was asked for (a ``-m`` expression that mentions it,
or a target), and not when the collected tests already run the catalogue against our own
servers (this repository's tests/test_conformance.py, marked ``fileproto_catalogue``), so
no rule runs twice in a session. UNSUPPORTED and BLOCKED are skips, NON-STRICT an xfail
unless ``--fileproto-strict``; ``--fileproto-check-profile classic`` holds the server to
the classic exercise's text (docs/classic-protocol.md).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest

from fileproto.client import parse_address
from fileproto.conformance.classic import DEFAULT_PROFILE, PROFILES
from fileproto.conformance.model import Outcome, Result, Rule, Target
from fileproto.conformance.rules import CATALOGUE
from fileproto.conformance.runner import (
    DEFAULT_TIMEOUT,
    Runner,
    Unreachable,
    check_reachable,
    new_prefix,
)
from fileproto.errors import FileprotoError
from fileproto.pytest.process import ServerStartError
from fileproto.pytest.servers import ServerPool
from fileproto.pytest.settings import Options
from fileproto.server.registry import MODES  # our servers: every kind in every dispatch

#: Two workers per check (a rule may hold one connection while it uses another), and room
#: for a second check at once.
OWN_WORKERS = 4
CATALOGUE_MARKER = "fileproto_catalogue"
_STATE = pytest.StashKey["ConformanceSession"]()


class RuleFailed(Exception):
    """A rule's requirement was broken: reported without a traceback."""


class ConformanceSession:
    """One runner per server for the whole session (probes once). Our servers come from
    the plugin's server pool (``fileproto_servers``, fileproto/pytest/servers.py) when a
    test asked for it, else from a pool of the same kind made here and closed at the end."""

    def __init__(self, config: pytest.Config, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.timeout = timeout
        self.prefix = new_prefix()
        self._config = config
        self._runners: dict[str, Runner] = {}
        self._broken: dict[str, str] = {}
        self._pool: ServerPool | None = None
        self._own_pool = False
        self._base: Path | None = None

    def share(self, pool: ServerPool) -> None:
        """Start our servers in the plugin's pool (unless some were started already)."""
        if self._pool is None:
            self._pool = pool

    def pool(self) -> ServerPool:
        if self._pool is None:
            self._base = Path(tempfile.mkdtemp(prefix="fileproto-conformance-"))
            options = Options.from_config(self._config)
            self._pool, self._own_pool = ServerPool(self._base, options), True
        return self._pool

    def runner(self, server: str) -> Runner:
        """``server`` is one of MODES (started here) or a HOST:PORT."""
        if server in self._broken:
            raise RuleFailed(self._broken[server])
        if server not in self._runners:
            try:
                self._runners[server] = self._start(server)
            except (Unreachable, ServerStartError, ValueError) as exc:
                self._broken[server] = str(exc)
                raise RuleFailed(str(exc)) from None
        return self._runners[server]

    def _start(self, server: str) -> Runner:
        if server not in MODES:
            host, port = parse_address(server)
            target = Target(host, port, server)
            check_reachable(target, self.timeout)
            return Runner(target, self.timeout, self.prefix)
        kind, args = MODES[server]
        pool = self.pool()
        # get() shares a server of this kind and size; with --fileproto-target it would
        # hand out the target, so then one of ours is started for the rules anyway.
        running = (
            pool.start(kind, OWN_WORKERS, *args)
            if pool.options.target
            else pool.get(kind, OWN_WORKERS, *args)
        )
        target = Target(running.host, running.port, server, running.root)
        return Runner(target, self.timeout, self.prefix)

    def run(self, server: str, rule: Rule, profile: str | None = None) -> Result:
        return self.runner(server).run_rule(rule, profile)

    def close(self) -> None:
        """Sweep what the rules left on servers that are not ours (``Runner.sweep``);
        close the pool if it is our own."""
        for server, runner in self._runners.items():
            if server not in MODES:
                with contextlib.suppress(OSError, FileprotoError):
                    runner.sweep()
        self._runners.clear()
        if self._own_pool and self._pool is not None:
            self._pool.close()
        self._pool, self._own_pool = None, False
        if self._base is not None:
            shutil.rmtree(self._base, ignore_errors=True)
            self._base = None


def conformance_session(config: pytest.Config) -> ConformanceSession:
    if _STATE not in config.stash:
        timeout = config.getoption("--fileproto-check-timeout", default=DEFAULT_TIMEOUT)
        config.stash[_STATE] = ConformanceSession(config, float(timeout))
    return config.stash[_STATE]


def apply_outcome(result: Result, strict: bool) -> None:
    """Turn a rule's outcome into pytest's: pass, skip, xfail or a failure."""
    rule = result.rule
    if result.outcome in (Outcome.PASS, Outcome.INFO):
        return
    if result.outcome is Outcome.UNSUPPORTED:
        pytest.skip(f"UNSUPPORTED: {result.detail}")
    if result.outcome is Outcome.BLOCKED:
        pytest.skip(f"BLOCKED: {result.detail}")
    message = (
        f"{result.outcome} {rule.id} [{rule.level}, docs/protocol.md section {rule.section}, "
        f"profiles: {', '.join(rule.profiles)}]\n"
        f"requirement: {rule.requirement}\nseen: {result.detail}"
    )
    if result.outcome is Outcome.NON_STRICT and not strict:
        pytest.xfail(message)
    raise RuleFailed(message)


class RuleItem(pytest.Item):
    def __init__(self, *, rule: Rule, server: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.server = server

    def runtest(self) -> None:
        profile = str(self.config.getoption("--fileproto-check-profile"))
        result = conformance_session(self.config).run(self.server, self.rule, profile)
        self.user_properties.append(("fileproto_rule", result.as_dict()))
        apply_outcome(result, bool(self.config.getoption("--fileproto-strict")))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        if isinstance(excinfo.value, RuleFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"{self.rule.id} [{self.rule.level}] on {self.server}"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fileproto-conformance", "fileproto conformance catalogue")
    group.addoption(
        "--fileproto-strict",
        action="store_true",
        help="a broken SHOULD (NON-STRICT) fails its test instead of xfailing",
    )
    group.addoption(
        "--fileproto-check-profile",
        choices=PROFILES,
        default=DEFAULT_PROFILE,
        help="the profile the rule items hold the server to: fileproto (docs/protocol.md) "
        "or classic (docs/classic-protocol.md) (default: %(default)s)",
    )
    group.addoption(
        "--fileproto-check-timeout",
        type=float,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help="seconds the rules wait for each connection and response (default: %(default)s)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{CATALOGUE_MARKER}: tests that run the conformance catalogue against our own "
        "servers (the plugin then adds no rule items of its own)",
    )


def _wanted(config: pytest.Config) -> bool:
    target = config.getoption("--fileproto-target", default=None)
    return bool(target) or "conformance" in (config.getoption("markexpr", default="") or "")


@pytest.hookimpl(tryfirst=True)  # before -m deselection, so that it sees these items
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not _wanted(config):
        return
    target = config.getoption("--fileproto-target", default=None)
    ours = [item for item in items if item.get_closest_marker(CATALOGUE_MARKER)]
    if target:
        if ours:  # they are about our servers; a target replaces them
            config.hook.pytest_deselected(items=ours)
            items[:] = [item for item in items if item not in ours]
        items.extend(_items(session, [(str(target), "")]))
    elif not ours:
        items.extend(_items(session, [(name, f"[{name}]") for name in MODES]))


class Catalogue(pytest.Collector):
    """The rule items of one run; collected through the session like any other node,
    so that the counts, ``--collect-only`` and xdist see them."""

    def __init__(self, *, servers: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.servers = servers

    def collect(self) -> list[pytest.Item | pytest.Collector]:
        made: list[pytest.Item | pytest.Collector] = []
        registered = self.config.getini("markers")
        smoke = any(line.split(":")[0] == "smoke" for line in registered)
        for server, suffix in self.servers:
            for rule in CATALOGUE:
                item = RuleItem.from_parent(
                    self, name=rule.id + suffix, nodeid=rule.id + suffix, rule=rule, server=server
                )
                item.add_marker(pytest.mark.conformance)
                if not suffix and smoke:  # someone else's server: in a plain run against it
                    item.add_marker(pytest.mark.smoke)
                made.append(item)
        return made


def _items(session: pytest.Session, servers: list[tuple[str, str]]) -> list[pytest.Item]:
    catalogue = Catalogue.from_parent(
        session, name="fileproto-conformance", nodeid="fileproto-conformance", servers=servers
    )
    return list(session.genitems(catalogue))


@pytest.fixture(scope="session")
def fileproto_conformance(
    pytestconfig: pytest.Config, fileproto_servers: ServerPool
) -> ConformanceSession:
    """The session's conformance runners: ``.run(kind_or_address, rule)``; our servers
    come from the plugin's pool."""
    session = conformance_session(pytestconfig)
    session.share(fileproto_servers)
    return session


def pytest_sessionfinish(session: pytest.Session) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is not None:
        state.close()
