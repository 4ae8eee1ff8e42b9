"""``fileproto``: serve files, talk to a server, generate load, render reports."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from fileproto import __version__
from fileproto.client import Client, parse_address
from fileproto.errors import FileprotoError

Handler = Callable[[argparse.Namespace], int]


def _client(args: argparse.Namespace) -> Client:
    host, port = parse_address(args.server)
    return Client(host, port, dialect=args.dialect, timeout=args.timeout)


def _serve(args: argparse.Namespace) -> int:
    from servers.run import run

    return run(args.kind, args.workers, args)


def _ls(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for name in client.list():
            print(name)
    return 0


def _get(args: argparse.Namespace) -> int:
    if args.output == "-":
        with _client(args) as client:
            transfer = client.get(args.name, sys.stdout.buffer)
    else:
        dest = Path(args.output or Path(args.name).name)
        with _client(args) as client:
            transfer = client.get(args.name, dest)
        print(f"{transfer.name}: {transfer.size} bytes -> {dest} (sha256 {transfer.sha256})")
    return 0


def _put(args: argparse.Namespace) -> int:
    with _client(args) as client:
        transfer = client.upload(args.path, args.name)
    print(f"{transfer.name}: {transfer.size} bytes uploaded (sha256 {transfer.sha256})")
    return 0


def _rm(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for name in args.names:
            print(f"deleted {client.delete(name)}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from fileproto.argtypes import positive_int
    from servers.options import add_server_arguments
    from servers.registry import KINDS

    parser = argparse.ArgumentParser(
        prog="fileproto",
        description="A JSON-over-TCP file server, its client, load generator and reports.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="first steps:\n"
        "  fileproto serve &          # a thread-pool server on 127.0.0.1:45000, root ./files\n"
        "  fileproto put big.bin      # the client commands talk to 127.0.0.1:45000\n"
        "  fileproto ls\n"
        "'fileproto COMMAND --help' explains each command.",
    )
    parser.add_argument("--version", action="version", version=f"fileproto {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
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
    serve.set_defaults(func=_serve)

    def client_command(name: str, help_text: str, func: Handler) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help_text, description=help_text)
        sub.add_argument(
            "--server",
            "-s",
            default="127.0.0.1:45000",
            metavar="HOST:PORT",
            help="the server (default: %(default)s)",
        )
        sub.add_argument(
            "--dialect",
            choices=("json", "text"),
            default="json",
            help="request dialect (default: %(default)s)",
        )
        sub.add_argument(
            "--timeout",
            type=float,
            default=60.0,
            metavar="SECONDS",
            help="seconds to wait on the network (default: %(default)s)",
        )
        sub.set_defaults(func=func)
        return sub

    client_command("ls", "list the files on a server", _ls)
    get = client_command("get", "download a file", _get)
    get.add_argument("name", help="file name on the server")
    get.add_argument(
        "output", nargs="?", help="where to write it (default: same name here; - for stdout)"
    )
    put = client_command("put", "upload a file", _put)
    put.add_argument("path", help="local file to upload")
    put.add_argument("name", nargs="?", help="name on the server (default: the file's name)")
    rm = client_command("rm", "delete files", _rm)
    rm.add_argument("names", nargs="+", help="file names on the server")

    for register in _extensions():
        register(commands)
    return parser


def _extensions() -> list[Callable[[argparse._SubParsersAction], None]]:  # type: ignore[type-arg]
    """Subcommands defined beside the code they drive (stress, report)."""
    registrars = []
    extensions = ("fileproto.cli.stress", "fileproto.cli.report", "fileproto.cli.check")
    for module_name in extensions:
        try:
            module = __import__(module_name, fromlist=["register"])
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        registrars.append(module.register)
    return registrars


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:  # the conformance checker parses its own options
        from fileproto.cli.check import main as check

        return check(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except FileprotoError as exc:
        print(f"fileproto: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"fileproto: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("fileproto: interrupted", file=sys.stderr)
        return 130
