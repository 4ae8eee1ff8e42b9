"""Command-line options of every server (``fileproto serve``, the classic ``python -m``
entry points) and the ServerConfig they make."""

from __future__ import annotations

import argparse
import os

from fileproto.addresses import DEFAULT_PORT
from fileproto.argtypes import (
    byte_size,
    non_negative_seconds,
    positive_int,
    positive_seconds,
    rate,
)
from fileproto.server.config import (
    DEFAULT_MAX_CONNECTIONS,
    DISPATCHES,
    LOOPS,
    ServerConfig,
    buffer_sizes,
)
from fileproto.server.policy import DEFAULT_SCHEDULE, FIRST_QUANTUM, QUANTUM, SCHEDULES
from fileproto.session import Limits


def add_server_arguments(parser: argparse.ArgumentParser, default_port: int = DEFAULT_PORT) -> None:
    defaults = Limits()
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        metavar="PORT",
        help="port to bind; 0 lets the kernel pick a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--root",
        default="files",
        help="folder whose files are served; created if missing (default: ./%(default)s)",
    )
    parser.add_argument(
        "--dispatch",
        choices=DISPATCHES,
        default="ready",
        help="ready: one selector holds every connection that waits (for a request, "
        "for bytes of a body, for room to send) and a worker drives one only while its "
        "bytes move; accept: a worker owns a connection from accept to close, the "
        "classic exercise; the kinds without a pool (asyncio's loops, a thread per "
        "connection) have no choice of it "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--schedule",
        choices=tuple(SCHEDULES),
        default=DEFAULT_SCHEDULE,
        help="who runs next when connections wait for a pool's workers (ready dispatch; "
        + "; ".join(f"{name}: {text}" for name, text in SCHEDULES.items())
        + f"; quanta: {FIRST_QUANTUM * 1000:g} ms for a new request, then "
        f"{QUANTUM * 1000:g} ms) (default: %(default)s)",
    )
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default="auto",
        help="the event loop of the asyncio kind: uvloop (pip install -e '.[uvloop]') or "
        "the standard library's; auto takes uvloop when installed (default: %(default)s)",
    )
    deadlines = parser.add_argument_group(
        "deadlines (each runs from the moment the server accepts the connection)"
    )
    deadlines.add_argument(
        "--header-timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"a request header must be complete this long after it began (the first "
        f"request: after accept), extended while it keeps arriving at --min-rate, up to "
        f"twice that; a request body must keep --min-rate over every window this long "
        f"(default: {defaults.header_timeout:g})",
    )
    deadlines.add_argument(
        "--min-rate",
        type=rate,
        default=None,
        metavar="BYTES_PER_S",
        help=f"slowest request body accepted, averaged over a --header-timeout window "
        f"(default: {defaults.min_rate:g})",
    )
    deadlines.add_argument(
        "--keepalive-timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"close a connection idle this long between requests "
        f"(default: {defaults.keepalive_timeout:g})",
    )
    deadlines.add_argument(
        "--send-timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help=f"close a connection whose client reads nothing of a response for this long "
        f"(default: {defaults.send_timeout:g})",
    )
    deadlines.add_argument(
        "--idle-timeout",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="shorthand: sets --header-timeout and --keepalive-timeout both (the option of "
        "earlier versions); the specific options win",
    )
    parser.add_argument(
        "--max-connections",
        type=positive_int,
        default=DEFAULT_MAX_CONNECTIONS,
        metavar="N",
        help="open connections at most; past it a new connection is answered "
        "'server busy' and closed (default: %(default)s)",
    )
    parser.add_argument(
        "--max-file-size",
        type=byte_size,
        default=None,
        metavar="SIZE",
        help="refuse uploads larger than this, e.g. 200M (default: no limit)",
    )
    parser.add_argument(
        "--grace",
        type=non_negative_seconds,
        default=3.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, time given to transfers in flight (default: %(default)s)",
    )
    parser.add_argument(
        "--trace",
        metavar="FILE",
        default=None,
        help="append each connection's events (accepted, taken by a worker, given back, "
        "response, closed and why) to FILE as JSON lines; see docs/trace.md",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log connections and deadlines to stderr"
    )


def limits_from(args: argparse.Namespace, read_chunk: int) -> Limits:
    defaults = Limits()
    idle = args.idle_timeout

    def pick(value: float | None, fallback: float) -> float:
        return value if value is not None else (idle if idle is not None else fallback)

    return Limits(
        header_timeout=pick(args.header_timeout, defaults.header_timeout),
        min_rate=args.min_rate if args.min_rate is not None else defaults.min_rate,
        keepalive_timeout=pick(args.keepalive_timeout, defaults.keepalive_timeout),
        send_timeout=args.send_timeout if args.send_timeout is not None else defaults.send_timeout,
        max_file_size=args.max_file_size,
        read_chunk=read_chunk,
    )


def config_from(args: argparse.Namespace, workers: int) -> ServerConfig:
    os.makedirs(args.root, exist_ok=True)
    recv_size, read_chunk = buffer_sizes(workers)
    return ServerConfig(
        root=os.path.abspath(args.root),
        limits=limits_from(args, read_chunk),
        recv_size=recv_size,
        dispatch=args.dispatch,
        schedule=args.schedule,
        loop=args.loop,
        verbose=args.verbose,
        trace=os.path.abspath(args.trace) if args.trace else None,
    )
