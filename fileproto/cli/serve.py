"""``fileproto serve``: run a server of one of the kinds in ``fileproto.server.registry``."""

from __future__ import annotations

import argparse

from fileproto.argtypes import positive_int
from fileproto.server.options import add_server_arguments
from fileproto.server.registry import KINDS


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``serve`` subcommand to the main CLI's subparsers."""
    serve = subparsers.add_parser(
        "serve",
        help="run a server",
        description="Run a server of one of the concurrency models. Prints one line\n"
        "'listening on HOST:PORT' once it accepts connections; SIGINT or SIGTERM stops it.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="kinds:\n"
        + "\n".join(f"  {kind.name:<10}{kind.description}" for kind in KINDS.values()),
    )
    serve.add_argument(
        "--kind",
        choices=list(KINDS),
        default="thread",
        help="concurrency model (default: %(default)s)",
    )
    serve.add_argument(
        "--workers",
        type=positive_int,
        default=5,
        metavar="N",
        help="number of workers (default: %(default)s)",
    )
    add_server_arguments(serve)
    serve.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Imported here: the server kinds' modules (multiprocessing, asyncio) are not needed
    # to list, fetch or stress.
    from fileproto.server.run import run as run_server

    return run_server(args.kind, args.workers, args)
