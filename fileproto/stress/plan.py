"""``fileproto stress``: what to run, from the command line's arguments."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from fileproto.argtypes import positive_int
from fileproto.client import parse_address
from fileproto.load.testfiles import MIB
from fileproto.results import EXTERNAL
from fileproto.stress.load import Surroundings
from fileproto.stress.spec import OPERATIONS, Operation

# -- argument types -----------------------------------------------------------------------


def positive_mib(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size in MiB: {text!r}") from None
    if not value > 0 or value * MIB < 1:
        raise argparse.ArgumentTypeError(f"a size must be more than 0 MiB, got {text}")
    return value


def operation(text: str) -> Operation:
    upper = text.strip().upper()
    for known in OPERATIONS:
        if upper == known:
            return known
    raise argparse.ArgumentTypeError(
        f"unknown operation {text!r}; choose from {', '.join(OPERATIONS)} (any case)"
    )


def address(text: str) -> tuple[str, int]:
    try:
        return parse_address(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def server_workers(text: str) -> int | str:
    return EXTERNAL if text == EXTERNAL else positive_int(text)


# -- the plan -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedLoad:
    """One load of the run: every client does ``operation`` once on a file of ``size``."""

    operation: Operation
    size: int  # bytes
    clients: int

    @property
    def size_mib_text(self) -> str:
        return f"{self.size / MIB:g}"

    def describe(self) -> str:
        return f"{self.operation} {self.size_mib_text} MiB x {self.clients} client(s)"


def plan(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    file_size: int | None,
    sizes_mib: tuple[int, ...],
    client_workers: tuple[int, ...],
) -> list[PlannedLoad]:
    """The loads to run, in the matrix's order (operation, size, clients); with
    ``--matrix``, ``sizes_mib`` and ``client_workers`` are the defaults of the grid."""
    if args.matrix:
        if args.file is not None:
            parser.error("--matrix makes its own test files; it cannot use --file")
        operations = [args.operation] if args.operation else list(OPERATIONS)
        sizes = args.size_mib or list(sizes_mib)
        clients = args.clients or list(client_workers)
    else:
        if args.operation is None:
            parser.error("--operation is required (or --matrix)")
        if args.clients is None:
            parser.error("--clients/--worker is required (or --matrix)")
        if len(args.clients) > 1 or (args.size_mib and len(args.size_mib) > 1):
            parser.error("lists of sizes or client counts need --matrix")
        if args.size_mib is None and file_size is None:
            parser.error("--size-mib/--volume is required (or --file)")
        operations, clients = [args.operation], args.clients
        sizes = args.size_mib or [(file_size or 0) / MIB]
    if file_size is not None and args.size_mib and round(args.size_mib[0] * MIB) != file_size:
        parser.error(
            f"--size-mib {args.size_mib[0]:g} does not match --file "
            f"({file_size} bytes = {file_size / MIB:g} MiB); give one of them"
        )
    if args.no_upload and (args.file is None or args.remote_name is None):
        parser.error("--no-upload needs --file (to verify against) and --remote-name")
    return [
        PlannedLoad(op, round(size * MIB), n)
        for op in operations
        for size in sizes
        for n in clients
    ]


def rate_text(rate: float) -> str:
    """1048576 -> "1 MiB/s", 262144 -> "256 KiB/s", 1000 -> "1000 B/s"."""
    for unit, size in (("GiB", 1 << 30), ("MiB", MIB), ("KiB", 1 << 10)):
        if rate >= size:
            return f"{rate / size:.4g} {unit}/s"
    return f"{rate:g} B/s"


def surroundings_of(args: argparse.Namespace) -> Surroundings:
    return Surroundings(
        probe=not args.no_probe, idle=args.idle, slowloris=args.slowloris, parked=args.parked
    )


def scenario_of(args: argparse.Namespace) -> str | None:
    """The slow-client scenario's name: --scenario, or one made from the options that
    make clients wait; None for a classic run."""
    if args.scenario:
        return str(args.scenario)
    parts = [f"{rate_text(args.rate)} links"] if args.rate else []
    parts += [
        f"{count} {role}"
        for role in ("idle", "slowloris", "parked")
        if (count := getattr(args, role))
    ]
    return " + ".join(parts) or None
