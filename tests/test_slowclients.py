"""Clients that wait: the slow-client matrix, and the wiring under it.

``pytest -m slowclients`` runs the matrix of :mod:`fileproto.cases.slowclients`: server kind x
dispatch x server workers x scenario, each case a pytest-benchmark benchmark whose
extra_info carries what clients felt. Failed clients are the result there (a 1-worker
server cannot serve 20 slow links within the deadline), not a test failure. The smoke
tests below check the same wiring with small numbers.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fileproto import report
from fileproto.argtypes import rate
from fileproto.cases.slowclients import SCENARIOS, Scenario, SlowCase, slow_cases
from fileproto.cli import main
from fileproto.pytest.servers import ServerPool
from fileproto.results.felt import Waiting
from fileproto.units import MIB
from tests.helpers import skip_if_target
from tests.helpers.inner import RunPytest

ROOT = Path(__file__).resolve().parent.parent


def test_slowclients(
    fileproto_slow_case: SlowCase,
    fileproto_run_slow_case: Callable[[SlowCase], dict[str, Any]],
) -> None:
    info = fileproto_run_slow_case(fileproto_slow_case)
    # The runner failed the test if a completed transfer did not verify or the server
    # died; what is left is that the case's figures add up.
    assert info["successes"] + info["failures"] == fileproto_slow_case.scenario.clients
    assert info["scenario"] == fileproto_slow_case.scenario.name


# -- the wiring, with small numbers (smoke) ------------------------------------------------


KEYS = (
    "dispatch", "scenario", "rate_Bps", "moved_bytes", "moved_Bps", "offered_Bps",
    "ratio_to_offered", "failure_kinds", "ttfb_s", "request_s", "probe_s", "probe_failures",
    "background",
)  # fmt: skip


def _stress(*args: str) -> list[str]:
    return [sys.executable, "-m", "fileproto", "stress", *args]


def _run(argv: list[str], tmp: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture
def private_tmp() -> Iterator[Path]:
    # Short: the forkserver's Unix socket lives there (107 bytes at most).
    folder = Path(tempfile.mkdtemp(prefix="fp-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _ordered(figures: dict[str, Any]) -> bool:
    return 0 <= figures["p50"] <= figures["p90"] <= figures["p99"] <= figures["max"]


@pytest.mark.smoke
def test_stress_with_rate_and_background_connections(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start("thread", 2)
    out = tmp_path / "slow.json"
    run = _run(
        _stress(
            "--server", server.address, "--matrix", "--volume", "1", "--clients", "3",
            "--rounds", "2", "--rate", "4M", "--idle", "10", "--slowloris", "3",
            "--parked", "2", "--server-kind", "thread", "--server-workers", "2",
            "--server-dispatch", "ready", "--method", "process", "--json", str(out),
        ),
        private_tmp,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    felt = run.stdout.split("what clients felt:", 1)[1]
    for line in ("time to first byte", "request total", "LIST probe", "background", "links"):
        assert felt.count(line) == 2, (line, felt)  # UPLOAD and DOWNLOAD
    assert "10 idle, 3 slowloris, 2 parked held open" in felt

    document = report.load_document(out)
    assert [b["extra_info"]["operation"] for b in document["benchmarks"]] == [
        "UPLOAD",
        "DOWNLOAD",
    ]
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        assert all(key in info for key in KEYS), sorted(set(KEYS) - set(info))
        assert (info["successes"], info["failures"], info["verified"]) == (6, 0, True)
        assert info["dispatch"] == "ready" and info["method"] == "process"
        assert info["scenario"] == "4 MiB/s links + 10 idle + 3 slowloris + 2 parked"
        assert info["rate_Bps"] == 4 * MIB and info["offered_Bps"] == 3 * 4 * MIB
        assert info["moved_bytes"] == 6 * MIB  # 2 rounds x 3 clients x 1 MiB
        assert info["ratio_to_offered"] == pytest.approx(info["moved_Bps"] / (12 * MIB))
        assert info["failure_kinds"] == {}
        # Every request of both rounds has its timing (from the client processes); the
        # first byte comes first.
        assert info["ttfb_s"]["count"] == info["request_s"]["count"] == 6
        for key in ("ttfb_s", "request_s", "probe_s"):
            assert _ordered(info[key]), (key, info[key])
        assert info["ttfb_s"]["max"] <= info["request_s"]["max"]
        assert info["probe_s"]["count"] >= 2 and info["probe_failures"] >= 0
        background = info["background"]
        assert (background["idle"], background["slowloris"], background["parked"]) == (10, 3, 2)
        assert background["connect_failures"] == 0

    # `fileproto report` puts these cases in the slow-client table, not the classic one.
    shown = _run([sys.executable, "-m", "fileproto", "report", str(out)], private_tmp)
    assert shown.returncode == 0, shown.stderr
    # The slow-client table only: no classic section (findings may name the model).
    assert "slow clients\n============" in shown.stdout
    assert "thread pool\n===========" not in shown.stdout
    rows = [line for line in shown.stdout.splitlines() if re.match(r"\s*\d+\s+thread\s", line)]
    assert len(rows) == 2 and all(" ready " in row and "4 MiB/s links" in row for row in rows)
    csv_path, png = tmp_path / "r.csv", tmp_path / "r.png"
    written = _run(
        [sys.executable, "-m", "fileproto", "report", str(out), "--csv", str(csv_path),
         "--png", str(png), "--md", str(tmp_path / "r.md")],
        private_tmp,
    )  # fmt: skip
    assert written.returncode == 0, written.stderr
    assert not csv_path.exists() and not png.exists()  # no classic cases in this run
    slow_csv = list(csv.DictReader((tmp_path / "r-slowclients.csv").open(encoding="utf-8")))
    assert [row["operation"] for row in slow_csv] == ["UPLOAD", "DOWNLOAD"]
    assert (tmp_path / "r-slowclients.png").read_bytes().startswith(b"\x89PNG")
    assert "### slow clients" in (tmp_path / "r.md").read_text(encoding="utf-8")
    assert list(private_tmp.iterdir()) == []
    assert server.root is not None and list(server.root.iterdir()) == []


@pytest.mark.smoke
def test_stress_deadline_stops_clients_and_counts_what_they_moved(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    """One classic worker, three uploads of 2 MiB at 1 MiB/s (2.7 s each on the wire):
    none is done one second in, and each is stopped then."""
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start("thread", 1, "--dispatch", "accept")
    out = tmp_path / "deadline.json"
    run = _run(
        _stress(
            "--server", server.address, "--operation", "upload", "--volume", "2",
            "--clients", "3", "--rate", "1MiB/s", "--deadline", "1", "--no-probe",
            "--json", str(out),
        ),
        private_tmp,
    )  # fmt: skip
    assert run.returncode == 1, run.stdout + run.stderr
    assert re.search(r"^fileproto stress:   deadline \(x3\): ", run.stderr, re.MULTILINE)
    assert "3 clients still running then, stopped" in run.stdout
    info = report.load_document(out)["benchmarks"][0]["extra_info"]
    assert (info["successes"], info["failures"]) == (0, 3)
    assert info["failure_kinds"] == {"deadline": 3} and info["deadline_s"] == 1
    assert "probe_s" not in info  # --no-probe
    assert "ttfb_s" not in info  # no request was answered
    assert 0 < info["moved_bytes"] < 3 * 2 * MIB  # the bytes the server got still count
    assert info["aggregate_Bps"] == 0  # completed transfers only, as ever


@pytest.mark.smoke
def test_stress_with_stalled_readers(
    fileproto_servers: ServerPool, tmp_path: Path, private_tmp: Path
) -> None:
    """Two connections GET a 16 MiB file (more than the server's socket buffers hold) and
    read nothing, beside two slow uploads: the felt block and the JSON say what the
    server did to them (closed, after its send deadline), and the file they asked for is
    gone from the server afterwards."""
    skip_if_target(fileproto_servers)
    server = fileproto_servers.start("asyncio", 1, "--send-timeout", "0.5")
    out = tmp_path / "stalled.json"
    run = _run(
        _stress(
            "--server", server.address, "--operation", "upload", "--volume", "1",
            "--clients", "2", "--rate", "512K", "--stalled", "2", "--stalled-size-mib", "16",
            "--server-kind", "asyncio", "--no-probe", "--json", str(out),
        ),
        private_tmp,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    felt = run.stdout.split("what clients felt:", 1)[1]
    assert re.search(r"2 stalled held open; closed by the server: stalled \d+ \(after ", felt)
    info = report.load_document(out)["benchmarks"][0]["extra_info"]
    assert (info["successes"], info["failures"], info["verified"]) == (2, 0, True)
    assert info["scenario"] == "512 KiB/s links + 2 stalled"
    background = info["background"]
    assert background["stalled"] == 2 and background["connect_failures"] == 0
    # 1.3 s of upload each at 512 KiB/s: every stalled reader is given up on within it,
    # and never before the server's send deadline.
    assert background["closed_by_server"]["stalled"] >= 2
    assert background["closed_after_s"]["stalled"]["p50"] >= 0.5
    assert server.root is not None and list(server.root.iterdir()) == []
    assert list(private_tmp.iterdir()) == []


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--rate", "0"], "at least 1 byte per second"),
        (["--rate", "fast"], "not a rate: 'fast'"),
        (["--idle", "-1"], "cannot be negative"),
        (["--slowloris", "x"], "not a whole number"),
        (["--stalled", "-2"], "cannot be negative"),
        (["--stalled", "1", "--stalled-size-mib", "0"], "more than 0 MiB"),
        (["--deadline", "0"], "more than 0 seconds"),
        (["--server-dispatch", "eventually"], "invalid choice"),
    ],
)
def test_usage_errors(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["stress", "--operation", "UPLOAD", "--volume", "1", "--clients", "1", *argv])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.smoke
@pytest.mark.parametrize(
    ("text", "value"),
    [("1M", MIB), ("1MiB/s", MIB), ("256k", 256 << 10), ("1.5M", 1.5 * MIB), ("100000", 1e5)],
)
def test_rate_sizes(text: str, value: float) -> None:
    assert rate(text) == value


@pytest.mark.smoke
def test_help_explains_the_slow_client_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["stress", "--help"])
    text = capsys.readouterr().out
    for flag in ("--rate", "--idle", "--slowloris", "--parked", "--stalled",
                 "--stalled-size-mib", "--deadline", "--no-probe", "--scenario",
                 "--server-dispatch"):  # fmt: skip
        assert re.search(rf"^\s+{re.escape(flag)}\b", text, re.MULTILINE), flag
    assert "what clients felt" in text.lower()


EXPECTED_IDS = [
    f"{kind}-{dispatch}-w{workers}-{scenario}"
    for kind in ("thread", "process")
    for dispatch in ("accept", "ready")
    for workers in (1, 5)
    for scenario in ("idle", "slow-links", "stalled")
]


@pytest.mark.smoke
def test_slowclients_matrix_ids() -> None:
    assert [case.id for case in slow_cases()] == EXPECTED_IDS
    with_loops = [case.id for case in slow_cases(("thread", "process", "asyncio"))]
    assert with_loops == [
        *EXPECTED_IDS,
        *(f"asyncio-loop-w{w}-{s}" for w in (1, 5) for s in ("idle", "slow-links", "stalled")),
    ]
    idle, links, stalled = SCENARIOS
    assert (idle.clients, idle.waiting, idle.size_mib, idle.rate) == (
        5, Waiting(idle=200, slowloris=20), 10, None
    )  # fmt: skip
    assert (links.clients, links.rate, links.size_mib, links.waiting) == (20, MIB, 10, Waiting())
    assert (stalled.clients, stalled.waiting, stalled.stalled_size_mib) == (
        5, Waiting(stalled=20), 20
    )  # fmt: skip
    # Short: the server gives up on a stalled reader within the case's deadline.
    assert stalled.server_args == ("--send-timeout", "3") and stalled.deadline == 8
    case = SlowCase("process", "accept", 1, stalled)
    assert case.server_args == ("--dispatch", "accept", "--send-timeout", "3")
    assert SlowCase("asyncio", "loop", 1, stalled).server_args == ("--send-timeout", "3")


@pytest.mark.smoke
def test_slowclients_collects_apart_from_full(run_pytest: RunPytest) -> None:
    run = run_pytest(
        "-m", "slowclients", "--collect-only", "-q", "tests/test_slowclients.py",
        "tests/test_matrix.py",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    ids = [line.split("::")[1] for line in run.stdout.splitlines() if "::" in line]
    assert ids == [f"test_slowclients[{case}]" for case in EXPECTED_IDS]


@pytest.mark.smoke
def test_a_small_slow_client_case_end_to_end(
    fileproto_servers: ServerPool,
    fileproto_run_slow_case: Callable[[SlowCase], dict[str, Any]],
) -> None:
    """The plugin's runner on a tiny scenario: a fresh server with its dispatch and the
    scenario's options, the background connections (stalled readers too: their file
    stored before the case and removed after), the probe, the rate, the record."""
    skip_if_target(fileproto_servers)
    tiny = Scenario(
        "tiny", "3 clients at 4 MiB/s beside waiting connections", clients=3, size_mib=0.5,
        rate=4.0 * MIB, waiting=Waiting(idle=5, slowloris=2, parked=1, stalled=2),
        stalled_size_mib=16, deadline=20, server_args=("--send-timeout", "0.5"),
    )  # fmt: skip
    before = set(fileproto_servers.base.iterdir())
    info = fileproto_run_slow_case(SlowCase("thread", "ready", 1, tiny))
    # The case's own fresh server: nothing of the case left in its root.
    roots = [p for p in set(fileproto_servers.base.iterdir()) - before if p.is_dir()]
    assert len(roots) == 1 and list(roots[0].iterdir()) == []
    assert (info["successes"], info["failures"], info["verified"]) == (3, 0, True)
    assert (info["server_kind"], info["dispatch"], info["server_workers"]) == ("thread", "ready", 1)
    assert info["scenario"] == "tiny" and info["deadline_s"] == 20
    assert info["ttfb_s"]["count"] == 3 and _ordered(info["ttfb_s"])
    assert info["probe_s"]["count"] >= 1 and _ordered(info["probe_s"])
    background = info["background"]
    assert (background["idle"], background["stalled"], background["connect_failures"]) == (5, 2, 0)
    assert info["server_peak_rss_bytes"] > 0


LOCUST_RATE_SCRIPT = """
from fileproto.locust import FileprotoClient
with FileprotoClient("127.0.0.1:9", None, rate=1 << 20) as client:
    bucket = client.raw._bucket
    print(bucket is not None and bucket.rate == 1 << 20)
"""


@pytest.mark.smoke
def test_locust_user_rate_reaches_the_client() -> None:
    # Importing locust monkey-patches the process with gevent: never in the test
    # process itself (tests/test_locust.py runs everything that imports it in a child).
    if importlib.util.find_spec("locust") is None:
        pytest.skip("locust is not installed (pip install 'fileproto[locust]')")
    result = subprocess.run(
        [sys.executable, "-c", LOCUST_RATE_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True", result.stdout + result.stderr
