"""Start-up shared by ``fileproto serve`` and the classic ``python -m`` entry points
(``python -m servers.threadpool 5``, ``python -m fileproto.server.threadpool 5``)."""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from fileproto.argtypes import positive_int
from fileproto.procinfo import raise_open_files_limit
from fileproto.server.base import BaseServer
from fileproto.server.config import LISTENING_PREFIX
from fileproto.server.options import add_server_arguments, config_from
from fileproto.server.registry import get_kind

log = logging.getLogger("fileproto.server")


def build_server(kind: str, workers: int, args: argparse.Namespace) -> BaseServer:
    server_class = get_kind(kind).load()
    return server_class(
        config_from(args, workers),
        workers,
        host=args.host,
        port=args.port,
        grace=args.grace,
        max_connections=args.max_connections,
    )


def run(kind: str, workers: int, args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(processName)s %(message)s",
        stream=sys.stderr,
    )
    files = raise_open_files_limit()
    if args.max_connections + 64 > files:
        log.warning(
            "--max-connections %d is near the open-files limit %d", args.max_connections, files
        )
    try:
        server = build_server(kind, workers, args)
    except OSError as exc:
        print(
            f"fileproto: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr
        )
        return 1
    server.install_signal_handlers()
    log.info(
        "%s server, %d workers, %s, root %s", kind, workers, server.description, server.config.root
    )

    def listening(host: str, port: int) -> None:
        shown = f"[{host}]" if ":" in host else host
        # Exactly this line, flushed: fixtures and scripts wait for it. One write, newline
        # included: unbuffered (PYTHONUNBUFFERED, -u) print() writes the newline apart, and
        # a worker's log line written meanwhile would land between the port and it.
        sys.stdout.write(f"{LISTENING_PREFIX}{shown}:{port}\n")
        sys.stdout.flush()

    try:
        server.serve_forever(listening)
    finally:
        # Stopped: the signals of a burst still on their way are ignored. A Python
        # handler left in place would be reset to the default action as the interpreter
        # finalizes, and a late SIGTERM would then kill the exiting process.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    return 0


def main(kind: str, argv: list[str] | None = None, module: str | None = None) -> int:
    """The classic exercise's entry point: ``python -m servers.threadpool [N]``, port
    45000; ``module`` is the one run (the kind's own by default)."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {module or get_kind(kind).module}",
        description=f"Serve files over the fileproto protocol: {get_kind(kind).description}.",
    )
    parser.add_argument(
        "workers",
        nargs="?",
        type=positive_int,
        default=5,
        help="number of workers (default: %(default)s)",
    )
    add_server_arguments(parser)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    return run(kind, args.workers, args)
