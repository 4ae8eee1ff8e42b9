"""``fileproto``: serve files, talk to a server, generate load, render reports, check.

One module per command, each with a ``register(subparsers)``: :mod:`.serve`,
:mod:`.files` (ls, get, put, rm), :mod:`.stress`, :mod:`.report`, :mod:`.compare` and
:mod:`.check`. A command imports only its own module: ``fileproto serve`` and
``fileproto ls`` start without loading the reports. The load options ``fileproto
stress`` shares with the pytest plugin are in :mod:`fileproto.stress.load_arguments`.
Commands convert their arguments into the library's typed options here, so library code
never sees an ``argparse.Namespace``.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fileproto import __version__
from fileproto.errors import FileprotoError

#: Each command word and the module of this package that registers it, in the order
#: ``fileproto --help`` lists them.
COMMANDS: dict[str, str] = {
    "serve": "serve",
    "ls": "files",
    "get": "files",
    "put": "files",
    "rm": "files",
    "stress": "stress",
    "report": "report",
    "compare": "compare",
    "check": "check",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole CLI's parser; with a known ``command``, only that command's (what
    ``fileproto COMMAND ...`` needs: the other modules are not even imported)."""
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
    wanted = [COMMANDS[command]] if command in COMMANDS else list(COMMANDS.values())
    for module in dict.fromkeys(wanted):
        importlib.import_module(f"{__name__}.{module}").register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:  # the conformance checker parses its own options
        from fileproto.cli import check

        return check.main(argv[1:])
    args = build_parser(argv[0] if argv else None).parse_args(argv)
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
