"""Looking at a server the test started: its root folder, its log, its processes."""

from __future__ import annotations

import contextlib
import hashlib
import signal
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import pytest

from fileproto.procinfo import forkserver_children
from fileproto.pytest.process import ServerProcess
from fileproto.pytest.servers import RunningServer, ServerPool
from fileproto.wire.names import RESERVED_PREFIX
from tests.helpers.waiting import wait_for

K = TypeVar("K")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def skip_if_target(
    pool: ServerPool, why: str = "starts, inspects or signals its own server"
) -> None:
    """Skip a test that needs a server of its own when the run targets someone else's."""
    if pool.options.target:
        pytest.skip(why)


def skip_if_external(server: RunningServer, why: str) -> None:
    """Skip a test about our own server (its messages, its processes) when ``server`` is
    someone else's (``--fileproto-target``)."""
    if server.external:
        pytest.skip(why)


@contextlib.contextmanager
def all_started(servers: Mapping[K, ServerProcess]) -> Iterator[Mapping[K, ServerProcess]]:
    """Start every server of ``servers``; stop each started one on the way out, also when
    a later one fails to start. They are all told to stop first, then each is waited for
    (and killed after its grace): the peers notice SIGTERM at their next accept timeout,
    and ten of them need not do so one after another."""
    with contextlib.ExitStack() as stack:
        for server in servers.values():
            stack.enter_context(server)
        # Unwound first: every server is signalled before any is waited for.
        stack.callback(_signal_stop, list(servers.values()))
        yield servers


def _signal_stop(servers: list[ServerProcess]) -> None:
    """SIGTERM, without waiting: each server's own ``stop`` then finds it on its way out
    (its handler only sets a flag, so the second SIGTERM it sends changes nothing)."""
    for server in servers:
        if server.proc is not None and server.proc.poll() is None:
            server.proc.send_signal(signal.SIGTERM)


def one_worker(module: str) -> pytest.MarkDecorator:
    """Keeps a module's tests on one pytest-xdist worker (the plugin runs ``-n N`` as
    ``--dist loadgroup``), so that what its module-scoped fixtures start (servers, a
    browser, a check of every peer) is started once, not once on each worker."""
    return pytest.mark.xdist_group(f"module-{module}")


def temp_files(root: Path) -> list[str]:
    """The uploads in progress (or left behind) in a server's root folder."""
    return sorted(p.name for p in root.iterdir() if p.name.startswith(RESERVED_PREFIX))


def no_temp_files(root: Path) -> None:
    """Wait until no upload is in progress or left behind in ``root``."""
    wait_for(
        lambda: not temp_files(root),
        what=lambda: f"the temporary files to go: {temp_files(root)}",
    )


def root_snapshot(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in root.iterdir() if p.is_file()}


def log_of(server: RunningServer) -> str:
    """What the server wrote to its stdout and stderr so far."""
    assert server.process is not None, "an external server has no log here"
    return server.process.output()


def peer_name(sock_name: tuple[str, int] | tuple[str, int, int, int]) -> str:
    """How the server's log names the client at ``sock_name`` (the client's getsockname)."""
    return f"{sock_name[0]}:{sock_name[1]}"


def pool_workers(server: RunningServer) -> list[int]:
    """The process pool's worker processes: the children of the server's forkserver."""
    assert server.process is not None
    return sorted(forkserver_children(server.process.pid))
