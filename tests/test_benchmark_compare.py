"""pytest-benchmark's save-and-compare workflow works on matrix cases, extras intact."""

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from fileproto.server.registry import CLASSIC_KINDS

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parent.parent
OLD_RUN = ROOT / "tests" / "data" / "old-full-run.json"
CASE = "thread-UPLOAD-10MiB-c1-w1"


RunPytest = Callable[..., subprocess.CompletedProcess[str]]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """This interpreter with ``args`` (pytest-benchmark's own command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_two_saved_runs_compare_with_extra_info(tmp_path: Path, run_pytest: RunPytest) -> None:
    storage = tmp_path / "benchmarks"
    for _ in range(2):
        run = run_pytest(
            str(ROOT / "tests" / "test_matrix.py"),
            "-k",
            CASE,
            "--benchmark-autosave",
            f"--benchmark-storage=file://{storage}",
            "-q",
        )
        assert run.returncode == 0, run.stdout + run.stderr
    saved = sorted(storage.rglob("*.json"))
    assert len(saved) == 2, saved

    for path in saved:
        bench = json.loads(path.read_text())["benchmarks"]
        assert [b["name"] for b in bench] == [f"test_matrix[{CASE}]"]
        info = bench[0]["extra_info"]
        assert info["operation"] == "UPLOAD" and info["client_workers"] == 1
        assert info["successes"] == 1 and info["failures"] == 0 and info["verified"] is True
        assert info["aggregate_Bps"] > 0 and info["limit_Bps"] > 0

    compare = _run(
        # The `pytest-benchmark` console script, run with this interpreter.
        "-c",
        "import sys; from pytest_benchmark.cli import main; sys.exit(main())",
        "--storage",
        f"file://{storage}",
        "compare",
        "--columns",
        "min,max,mean",
        cwd=tmp_path,
    )
    assert compare.returncode == 0, compare.stdout + compare.stderr
    for path in saved:
        run_id = path.stem.split("_")[0]  # e.g. 0001
        assert run_id in compare.stdout, compare.stdout
    assert compare.stdout.count(f"test_matrix[{CASE}]") == 2, compare.stdout


def test_xdist_run_writes_the_benchmark_json(tmp_path: Path, run_pytest: RunPytest) -> None:
    """pytest-benchmark is off under pytest-xdist; the plugin writes the file from the
    workers' results, marked parallel, and `compare` reads it beside a serial run. No
    rounds are added (--fileproto-budget 0): each case has the three it asked for."""
    pytest.importorskip("xdist")
    out = tmp_path / "parallel.json"
    run = run_pytest(
        "-n", "2", "-m", "smoke", str(ROOT / "tests" / "test_matrix.py"), "-k", "c1-w1",
        "--fileproto-rounds", "3", "--fileproto-budget", "0", f"--benchmark-json={out}", "-q",
        xdist=True,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert "wrote the benchmark JSON of this pytest-xdist run (4 benchmark(s)" in run.stdout
    document = json.loads(out.read_text())
    assert document["machine_info"]["parallel"]["runner"] == "pytest-xdist"
    assert document["fileproto_limit"][0]["reference"] == "limit"
    bench = {b["name"]: b for b in document["benchmarks"]}
    assert sorted(bench) == sorted(
        f"test_matrix[{k}-{op}-10MiB-c1-w1]" for k in CLASSIC_KINDS
        for op in ("UPLOAD", "DOWNLOAD")
    )  # fmt: skip
    for b in bench.values():
        assert b["fullname"] == f"tests/test_matrix.py::{b['name']}"
        assert b["stats"]["rounds"] == 3 == b["extra_info"]["rounds"]
        assert b["extra_info"]["verified"] is True

    # An older serial run (before the newer keys) and this one, side by side.
    compare = _run(
        "-c", "import sys; from pytest_benchmark.cli import main; sys.exit(main())",
        "compare", str(out), str(OLD_RUN), "--columns", "min,mean",
        cwd=tmp_path,
    )  # fmt: skip
    assert compare.returncode == 0, compare.stdout + compare.stderr
    assert compare.stdout.count("test_matrix[thread-UPLOAD-10MiB-c1-w1]") == 2, compare.stdout


def test_saving_under_xdist_is_refused(tmp_path: Path, run_pytest: RunPytest) -> None:
    pytest.importorskip("xdist")
    run = run_pytest(
        "-n", "2", "--benchmark-autosave", f"--benchmark-storage=file://{tmp_path}",
        str(ROOT / "tests" / "test_matrix.py"), xdist=True,
    )  # fmt: skip
    assert run.returncode == 4, run.stdout + run.stderr
    assert "--benchmark-autosave saves nothing under pytest-xdist" in run.stderr
