"""Benchmark documents with timelines, made up but consistent, in the results record's
schema (``timeline`` and ``server_events`` in each case's extra_info).

The made-up server serves its clients first come, first served, on ``workers`` workers,
each client taking ``service_s`` of a worker: with more clients than workers, the later
clients wait queued, which is what a reader must see in the timeline and the findings.
"""

from __future__ import annotations

import copy
from typing import Any

from fileproto.server.registry import KINDS

MIB = 1024 * 1024
WORKER_NAMES = {
    "thread": "thread:{n}",
    "process": "process:{pid}",
    "asyncio": "loop:{pid}",
    "perconn": "thread:{n}",
}


def _worker(kind: str, n: int) -> str:
    return WORKER_NAMES[kind].format(n=n, pid=4000 + n)


def simulated_case(
    kind: str,
    clients: int,
    workers: int,
    *,
    operation: str = "UPLOAD",
    size_mib: int = 10,
    service_s: float = 0.02,
    durations: list[float] | None = None,
    failures: int = 0,
    traced: bool = True,
    dispatch: str = "ready",
) -> dict[str, Any]:
    """One benchmark entry: the record, its timeline and (if ``traced``) server events."""
    free_at = [0.0] * workers
    requests, events = [], []
    ends = []
    for i in range(clients):
        connect = 0.001 * i
        port = 40000 + i
        accepted = connect + 0.0003
        conn = str(i + 1)
        slot = min(range(workers), key=lambda w: free_at[w])
        taken = max(accepted + 0.0001, free_at[slot])
        answered = taken + service_s
        free_at[slot] = answered
        failed = i < failures
        done = answered + 0.0002
        ends.append(done)
        requests.append(
            {
                "client": i,
                "op": operation,
                "port": port,
                "ok": not failed,
                "error": "reset: connection reset by peer" if failed else None,
                "connect": connect,
                "connected": connect + 0.0002,
                "sent": connect + 0.002 if operation == "DOWNLOAD" else taken + service_s * 0.9,
                "first_byte": answered if not failed else None,
                "done": done if not failed else None,
            }
        )
        worker = _worker(kind, slot + 1)
        events += [
            {"at": accepted, "conn": conn, "ev": "accepted", "worker": None,
             "peer": f"127.0.0.1:{port}"},
            {"at": taken, "conn": conn, "ev": "taken", "worker": worker},
            {"at": taken + 0.001, "conn": conn, "ev": "header", "cmd": operation, "worker": worker},
            # The worker waits on the client's bytes for a moment, mid-request; they
            # come (ready), and the connection waits for the worker again.
            {"at": taken + service_s * 0.4, "conn": conn, "ev": "given_back", "why": "read",
             "worker": worker},
            {"at": taken + service_s * 0.43, "conn": conn, "ev": "ready", "writing": False,
             "worker": None},
            {"at": taken + service_s * 0.45, "conn": conn, "ev": "taken", "worker": worker},
            {"at": answered, "conn": conn, "ev": "response", "cmd": operation, "status": "OK",
             "worker": worker},
            {"at": answered + 0.0003, "conn": conn, "ev": "closed", "reason": "client closed",
             "deadline": None, "worker": worker},
        ]  # fmt: skip
        if failed:
            # The failed clients' connections are closed without an answer.
            events[-2:] = [
                {"at": answered, "conn": conn, "ev": "closed", "reason": "reset",
                 "deadline": None, "worker": worker}
            ]  # fmt: skip
        # The later clients' work shifts the worker on by the time it gave back.
        free_at[slot] += service_s * 0.05
    wall = max(ends)
    ok_times = [r["done"] - r["connect"] for r in requests if r["ok"]]
    avg = sum(ok_times) / len(ok_times)
    probes = []
    for k in range(int(wall / 0.1) + 2):
        due = 0.1 * k
        # A stalled probe: sent late (the previous one still in flight), answered late.
        late = 0.05 if k == 1 else 0.0
        probes.append(
            {"due": due, "sent": due + late, "first_byte": due + late + 0.0008,
             "done": due + late + 0.001, "ok": True, "port": 50000 + k}
        )  # fmt: skip
    info: dict[str, Any] = {
        "operation": operation,
        "size_mib": size_mib,
        "size_bytes": size_mib * MIB,
        "client_workers": clients,
        "server_workers": workers,
        "server_kind": kind,
        "method": "thread",
        "dialect": "json",
        "avg_time_s": avg,
        "throughput_Bps": size_mib * MIB / avg,
        "aggregate_Bps": size_mib * MIB * (clients - failures) / wall,
        "wall_time_s": wall,
        "successes": clients - failures,
        "failures": failures,
        "verified": failures == 0,
        "first_error": "client 0: reset: connection reset by peer" if failures else None,
        "rounds": len(durations) if durations else 1,
        "dispatch": KINDS[kind].fixed_dispatch or dispatch if kind in KINDS else dispatch,
        "failure_kinds": {"reset": failures} if failures else {},
        "probe_s": {"count": len(probes), "p50": 0.001, "p90": 0.001, "p99": 0.051,
                    "max": 0.051},
        "probe_failures": 0,
        # From each probe's actual start: the late probe took 1 ms once sent.
        "probe_sent_s": {"count": len(probes), "p50": 0.001, "p90": 0.001, "p99": 0.001,
                         "max": 0.001},
        "timeline": {"clients": requests, "probes": probes, "bound": 10000, "dropped": 0},
    }  # fmt: skip
    if traced:
        info["server_events"] = events
        info["server_events_dropped"] = 0
    data = durations or [wall + 0.01]
    case_id = f"{kind}-{operation}-{size_mib}MiB-c{clients}-w{workers}"
    return {
        "group": None,
        "name": f"test_matrix[{case_id}]",
        "fullname": f"tests/test_matrix.py::test_matrix[{case_id}]",
        "params": None,
        "param": case_id,
        "extra_info": info,
        "options": {},
        "stats": {"rounds": len(data), "data": data, "mean": sum(data) / len(data)},
    }


