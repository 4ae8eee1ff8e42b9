"""Load options shared by the pytest plugin and ``fileproto stress``, and the argument
types of ``fileproto stress``.

pytest-benchmark's pattern: a function adds a family of options through whatever
``addoption`` it is given (argparse's ``add_argument`` or a pytest option group's
``addoption``) under a prefix, so the two command lines spell, check and explain them
the same way: ``fileproto stress --rounds 3`` and ``pytest --fileproto-rounds 3``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TypeVar, get_args

from fileproto.argtypes import non_negative_int, positive_int, positive_seconds, rate
from fileproto.client import parse_address
from fileproto.results import EXTERNAL
from fileproto.server.registry import CLASSIC_KINDS, get_kind, kind_names
from fileproto.stress import METHODS, OPERATIONS, Operation
from fileproto.stress.plan import DEFAULT_STALLED_SIZE
from fileproto.units import MIB
from fileproto.wire.events import Dialect

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
    """A kind in the registry (fileproto.server.registry), by name."""
    try:
        return get_kind(text.strip()).name
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_kinds(text: str) -> tuple[str, ...]:
    """Comma-separated registry kinds, each once, in the order given."""
    return tuple(dict.fromkeys(comma_list(server_kind)(text)))


def positive_mib(text: str) -> float:
    """A size in MiB, fractions allowed (0.5), at least one byte."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size in MiB: {text!r}") from None
    if not value > 0 or value * MIB < 1:
        raise argparse.ArgumentTypeError(f"a size must be more than 0 MiB, got {text}")
    return value


def operation(text: str) -> Operation:
    """UPLOAD or DOWNLOAD, in any case."""
    upper = text.strip().upper()
    for known in OPERATIONS:
        if upper == known:
            return known
    raise argparse.ArgumentTypeError(
        f"unknown operation {text!r}; choose from {', '.join(OPERATIONS)} (any case)"
    )


def address(text: str) -> tuple[str, int]:
    """HOST:PORT or fileproto://HOST:PORT."""
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_workers(text: str) -> int | str:
    """A worker count, or "external"."""
    return EXTERNAL if text == EXTERNAL else positive_int(text)


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


def add_waiting_options(addoption: AddOption) -> None:
    """``fileproto stress``'s slower links and connections that wait: --rate, --idle,
    --slowloris, --parked, --stalled (and --stalled-size-mib), --deadline, --scenario."""
    addoption(
        "--rate",
        type=rate,
        default=None,
        metavar="BYTES_PER_S",
        help="each client's link rate, both directions, e.g. 1M (1 MiB/s), 256K, 100000; "
        "a token bucket paces its sends and receives. Files travel as base64 (4 bytes on "
        "the wire per 3 of the file), so a file moves at 3/4 of it (default: no limit)",
    )
    addoption(
        "--idle",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N connections that never send anything (default: %(default)s)",
    )
    addoption(
        "--slowloris",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N connections that send a valid request header one byte per second "
        "(default: %(default)s)",
    )
    addoption(
        "--parked",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N connections that send one LIST, read the answer and then wait "
        "(default: %(default)s)",
    )
    addoption(
        "--stalled",
        type=non_negative_int,
        default=0,
        metavar="N",
        help="N connections that send GET for a file of --stalled-size-mib and read "
        "nothing of the answer (a server gives up on them after its --send-timeout); the "
        "file is uploaded before the run and deleted after it (default: %(default)s)",
    )
    addoption(
        "--stalled-size-mib",
        type=positive_mib,
        default=DEFAULT_STALLED_SIZE / MIB,
        metavar="MIB",
        help="size of the file the --stalled connections ask for (default: %(default)g)",
    )
    addoption(
        "--deadline",
        type=positive_seconds,
        default=None,
        metavar="SECONDS",
        help="stop clients still running this long after the case started; each counts "
        "as a failure of kind 'deadline', and the bytes it moved still count toward the "
        "case's moved bytes (default: none; clients run until done or --timeout)",
    )
    addoption(
        "--scenario",
        metavar="NAME",
        default=None,
        help="a name for the case in the slow-client table (default: made from --rate, "
        "--idle, --slowloris, --parked, --stalled, e.g. '1 MiB/s links + 200 idle'; none "
        "without them)",
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
