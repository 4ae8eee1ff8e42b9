"""``fileproto stress``: what to run, as typed options (the command line converts its
arguments into these; the library never sees an ``argparse.Namespace``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fileproto.results.felt import Waiting
from fileproto.stress.load import Surroundings
from fileproto.stress.spec import OPERATIONS, Operation
from fileproto.units import MIB
from fileproto.wire.events import Dialect

#: The stalled readers' file, unless asked otherwise.
DEFAULT_STALLED_SIZE = 20 * MIB


class PlanError(ValueError):
    """Options that do not make a run; the message names them."""


@dataclass(frozen=True)
class StressOptions:
    """How one ``fileproto stress`` run loads one server."""

    host: str
    port: int
    dialect: Dialect = "json"
    rounds: int = 1
    #: Seconds a client may wait on the network at once.
    timeout: float = 300.0
    #: Each client's link rate in bytes/s (None: as fast as it goes).
    rate: float | None = None
    #: Seconds after the go when clients still running are stopped.
    deadline: float | None = None
    probe: bool = True
    #: The connections that wait beside the clients.
    waiting: Waiting = field(default_factory=Waiting)
    #: The size of the file stalled readers GET (uploaded before the run, deleted after).
    stalled_size: int = DEFAULT_STALLED_SIZE
    #: A local test file instead of random ones.
    file: Path | None = None
    #: The test file's name on the server (DOWNLOAD) or the uploads' stem (UPLOAD).
    remote_name: str | None = None
    #: DOWNLOAD: the server already holds ``file`` as ``remote_name``.
    no_upload: bool = False
    #: Leave what the run stored on the server.
    keep: bool = False
    #: The slow-client scenario's name (None: made from the options, see scenario_of).
    scenario: str | None = None

    @property
    def address_text(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def surroundings(self, stalled_name: str | None = None) -> Surroundings:
        return Surroundings(self.probe, self.waiting, stalled_name)


@dataclass(frozen=True)
class LoadRequest:
    """Which loads were asked for: one, or with ``matrix`` a grid."""

    operation: Operation | None = None
    sizes_mib: list[float] | None = None
    clients: list[int] | None = None
    matrix: bool = False


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
    request: LoadRequest,
    options: StressOptions,
    file_size: int | None,
    sizes_mib: tuple[int, ...],
    client_workers: tuple[int, ...],
) -> list[PlannedLoad]:
    """The loads to run, in the matrix's order (operation, size, clients); with
    ``matrix``, ``sizes_mib`` and ``client_workers`` are the defaults of the grid.
    Raises PlanError for options that do not go together."""
    if request.matrix:
        if options.file is not None:
            raise PlanError("--matrix makes its own test files; it cannot use --file")
        operations = [request.operation] if request.operation else list(OPERATIONS)
        sizes = request.sizes_mib or list(sizes_mib)
        clients = request.clients or list(client_workers)
    else:
        if request.operation is None:
            raise PlanError("--operation is required (or --matrix)")
        if request.clients is None:
            raise PlanError("--clients/--worker is required (or --matrix)")
        if len(request.clients) > 1 or (request.sizes_mib and len(request.sizes_mib) > 1):
            raise PlanError("lists of sizes or client counts need --matrix")
        if request.sizes_mib is None and file_size is None:
            raise PlanError("--size-mib/--volume is required (or --file)")
        operations, clients = [request.operation], request.clients
        sizes = request.sizes_mib or [(file_size or 0) / MIB]
    given = request.sizes_mib
    if file_size is not None and given and round(given[0] * MIB) != file_size:
        raise PlanError(
            f"--size-mib {given[0]:g} does not match --file "
            f"({file_size} bytes = {file_size / MIB:g} MiB); give one of them"
        )
    if options.no_upload and (options.file is None or options.remote_name is None):
        raise PlanError("--no-upload needs --file (to verify against) and --remote-name")
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


def scenario_of(options: StressOptions) -> str | None:
    """The slow-client scenario's name: the one given, or one made from the options that
    make clients wait (e.g. "1 MiB/s links + 200 idle"); None for a classic run."""
    if options.scenario:
        return options.scenario
    parts = [f"{rate_text(options.rate)} links"] if options.rate else []
    if options.waiting.opened:
        parts.append(options.waiting.describe())
    return " + ".join(parts) or None
