"""pytest-benchmark's save-and-compare workflow works on matrix cases, extras intact."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parent.parent
CASE = "thread-UPLOAD-10MiB-c1-w1"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )


def test_two_saved_runs_compare_with_extra_info(tmp_path: Path) -> None:
    storage = tmp_path / "benchmarks"
    for _ in range(2):
        run = _run(
            "-m", "pytest", "-p", "no:xdist", str(ROOT / "tests" / "test_matrix.py"),
            "-k", CASE, "--benchmark-autosave", f"--benchmark-storage=file://{storage}",
            "-q", cwd=ROOT,
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
        "-c", "import sys; from pytest_benchmark.cli import main; sys.exit(main())",
        "--storage", f"file://{storage}", "compare",
        "--columns", "min,max,mean", cwd=tmp_path,
    )
    assert compare.returncode == 0, compare.stdout + compare.stderr
    for path in saved:
        run_id = path.stem.split("_")[0]  # e.g. 0001
        assert run_id in compare.stdout, compare.stdout
    assert compare.stdout.count(f"test_matrix[{CASE}]") == 2, compare.stdout