def simulated_run(
    *,
    kinds: tuple[str, ...] = ("thread", "process", "asyncio"),
    clients: tuple[int, ...] = (1, 50),
    workers: tuple[int, ...] = (1, 5),
    traced: bool = True,
    operations: tuple[str, ...] = ("UPLOAD",),
    sizes: tuple[int, ...] = (10,),
) -> dict[str, Any]:
    """A whole benchmark document: every kind x operation x size x clients x workers
    (by default UPLOAD 10 MiB only)."""
    benchmarks = [
        simulated_case(kind, c, w, traced=traced, operation=op, size_mib=size)
        for kind in kinds
        for op in operations
        for size in sizes
        for c in clients
        for w in workers
    ]
    return {
        "machine_info": {"node": "testbox", "system": "Linux", "release": "6.1",
                         "python_version": "3.11.7", "cpu": {"count": 2, "brand_raw": "Test CPU"}},
        "commit_info": {"id": "0123456789abcdef", "branch": "main", "dirty": False},
        "benchmarks": benchmarks,
        "datetime": "2026-12-03T09:00:00+00:00",
        "version": "5.1.0",
    }  # fmt: skip


def without_ready(document: dict[str, Any]) -> dict[str, Any]:
    """The run as a server from before the ``ready`` event would have traced it."""
    out = copy.deepcopy(document)
    for bench in out["benchmarks"]:
        info = bench["extra_info"]
        info["server_events"] = [e for e in info.get("server_events", []) if e["ev"] != "ready"]
    return out


def refuse(bench: dict[str, Any], clients: list[int], pid: int = 4000) -> dict[str, Any]:
    """The entry with ``clients`` refused at the connection cap: never accepted, each
    refusal with its own conn id ("refused-PID-N", docs/trace.md), the client failed
    with the server's busy answer."""
    out = copy.deepcopy(bench)
    info = out["extra_info"]
    requests = {r["client"]: r for r in info["timeline"]["clients"]}
    ports = {requests[c]["port"] for c in clients}
    conns = {e["conn"] for e in info["server_events"]
             if e["ev"] == "accepted" and int(e["peer"].rpartition(":")[2]) in ports}  # fmt: skip
    events = [e for e in info["server_events"] if e["conn"] not in conns]
    for n, client in enumerate(clients):
        request = requests[client]
        refused = request["connect"] + 0.0003
        events.append(
            {"at": refused, "conn": f"refused-{pid}-{n}", "ev": "refused", "worker": None,
             "peer": f"127.0.0.1:{request['port']}", "reason": "busy: too many connections"}
        )  # fmt: skip
        request.update(ok=False, error="busy: server busy", sent=refused + 0.0001,
                       first_byte=refused + 0.0002, done=refused + 0.0003)  # fmt: skip
    info["server_events"] = sorted(events, key=lambda e: e["at"])
    info["successes"] -= len(clients)
    info["failures"] += len(clients)
    return out


def without_timelines(document: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    for bench in out["benchmarks"]:
        for key in ("timeline", "server_events", "server_events_dropped"):
            bench["extra_info"].pop(key, None)
    return out


#: Five rounds within +/-2% of a case's time: tight enough for every verdict to be
#: decided against a 10% margin.
TIGHT = (0.98, 0.99, 1.0, 1.01, 1.02)


def with_rounds(document: dict[str, Any], spread: tuple[float, ...] = TIGHT) -> dict[str, Any]:
    """Each case's rounds (``round_times_s``): its time per client times each factor."""
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        info["round_times_s"] = [info["avg_time_s"] * f for f in spread]
        info["rounds"] = len(spread)
    return document
