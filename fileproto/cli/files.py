"""``fileproto ls | get | put | rm``: one request each, through :class:`fileproto.client.Client`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from fileproto.addresses import DEFAULT_SERVER
from fileproto.client import Client, parse_address

Handler = Callable[[argparse.Namespace], int]


def _client(args: argparse.Namespace) -> Client:
    host, port = parse_address(args.server)
    return Client(host, port, dialect=args.dialect, timeout=args.timeout)


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


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``ls``, ``get``, ``put`` and ``rm`` to the main CLI's subparsers."""

    def client_command(name: str, help_text: str, func: Handler) -> argparse.ArgumentParser:
        sub: argparse.ArgumentParser = subparsers.add_parser(
            name, help=help_text, description=help_text
        )
        sub.add_argument(
            "--server",
            "-s",
            default=DEFAULT_SERVER,
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
