"""Section 9: several clients at once; and how long a request takes (INFO)."""

from __future__ import annotations

import errno
import os
import selectors
import socket
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from fileproto.conformance.context import Context
from fileproto.conformance.model import Level, Violation, rule
from fileproto.conformance.rawio import parse_response
from fileproto.wire import TERMINATOR

_SEVERAL = (
    "A server MUST serve several clients at once correctly, each transfer complete and unmixed."
)
_QUEUED = (
    "Clients that connect while every worker is busy MUST be queued and answered, not refused."
)
CONNECTIONS = 32
SAME_NAME_WRITERS = 4
SAME_NAME_ROUNDS = 50


@rule("concurrency.clients.1", Level.MUST, "9.1", _SEVERAL)
def five_clients_at_once(ctx: Context) -> None:
    barrier = threading.Barrier(5, timeout=ctx.timeout)

    def one(index: int) -> str | None:
        name = ctx.name(f"client{index}")
        content = os.urandom(256 * 1024) + bytes([index])
        barrier.wait()
        ctx.upload(name, content)
        if ctx.get(name) != content:
            return f"client {index} got other content back"
        ctx.delete(name)
        return None

    with ThreadPoolExecutor(max_workers=5) as pool:
        futures = [pool.submit(one, i) for i in range(5)]
        problems = [f.result(timeout=ctx.timeout * 6) for f in futures]
    found = [p for p in problems if p]
    ctx.expect(not found, "; ".join(found))


@rule(
    "concurrency.same-name.1",
    Level.MUST,
    "9.2",
    "When several clients upload the same name at once, the server MUST be left holding "
    "exactly one of the uploaded versions, whole.",
)
def same_name_at_once(ctx: Context) -> str:
    # A server that writes in place loses this race only now and then (one round in
    # five to fifteen for a classroom server), so it is run many times: short rounds of
    # small files, which overlap more often than long ones.
    name = ctx.name()
    versions = [bytes([i]) * (64 * 1024 + 4096 * i) for i in range(SAME_NAME_WRITERS)]
    barrier = threading.Barrier(len(versions), timeout=ctx.timeout)

    def put(content: bytes) -> None:
        barrier.wait()
        ctx.upload(name, content)

    with ThreadPoolExecutor(max_workers=len(versions)) as pool:
        for round_number in range(1, SAME_NAME_ROUNDS + 1):
            for future in [pool.submit(put, v) for v in versions]:
                future.result(timeout=ctx.timeout * 3)
            stored = ctx.get(name)
            if stored not in versions:
                kinds = sorted(set(stored[:: max(1, len(stored) // 64)]))
                raise Violation(
                    f"round {round_number}: the stored file ({len(stored)} bytes, byte values "
                    f"{kinds[:8]}) is none of the {len(versions)} versions uploaded at once"
                )
    return (
        f"{SAME_NAME_ROUNDS} rounds of {len(versions)} uploads at once, one version whole each time"
    )


@dataclass
class _Client:
    sock: socket.socket
    outgoing: bytes
    incoming: bytearray = field(default_factory=bytearray)
    outcome: str | None = None


def _step(selector: selectors.BaseSelector, client: _Client, events: int) -> None:
    try:
        if events & selectors.EVENT_WRITE:
            error = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
            if error:
                raise OSError(error, os.strerror(error))
            sent = client.sock.send(client.outgoing)
            client.outgoing = client.outgoing[sent:]
            if not client.outgoing:
                selector.modify(client.sock, selectors.EVENT_READ, client)
            return
        data = client.sock.recv(65536)
    except BlockingIOError:
        return
    except OSError as exc:
        client.outcome = f"connection failed: {exc}"
    else:
        if not data:
            client.outcome = "closed without an answer"
        else:
            client.incoming += data
            end = client.incoming.find(TERMINATOR)
            if end < 0:
                return
            try:
                reply = parse_response(bytes(client.incoming[:end]))
                client.outcome = "OK" if reply.get("status") == "OK" else f"answered {reply}"
            except Violation as exc:
                client.outcome = str(exc)
    selector.unregister(client.sock)
    client.sock.close()  # a server that keeps the connection frees its worker now


@rule("concurrency.queue.1", Level.MUST, "9.1", _QUEUED)
def many_connections_at_once(ctx: Context) -> str:
    """Every connection is opened before any answer is read."""
    target = ctx.target
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    selector = selectors.DefaultSelector()
    clients: list[_Client] = []
    deadline = time.monotonic() + max(ctx.timeout * 3, 30.0)
    try:
        for _ in range(CONNECTIONS):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            client = _Client(sock, ctx.req("LIST"))
            clients.append(client)
            error = sock.connect_ex((target.host, target.port))
            if error not in (0, errno.EINPROGRESS):
                client.outcome = f"connect failed: {os.strerror(error)}"
                sock.close()
                continue
            selector.register(sock, selectors.EVENT_WRITE, client)
        while selector.get_map() and time.monotonic() < deadline:
            for key, events in selector.select(timeout=0.5):
                _step(selector, key.data, events)
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()
    waiting = sum(1 for c in clients if c.outcome is None)
    failed = [c.outcome for c in clients if c.outcome not in (None, "OK")]
    if waiting or failed:
        first = f"; first failure: {failed[0]}" if failed else ""
        raise Violation(
            f"of {CONNECTIONS} clients connecting at once, {len(failed)} failed and "
            f"{waiting} were still unanswered after the deadline{first}"
        )
    return f"{CONNECTIONS} connections at once, all answered"


@rule(
    "concurrency.latency.1",
    Level.INFO,
    "10.1",
    "The checker also reports observations that are not requirements: which optional "
    "features were found, the largest request header accepted, whether errors name the "
    "problem, and the time a request takes.",
)
def time_per_request(ctx: Context) -> str:
    name = ctx.name()
    ctx.upload(name, os.urandom(64 * 1024))
    timings: dict[str, list[float]] = {"LIST": [], "GET 64 KiB": []}
    for _ in range(10):
        for what, data in (("LIST", ctx.req("LIST")), ("GET 64 KiB", ctx.req("GET", name))):
            start = time.perf_counter()
            ctx.ok(ctx.ask(data), what)
            timings[what].append(time.perf_counter() - start)
    return "; ".join(
        f"{what} on a new connection: median {statistics.median(t) * 1000:.1f} ms, "
        f"max {max(t) * 1000:.1f} ms"
        for what, t in timings.items()
    )
