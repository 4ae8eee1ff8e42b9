"""Option definitions shared by the pytest plugin and ``fileproto stress``.

pytest-benchmark's pattern: a function adds a family of options through whatever
``addoption`` it is given (argparse's ``add_argument`` or a pytest option group's
``addoption``) under a prefix, so the two command lines spell, check and explain them
the same way: ``fileproto stress --rounds 3`` and ``pytest --fileproto-rounds 3``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar, get_args

from fileproto.argtypes import positive_int
from fileproto.stress import METHODS
from fileproto.wire.events import Dialect
from servers.registry import CLASSIC_KINDS, get_kind, kind_names

#: ``parser.add_argument`` or ``group.addoption``.
AddOption = Callable[..., Any]
_T = TypeVar("_T")

DIALECTS: tuple[Dialect, ...] = get_args(Dialect)


def comma_list(convert: Callable[[str], _T]) -> Callable[[str], list[_T]]:
    """A comma-separated list (one value is a list of one)."""

    def parse(text: str) -> list[_T]:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise argparse.ArgumentTypeError("expected one value or a comma-separated list")
        return [convert(item) for item in items]

    parse.__name__ = getattr(convert, "__name__", "list")
    return parse


def server_kind(text: str) -> str:
    """A kind in the registry (servers.registry), by name."""
    try:
        return get_kind(text.strip()).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_kinds(text: str) -> tuple[str, ...]:
    """Comma-separated registry kinds, each once, in the order given."""
    return tuple(dict.fromkeys(comma_list(server_kind)(text)))


# -- option families ----------------------------------------------------------------------


def add_load_options(addoption: AddOption, prefix: str = "") -> None:
    """How the client workers load a server: --dialect, --method, --rounds."""
    addoption(
        f"--{prefix}dialect",
        choices=DIALECTS,
        default="json",
        help="request dialect the clients speak (default: %(default)s)",
    )
    addoption(
        f"--{prefix}method",
        choices=METHODS,
        default=None,
        help="run the client workers as threads or as processes (default: what the "
        "server kind's registry entry says; thread for a server of unknown kind)",
    )
    addoption(
        f"--{prefix}rounds",
        type=positive_int,
        default=1,
        metavar="N",
        help="run each case N times; times and rates are averaged over the rounds and "
        "client counts summed (default: %(default)s)",
    )


def add_probe_option(addoption: AddOption, prefix: str = "") -> None:
    """--no-probe: the LIST probe is on unless asked."""
    addoption(
        f"--{prefix}no-probe",
        action="store_true",
        help="no LIST probe during the cases; by default a separate client opens a new "
        "connection every 100 ms while a case runs, sends LIST and times the answer "
        "(what a newcomer waits for while the server is loaded; no answer within 5 s "
        "counts as a probe failure)",
    )


def add_kind_options(addoption: AddOption, prefix: str = "") -> None:
    """Which server kinds the matrix is built from: --kinds."""
    addoption(
        f"--{prefix}kinds",
        type=server_kinds,
        default=CLASSIC_KINDS,
        metavar="KIND[,KIND...]",
        help=f"server kinds to build the stress matrix from, comma-separated; known: "
        f"{', '.join(kind_names())} (default: {','.join(CLASSIC_KINDS)})",
    )
