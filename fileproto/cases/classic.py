"""The stress matrix, and which of its cases form the smoke tier.

Server kind x server workers x operation x file size x client workers. The classic
exercise is the 108 cases over ``fileproto.server.registry.CLASSIC_KINDS``; any other kind in
the registry adds 54 more when asked for (``--fileproto-kinds``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from fileproto.results import EXTERNAL
from fileproto.results.record import case_id
from fileproto.server.registry import CLASSIC_KINDS, KINDS
from fileproto.stress import OPERATIONS, Operation

SIZES_MIB = (10, 50, 100)
CLIENT_WORKERS = (1, 5, 50)
SERVER_WORKERS = (1, 5, 50)

SMOKE_SIZES_MIB = (10,)
SMOKE_CLIENT_WORKERS = (1, 5)
SMOKE_SERVER_WORKERS = (1, 5)


@dataclass(frozen=True)
class MatrixCase:
    """One cell of the matrix: a server (kind, workers) and a load (operation, size,
    client workers)."""

    kind: str
    operation: Operation
    size_mib: int
    clients: int
    server_workers: int

    @property
    def id(self) -> str:
        """e.g. thread-UPLOAD-10MiB-c5-w1; external-UPLOAD-10MiB-c5 for a server whose
        workers are not ours to name."""
        workers = None if self.kind == EXTERNAL else self.server_workers
        return case_id(self.kind, self.operation, self.size_mib, self.clients, workers)

    @property
    def smoke(self) -> bool:
        return (
            self.size_mib in SMOKE_SIZES_MIB
            and self.clients in SMOKE_CLIENT_WORKERS
            and self.server_workers in SMOKE_SERVER_WORKERS
        )


def worker_counts(kind: str) -> tuple[int, ...]:
    """The server-worker counts the matrix runs a kind with: one for a kind that no
    ``--workers`` sizes (its other counts would measure the same server)."""
    known = KINDS.get(kind)
    return SERVER_WORKERS if known is None or known.sized else SERVER_WORKERS[:1]


def matrix_cases(kinds: Iterable[str] = CLASSIC_KINDS) -> list[MatrixCase]:
    """Kind by kind; the plugin runs them load by load (fileproto.pytest.refine)."""
    return [
        MatrixCase(kind, op, size, clients, workers)
        for kind in kinds
        for workers, op, size, clients in itertools.product(
            worker_counts(kind), OPERATIONS, SIZES_MIB, CLIENT_WORKERS
        )
    ]
