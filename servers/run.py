"""Command-line start-up shared by ``fileproto serve`` and ``python -m servers.<kind>``."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from servers.base import BaseServer
from servers.config import ServerConfig, buffer_sizes

CLASSIC_PORT = 45000
KINDS = ("thread", "process")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _size(text: str) -> int:
    """A byte count, with an optional K/M/G suffix (powers of 1024)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().removesuffix("IB").removesuffix("B")
    factor = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        value = int(float(number) * factor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 100M)") from None
    if value < 0:
        raise argparse.ArgumentTypeError("a size cannot be negative")
    return value


def add_server_arguments(parser: argparse.ArgumentParser, default_port: int) -> None:
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help="port to bind; 0 lets the kernel pick a free one (default: %(default)s)",
    )
    parser.add_argument(
        "--root",
        default="files",
        help="folder whose files are served; created if missing (default: ./%(default)s)",
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="close a connection that completes no request in this time (default: %(default)s)",
    )
    parser.add_argument(
        "--max-file-size",
        type=_size,
        default=None,
        metavar="SIZE",
        help="refuse uploads larger than this, e.g. 200M (default: no limit)",
    )
    parser.add_argument(
        "--grace",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="on SIGTERM/SIGINT, time given to transfers in flight (default: %(default)s)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log connections to stderr")


def build_server(kind: str, workers: int, args: argparse.Namespace) -> BaseServer:
    os.makedirs(args.root, exist_ok=True)
    recv_size, read_chunk = buffer_sizes(workers)
    config = ServerConfig(
        root=os.path.abspath(args.root),
        recv_size=recv_size,
        read_chunk=read_chunk,
        idle_timeout=args.idle_timeout,
        max_file_size=args.max_file_size,
        verbose=args.verbose,
    )
    server_class: type[BaseServer]
    if kind == "thread":
        from servers.threadpool import ThreadPoolServer

        server_class = ThreadPoolServer
    elif kind == "process":
        from servers.processpool import ProcessPoolServer

        server_class = ProcessPoolServer
    else:
        raise ValueError(f"unknown server kind {kind!r}; choose from {', '.join(KINDS)}")
    return server_class(config, workers, host=args.host, port=args.port, grace=args.grace)


def run(kind: str, workers: int, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(processName)s %(message)s",
        stream=sys.stderr,
    )
    try:
        server = build_server(kind, workers, args)
    except OSError as exc:
        print(
            f"fileproto: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    server.install_signal_handlers()

    def ready(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        # Exactly this line, flushed: fixtures and scripts wait for it.
        print(f"listening on {shown}:{port}", flush=True)

    server.serve_forever(ready)
    return 0


def main(kind: str, argv: list[str]) -> int:
    """``python -m servers.threadpool [N]``: the classic exercise's entry point, port 45000."""
    parser = argparse.ArgumentParser(
        prog=f"python -m servers.{kind}pool",
        description=f"Serve files over the fileproto protocol with a {kind} pool.",
    )
    parser.add_argument(
        "workers",
        nargs="?",
        type=_positive_int,
        default=5,
        help="number of pool workers (default: %(default)s)",
    )
    add_server_arguments(parser, CLASSIC_PORT)
    args = parser.parse_args(argv)
    return run(kind, args.workers, args)
