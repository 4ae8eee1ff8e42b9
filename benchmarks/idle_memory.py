"""What an idle connection costs a server: memory growth of its whole process tree per
connection that has sent nothing (docs/architecture.md, "The server session and the
dispatch modes").

Starts a server of each kind asked for (1 worker by default), answers one LIST on a new
connection (imports and buffers warmed up), sums the resident memory of the server and
every process under it, opens N connections that send nothing, answers one more LIST
(the backlog is first in, first out: once that connection is answered every idle one
before it was accepted), waits for the figures to settle and sums again::

    .venv/bin/python benchmarks/idle_memory.py --kinds thread process asyncio

A measurement, never asserted in a test: memory figures do not depend on how busy the
machine is, but the allocator's pages do move a little between runs (run it twice).
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

from fileproto.client import Client
from fileproto.procinfo import process_tree, raise_open_files_limit, rss
from fileproto.pytest.process import ServerProcess
from fileproto.server.registry import kind_names

#: Seconds the memory figures are given to settle after the last connection.
SETTLE = 2.0


def tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, in bytes."""
    return sum(rss(p) for p in process_tree(pid))


def answered(server: ServerProcess) -> None:
    with Client(server.host, server.port, timeout=60.0) as client:
        client.list()


def measure(kind: str, workers: int, connections: int, extra: list[str]) -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="fileproto-idle-") as root:
        args = ["--max-connections", str(connections + 100), *extra]
        with ServerProcess(kind, workers, Path(root) / "files", extra_args=args) as server:
            answered(server)
            time.sleep(SETTLE)
            before = tree_rss(server.pid)
            held: list[socket.socket] = []
            try:
                for _ in range(connections):
                    held.append(socket.create_connection((server.host, server.port), 10.0))
                answered(server)
                time.sleep(SETTLE)
                after = tree_rss(server.pid)
                processes = len(process_tree(server.pid))
            finally:
                for sock in held:
                    sock.close()
    return {
        "kind": kind,
        "workers": workers,
        "args": extra,
        "connections": connections,
        "processes": processes,
        "before_bytes": before,
        "after_bytes": after,
        "bytes_per_connection": round((after - before) / connections),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kinds",
        nargs="+",
        default=["thread", "process", "asyncio"],
        choices=kind_names(),
        help="server kinds (default: %(default)s)",
    )
    parser.add_argument("--workers", type=int, default=1, help="(default: %(default)s)")
    parser.add_argument("--connections", type=int, default=10_000, help="(default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write the figures to FILE")
    parser.add_argument("server_args", nargs="*", help="further `fileproto serve` arguments")
    args = parser.parse_args(argv)
    limit = raise_open_files_limit()
    if args.connections + 100 > limit:
        parser.error(f"{args.connections} connections need more than the open-files limit {limit}")
    rows = []
    for kind in args.kinds:
        row = measure(kind, args.workers, args.connections, args.server_args)
        rows.append(row)
        print(
            f"{kind:8} {args.workers} worker(s), {row['processes']} process(es): "
            f"{row['before_bytes'] / 2**20:.1f} -> {row['after_bytes'] / 2**20:.1f} MiB, "
            f"{row['bytes_per_connection']:,} B per idle connection",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
