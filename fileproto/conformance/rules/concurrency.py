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


@rule("concurrency.clients.1", Level.MUST, "9.1", _SEVERAL, classic="serve")
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


#: Seconds between the queue rule's connects: simultaneous SYNs that find a full listen
#: queue are retried by the kernel in lockstep (1 s, 3 s, 7 s ... later) and keep missing
#: it together; paced ones come back one by one.
PACE = 0.005
#: The queue rule gives up when nothing has happened (no connect completed, no answer) for
#: this long: longer than the gaps between a SYN's retries up to the fourth (8 s).
QUIET = 16.0
#: And in any case after this long.
LIMIT = 120.0


@dataclass
class _Client:
    sock: socket.socket
    outgoing: bytes
    begun: float
    connected: float | None = None
    answered: float | None = None
    incoming: bytearray = field(default_factory=bytearray)
    outcome: str | None = None


def _finish(selector: selectors.BaseSelector, client: _Client, outcome: str) -> None:
    client.outcome = outcome
    client.answered = time.monotonic()
    selector.unregister(client.sock)
    client.sock.close()  # a server that keeps the connection frees its worker now


def _send(selector: selectors.BaseSelector, client: _Client) -> None:
    try:
        sent = client.sock.send(client.outgoing)
    except BlockingIOError:
        return
    except OSError as exc:
        _finish(selector, client, f"connection failed while sending: {exc}")
        return
    client.outgoing = client.outgoing[sent:]
    if not client.outgoing:
        selector.modify(client.sock, selectors.EVENT_READ, client)


def _step(selector: selectors.BaseSelector, client: _Client, events: int, release: bool) -> bool:
    """Handle one readiness event; True when something happened (a connect or an end)."""
    if client.connected is None:
        if not events & selectors.EVENT_WRITE:
            return False
        error = client.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if error:
            _finish(selector, client, f"connect failed: {os.strerror(error)}")
            return True
        client.connected = time.monotonic()
        if release:
            _send(selector, client)
        else:  # held until every client has begun; meanwhile notice a close
            selector.modify(client.sock, selectors.EVENT_READ, client)
        return True
    if events & selectors.EVENT_WRITE:
        _send(selector, client)
        return False
    try:
        data = client.sock.recv(65536)
    except BlockingIOError:
        return False
    except OSError as exc:
        _finish(selector, client, f"connection failed: {exc}")
        return True
    if not data:
        _finish(selector, client, "closed without an answer")
        return True
    client.incoming += data
    end = client.incoming.find(TERMINATOR)
    if end < 0:
        return False
    try:
        reply = parse_response(bytes(client.incoming[:end]))
        outcome = "OK" if reply.get("status") == "OK" else f"answered {reply}"
    except Violation as exc:
        outcome = str(exc)
    _finish(selector, client, outcome)
    return True


def _release(selector: selectors.BaseSelector, clients: list[_Client]) -> None:
    """Every client has begun connecting: the connected ones send their request now."""
    for client in clients:
        if client.connected is not None and client.outcome is None and client.outgoing:
            selector.modify(client.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, client)


@rule("concurrency.queue.1", Level.MUST, "9.1", _QUEUED, classic="serve")
def many_connections_at_once(ctx: Context) -> str:
    """Connects paced PACE apart; the requests are sent once every client has begun, so
    that all are open at once. Measured, not raced: the rule waits as long as clients
    keep being connected or answered (up to QUIET between events), and tells clients
    that never connected from clients connected but not answered."""
    target = ctx.target
    family = socket.AF_INET6 if ":" in target.host else socket.AF_INET
    selector = selectors.DefaultSelector()
    clients: list[_Client] = []
    start = last = time.monotonic()
    try:
        while time.monotonic() - start < LIMIT:
            now = time.monotonic()
            if len(clients) < CONNECTIONS and now >= start + PACE * len(clients):
                sock = socket.socket(family, socket.SOCK_STREAM)
                sock.setblocking(False)
                client = _Client(sock, ctx.req("LIST"), now)
                clients.append(client)
                error = sock.connect_ex((target.host, target.port))
                if error not in (0, errno.EINPROGRESS):
                    client.outcome = f"connect failed: {os.strerror(error)}"
                    sock.close()
                else:
                    selector.register(sock, selectors.EVENT_WRITE, client)
                if len(clients) == CONNECTIONS:
                    _release(selector, clients)
                continue
            if len(clients) == CONNECTIONS and not selector.get_map():
                break
            if now - last > QUIET:
                break
            wait = PACE if len(clients) < CONNECTIONS else 0.5
            released = len(clients) == CONNECTIONS
            for key, events in selector.select(timeout=wait):
                if _step(selector, key.data, events, released):
                    last = time.monotonic()
    finally:
        for key in list(selector.get_map().values()):
            key.fileobj.close()  # type: ignore[union-attr]
        selector.close()
    elapsed = time.monotonic() - start
    never = [c for c in clients if c.outcome is None and c.connected is None]
    silent = [c for c in clients if c.outcome is None and c.connected is not None]
    failed = [c.outcome for c in clients if c.outcome not in (None, "OK")]
    waits = [c.connected - c.begun for c in clients if c.connected is not None]
    slowest = max(waits, default=0.0)
    if never or silent or failed:
        answered = CONNECTIONS - len(never) - len(silent) - len(failed)
        parts = [f"of {CONNECTIONS} clients (connects {PACE * 1000:g} ms apart), {answered} "
                 "were answered"]  # fmt: skip
        if never:
            parts.append(f"{len(never)} never connected (the handshake did not complete)")
        if silent:
            parts.append(f"{len(silent)} connected but got no answer")
        if failed:
            parts.append(f"{len(failed)} failed (first: {failed[0]})")
        quiet = time.monotonic() - last
        raise Violation(", ".join(parts) + f"; gave up after {elapsed:.1f} s, "
                        f"{quiet:.1f} s after the last progress")  # fmt: skip
    retried = " (SYNs were retried: the listen queue was full)" if slowest > 0.9 else ""
    return (
        f"{CONNECTIONS} clients, connects {PACE * 1000:g} ms apart: all answered within "
        f"{elapsed:.2f} s; the slowest connect took {slowest:.2f} s{retried}"
    )


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
