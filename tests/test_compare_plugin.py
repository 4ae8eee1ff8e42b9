"""``pytest --fileproto-compare OLD.json``: a real matrix case, run in an inner session,
compared with a hand-made earlier run at the end of the session; the gate
``--fileproto-compare-fail`` fails the session, also under pytest-xdist."""

from __future__ import annotations

import os

import pytest

from fileproto.results import LoadResult
from fileproto.results.document import BenchmarkEntry, benchmark_document, write_document

pytestmark = pytest.mark.smoke

CASE = "thread-UPLOAD-10MiB-c1-w1"

INNER_TEST = """
def test_matrix(fileproto_case, fileproto_run_case):
    fileproto_run_case(fileproto_case)
"""


def _old_run(seconds: float) -> dict[str, object]:
    """An earlier run whose CASE took ``seconds`` per client in each of 6 rounds, and
    which also holds a case this session does not run."""
    entries = []
    for clients in (1, 5):
        times = [seconds * (1 + i / 100) for i in range(6)]
        result = LoadResult(
            operation="UPLOAD", size_mib=10, size_bytes=10 << 20, client_workers=clients,
            server_workers=1, server_kind="thread", method="thread", avg_time_s=seconds,
            throughput_Bps=1.0, aggregate_Bps=1.0, wall_time_s=seconds, successes=clients,
            failures=0, verified=True, first_error=None, rounds=6, round_times_s=times,
        )  # fmt: skip
        entries.append(
            BenchmarkEntry(f"test_matrix[{result.id}]", result.id, result.extra_info(), times)
        )
    return benchmark_document(entries, machine={}, version="test")


@pytest.mark.parametrize(
    ("old_seconds", "xdist", "verdict", "status"),
    [
        # Every real round beats an earlier run of 100 s per client by far: faster.
        (100.0, False, "faster", pytest.ExitCode.OK),
        # No real round uploads 10 MiB in a microsecond: slower, and the gate fails.
        (1e-6, True, "slower", pytest.ExitCode.TESTS_FAILED),
    ],
    ids=["faster-serial", "slower-xdist"],
)
def test_the_session_is_compared_with_an_earlier_run(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    old_seconds: float,
    xdist: bool,
    verdict: str,
    status: pytest.ExitCode,
) -> None:
    for name in os.environ:
        if name.startswith("PYTEST_XDIST"):  # this test may itself run under xdist
            monkeypatch.delenv(name)
    pytester.makepyfile(test_inner=INNER_TEST)
    write_document(_old_run(old_seconds), pytester.path / "old.json")
    distribute = ["-n", "2"] if xdist else ["-p", "no:xdist"]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *distribute, "-m", "full", "-k", CASE,
        "--fileproto-rounds", "4", "--fileproto-no-probe",
        "--fileproto-compare", "old.json", "--fileproto-compare-fail", "10",
        timeout=240,
    )  # fmt: skip
    output = result.stdout.str()
    assert result.ret == status, output
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*fileproto compare: this run against old.json*",
            f"{CASE} * 6/4 * {verdict}",
            "Only in OLD (old.json): 1 case(s)",
            f"1 case(s) in both runs:*1 {verdict},*",
        ]
    )
    if status == pytest.ExitCode.OK:
        assert "Gate --fail-slower 10: passed" in output
    else:
        result.stdout.fnmatch_lines(
            [
                "Gate --fail-slower 10: FAILED: 1 case(s) slower beyond noise by more than 10%*",
                f"  {CASE}: NEW/OLD *",
                "*the session fails: 1 case(s) slower than in old.json*",
            ]
        )
    # A parallel run compared with a serial one is said to be so.
    assert ("NEW ran its cases side by side" in output) == xdist


def test_a_wrong_earlier_run_stops_the_session_at_start(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TEST)
    (pytester.path / "notes.json").write_text('{"results": []}')
    for args, message in [
        (["--fileproto-compare", "missing.json"], "*--fileproto-compare: missing.json does not*"),
        (["--fileproto-compare", "notes.json"], "*notes.json is not a benchmark JSON*"),
        (["--fileproto-compare-fail", "5"], "*--fileproto-compare-fail needs --fileproto-compare*"),
    ]:
        result = pytester.runpytest_subprocess("-p", "no:xdist", "-m", "full", *args)
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines([message])
