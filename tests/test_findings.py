"""Findings in words: every statement computed from the run, with its numbers, and every
difference as the run's verdicts state it (docs/statistics.md)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from fileproto.report.cases import load_cases
from fileproto.report.findings import (
    Finding,
    findings,
    phase_shares,
    render_findings_markdown,
)
from fileproto.results.verdict import CONFIDENCE, MARGIN
from fileproto.units import MIB
from tests.helpers.cli import run_cli
from tests.helpers.timeline_runs import (
    refuse,
    simulated_case,
    simulated_run,
    with_rounds,
    without_ready,
    without_timelines,
)

pytestmark = pytest.mark.smoke

ROOT = Path(__file__).resolve().parent.parent
FULL_RUN = ROOT / "tests" / "data" / "one-round-run.json"
#: A slow-client run from before due-time probes (20 cases, two scenarios).
SLOW_RUN = ROOT / "tests" / "data" / "old-slow-run.json"


def _texts(found: list[Finding], topic: str) -> list[str]:
    return [f.text for f in found if f.topic == topic]


# -- the rank test --------------------------------------------------------------------------


# -- the method, and the verdicts the findings are written from -------------------------------


def test_one_round_decides_nothing_and_says_so() -> None:
    """tests/data/one-round-run.json (an earlier run) has one round per case: none of its
    162 comparisons can be decided, and the method says so with the rounds a verdict
    needs."""
    (text,) = _texts(findings(load_cases(FULL_RUN)), "noise")
    assert text.startswith("Each case ran 1 round. ")
    assert f"{CONFIDENCE:.0%} confidence interval" in text and f"within {MARGIN:.0%}" in text
    assert "docs/statistics.md" in text
    assert "Of the 162 comparisons" in text
    assert (
        f"0 are decided (0 found a difference, 0 the same within {MARGIN:.0%}) and 162 are open"
        in text
    )
    assert "at least 2 rounds per case, and 108 of the 108 cases have fewer" in text
    assert "run --fileproto-rounds 3" in text


def test_one_round_states_no_difference_however_large() -> None:
    """A 3x difference in one round is a figure, not a verdict: the models finding says
    it is not decided (the old rule called anything past a fixed 1.5x a difference)."""
    document = simulated_run(kinds=("thread", "process"), clients=(50,), workers=(1, 5))
    _scale(document, "process", {1: 3.0, 5: 3.0})
    (models,) = _texts(findings(load_cases(document)), "models")
    assert "process pool against thread pool, not decided" in models
    assert "on 1 worker not decided in all 1 (3.00x)" in models


def _models_run(process: dict[int, float], spread: tuple[float, ...] | None = None) -> str:
    document = simulated_run(kinds=("thread", "process"), clients=(1, 50), workers=(1, 5))
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if info["server_kind"] == "process":
            info["avg_time_s"] *= process[info["server_workers"]]
    with_rounds(document, *(() if spread is None else (spread,)))
    (models,) = _texts(findings(load_cases(document)), "models")
    return models


def test_models_from_verdicts_slower_same_and_open() -> None:
    """Five tight rounds: 40% slower is decided slower, 3% slower is the same within the
    margin; rounds that spread widely leave 40% open."""
    models = _models_run({1: 1.4, 5: 1.03})
    assert "on 1 worker slower in 2 of 2 (1.40x to 1.40x)" in models
    assert f"on 5 workers the same within {MARGIN:.0%} in all 2 (1.03x to 1.03x)" in models
    wide = _models_run({1: 1.4, 5: 1.4}, spread=(0.6, 0.8, 1.0, 1.25, 1.6))
    assert "process pool against thread pool, not decided" in wide
    assert "on 1 worker not decided in all 2" in wide


def test_models_opposite_directions_are_told_per_worker_count() -> None:
    """Process pool 3x slower on 5 workers and 3x faster on 1: no mean of both; each
    worker count with its own direction."""
    models = _models_run({1: 1 / 3, 5: 3.0})
    assert "on 1 worker faster in 2 of 2 (0.33x to 0.33x)" in models
    assert "on 5 workers slower in 2 of 2 (3.00x to 3.00x)" in models
    assert "geometric mean" not in models and "takes" not in models


def test_the_method_counts_what_was_decided() -> None:
    document = simulated_run(kinds=("thread", "process"), clients=(1, 50), workers=(1, 5))
    _scale(document, "process", {1: 1.4, 5: 1.03})
    with_rounds(document)
    (text,) = _texts(findings(load_cases(document)), "noise")
    assert text.startswith("Each case ran 5 rounds. ")
    # 8 cases: 4 worker comparisons and 4 model comparisons, every one decided.
    assert "Of the 8 comparisons" in text and "and 0 are open" in text
    assert "at least 2 rounds" not in text


def test_two_rounds_that_spread_leave_a_comparison_open() -> None:
    """Two rounds a side claim little (Student's t with two degrees of freedom): a 3x
    difference whose rounds spread 2x is not decided, and the method says so."""
    benches = [simulated_case("thread", 5, w) for w in (1, 5)]
    for bench, factor in zip(benches, (1.0, 3.0), strict=True):
        bench["extra_info"]["round_times_s"] = [factor * t for t in (1.0, 2.0)]
        bench["extra_info"]["rounds"] = 2
    (text,) = _texts(findings(load_cases({"benchmarks": benches})), "noise")
    assert text.startswith("Each case ran 2 rounds. ")
    assert "Of the 1 comparison " in text
    assert "0 are decided" in text and "1 is open" in text
    alone = findings(load_cases({"benchmarks": benches[:1]}))
    assert "This run has no two cases to compare." in _texts(alone, "noise")[0]


def test_findings_follow_the_recorded_verdicts() -> None:
    """Where the benchmark JSON holds fileproto_verdicts, the findings say what it says,
    not what the rounds alone would."""
    document = with_rounds(simulated_run(kinds=("thread", "process"), clients=(50,), workers=(1,)))
    cases = load_cases(document)
    (computed,) = _texts(findings(cases), "models")
    assert "not decided" not in computed  # the same times, tight rounds: the same
    document["fileproto_verdicts"] = [
        {"a": "thread-UPLOAD-10MiB-c50-w1", "b": "process-UPLOAD-10MiB-c50-w1",
         "axis": "kind", "verdict": "undecided", "ratio": 1.0, "low": 0.5, "high": 2.0,
         "rounds": [5, 5], "confidence": 0.95, "margin": 0.1}
    ]  # fmt: skip
    from fileproto.report.verdicts import document_verdicts

    stated = document_verdicts(document, [c.result for c in cases])
    (recorded,) = _texts(findings(cases, stated), "models")
    assert "on 1 worker not decided in all 1 (1.00x)" in recorded


# -- what the findings say ------------------------------------------------------------------


def test_scaling_and_workers_from_the_data() -> None:
    found = findings(load_cases(with_rounds(simulated_run(kinds=("thread",)))))
    (scaling,) = _texts(found, "scaling")
    # The made-up server: 50 clients through one worker take 25x one client's time.
    cases = {c.id: c.result for c in load_cases(simulated_run(kinds=("thread",)))}
    ratio = (
        cases["thread-UPLOAD-10MiB-c50-w1"].avg_time_s
        / cases["thread-UPLOAD-10MiB-c1-w1"].avg_time_s
    )
    assert f"{ratio:,.0f}x on 1 worker" in scaling
    (workers,) = _texts(found, "workers")
    assert workers.startswith("thread pool, 50 clients: adding workers helped up to 5")
    # One round: the same figures, and nothing decided.
    (single,) = _texts(findings(load_cases(simulated_run(kinds=("thread",)))), "workers")
    assert single.startswith(
        "thread pool, 50 clients: whether adding workers beyond 1 helps is not decided"
    )


def test_queued_share_from_the_server_events() -> None:
    cases = load_cases(simulated_run(kinds=("thread",)))
    by_id = {c.id: c for c in cases}
    one, five = (phase_shares(by_id[f"thread-UPLOAD-10MiB-c50-w{w}"]) for w in (1, 5))
    assert one is not None and five is not None
    assert sum(one.values()) == pytest.approx(1.0)
    # One worker for 50 clients: most of their time is in the queue; five: less.
    assert one["queued for a worker"] > 0.9 > five["queued for a worker"]
    texts = _texts(findings(cases), "queued")
    assert any(
        t.startswith("thread pool, UPLOAD, 50 clients on 1 worker: ")
        and f"{one['queued for a worker']:.0%} of the clients' time was spent queued" in t
        for t in texts
    )


def test_waiting_on_the_client_is_told_apart_from_the_queue() -> None:
    """The made-up server gives each connection back for 5% of its service time; the
    client's bytes come (ready) after 3% and a worker takes it at 5%: 3 parts waiting on
    the client, 2 queued for a worker. Without ready events (a trace from before them)
    the two stay one phase, and the finding says it cannot split them."""
    document = simulated_run(kinds=("thread",), clients=(50,), workers=(5,))
    (case,) = load_cases(document)
    shares = phase_shares(case)
    assert shares is not None
    waiting = sum(0.03 * 0.02 for _ in case.requests)  # service_s 0.02, 3% of it
    whole = sum(r.end - r.connect for r in case.requests)
    assert shares["waiting on the client"] == pytest.approx(waiting / whole, rel=1e-6)
    assert "given back: the client, then the queue" not in shares
    (text,) = _texts(findings([case]), "queued")
    assert f"{shares['waiting on the client']:.0%} waiting on the client" in text
    assert "not told apart" not in text
    (old,) = load_cases(without_ready(document))
    old_shares = phase_shares(old)
    assert old_shares is not None and "waiting on the client" not in old_shares
    assert old_shares["given back: the client, then the queue"] == pytest.approx(
        waiting / whole * 5 / 3, rel=1e-6
    )
    (text,) = _texts(findings([old]), "queued")
    assert "a trace without 'ready' events" in text


def test_refused_clients_are_not_counted_as_queued() -> None:
    bench = refuse(simulated_case("thread", 5, 1), [3, 4])
    (case,) = load_cases({"benchmarks": [bench]})
    shares = phase_shares(case)
    assert shares is not None and shares["refused at the cap"] > 0
    (text,) = _texts(findings([case]), "queued")
    assert f"{shares['refused at the cap']:.0%} refused at the connection cap" in text


def test_without_timelines_says_so() -> None:
    found = findings(load_cases(without_timelines(simulated_run(kinds=("thread",)))))
    (queued,) = _texts(found, "queued")
    assert queued.startswith("No timelines in this run")
    untraced = findings(load_cases(simulated_run(kinds=("thread",), traced=False)))
    (queued,) = _texts(untraced, "queued")
    assert "server's events were not recorded" in queued


def test_failed_clients_and_their_first_errors() -> None:
    bench = simulated_case("thread", 5, 1, failures=2)
    document = {"benchmarks": [bench, simulated_case("thread", 1, 1)]}
    texts = _texts(findings(load_cases(document)), "failures")
    assert texts[0] == "2 of 6 clients failed, in 1 of 2 cases."
    assert "2 of 5 failed (reset 2)" in texts[1]
    assert "first error: client 0: reset: connection reset by peer" in texts[1]


def test_responsiveness_corrected_and_uncorrected() -> None:
    """The made-up probes: one sent 50 ms late. From its due time it took 51 ms; from its
    start, 1 ms: both figures are shown."""
    found = findings(load_cases(simulated_run(kinds=("thread",))))
    (text,) = _texts(found, "responsiveness")  # no note: this run times from the due time
    assert "max 51.0 ms" in text
    assert "timed from each probe's start instead of its due time: p99 1.0 ms" in text


def test_an_old_run_says_its_probe_figures_are_uncorrected() -> None:
    texts = _texts(findings(load_cases(FULL_RUN)), "responsiveness")
    assert texts[-1].startswith("The 108 cases' probe figures count from each probe's actual")


def test_slow_run_findings_name_what_failed_and_who_kept_answering() -> None:
    found = findings(load_cases(SLOW_RUN))
    assert not _texts(found, "scaling")  # no classic cases
    completed = _texts(found, "slow clients")
    assert any(t.startswith("Scenario slow-links: clients completed, most to fewest: "
                            "asyncio event loops on") for t in completed)  # fmt: skip
    responsive = " ".join(_texts(found, "responsiveness"))
    assert "unanswered" in responsive


def test_findings_follow_the_data_not_a_script() -> None:
    """Swap the two models' figures: the comparison turns around."""
    document = simulated_run(kinds=("thread", "process"), clients=(1, 50), workers=(1, 5))
    for bench in document["benchmarks"]:
        if bench["extra_info"]["server_kind"] == "thread":
            bench["extra_info"]["avg_time_s"] *= 3
    with_rounds(document)
    (models,) = _texts(findings(load_cases(document)), "models")
    assert "on 1 worker faster in 2 of 2 (0.33x to 0.33x)" in models
    swapped = copy.deepcopy(document)
    for bench in swapped["benchmarks"]:
        info = bench["extra_info"]
        info["server_kind"] = {"thread": "process", "process": "thread"}[info["server_kind"]]
    (models,) = _texts(findings(load_cases(swapped)), "models")
    assert "on 1 worker slower in 2 of 2 (3.00x to 3.00x)" in models


def test_cli_prints_the_findings_first(tmp_path: Path) -> None:
    run = run_cli("report", FULL_RUN)
    assert run.returncode == 0, run.stderr
    # The answer first, then the findings, then the tables.
    assert run.stdout.startswith("The answer: ")
    assert run.stdout.index("The answer") < run.stdout.index("Findings\n========\n")
    assert run.stdout.index("Findings") < run.stdout.index("thread pool\n===========")
    md = tmp_path / "r.md"
    run = run_cli("report", FULL_RUN, "--md", md)
    assert run.returncode == 0, run.stderr
    text = md.read_text()
    assert text.startswith("## The answer: ")
    assert text.index("## The answer") < text.index("## Findings\n")
    assert re.search(r"^### thread pool$", text, re.M)
    assert render_findings_markdown(findings(load_cases(FULL_RUN))) in text


def test_every_finding_has_a_number() -> None:
    for source in (FULL_RUN, SLOW_RUN):
        document: dict[str, Any] = json.loads(source.read_text())
        for finding in findings(load_cases(document)):
            assert re.search(r"\d", finding.text), finding


def test_uncorrected_figures_from_the_record_without_a_timeline() -> None:
    """A record without a timeline but with probe_sent_s (timed from each probe's start)
    shows both figures; one without it, the corrected one alone."""
    document = without_timelines(simulated_run(kinds=("thread",), clients=(1, 50)))
    for bench in document["benchmarks"]:
        bench["extra_info"]["probe_sent_s"] = {
            "count": 12, "p50": 0.0008, "p90": 0.0009, "p99": 0.002, "max": 0.002
        }  # fmt: skip
    (text,) = _texts(findings(load_cases(document)), "responsiveness")
    assert "p99 51.0 ms" in text
    assert "timed from each probe's start instead of its due time: p99 2.0 ms" in text
    for bench in document["benchmarks"]:
        del bench["extra_info"]["probe_sent_s"]
    text, note = _texts(findings(load_cases(document)), "responsiveness")
    assert "p99 51.0 ms" in text and "instead of its due time" not in text
    assert "predates timing from the due time" in note


# -- the corrected findings, each pinned by a made-up run -------------------------------------


def _scale(document: dict[str, Any], kind: str, by_workers: dict[int, float]) -> None:
    """Multiply one kind's times by a factor per server-worker count (and divide its
    aggregate throughput by it, as a slower case moves the same bytes in more time)."""
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if info["server_kind"] == kind and info["client_workers"] > 1:
            factor = by_workers[info["server_workers"]]
            info["avg_time_s"] *= factor
            info["aggregate_Bps"] /= factor


def _flat(document: dict[str, Any], kind: str) -> None:
    """One kind's times the same on every worker count (its one-worker figure)."""
    first: dict[tuple[str, int, int], tuple[float, float]] = {}
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        key = (info["operation"], info["size_mib"], info["client_workers"])
        if info["server_kind"] == kind and info["server_workers"] == 1:
            first[key] = (info["avg_time_s"], info["aggregate_Bps"])
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if info["server_kind"] == kind:
            key = (info["operation"], info["size_mib"], info["client_workers"])
            info["avg_time_s"], info["aggregate_Bps"] = first[key]


def test_workers_compares_the_ends_and_says_made_slower() -> None:
    """Each step up in workers 1.4x slower, 1 -> 50 workers 1.96x, all decided from five
    tight rounds: the finding says more workers made clients slower, with one
    operation/size's times on every worker count."""
    document = simulated_run(kinds=("process",), clients=(1, 50), workers=(1, 5, 50))
    _flat(document, "process")
    _scale(document, "process", {1: 1.0, 5: 1.4, 50: 1.96})
    with_rounds(document)
    cases = load_cases(document)
    by_id = {c.id: c.result.avg_time_s for c in cases}
    (text,) = _texts(findings(cases), "workers")
    assert text.startswith(
        "process pool, 50 clients: more workers made clients slower: "
        "50 workers instead of 1 were slower in 1 of 1"
    )
    path = " -> ".join(f"{by_id[f'process-UPLOAD-10MiB-c50-w{w}']:.3f} s" for w in (1, 5, 50))
    assert f"UPLOAD 10 MiB, 50 clients: {path} on 1 / 5 / 50 workers" in text
    assert "5 workers instead of 1: 1.40x the time (slower in 1 of 1)" in text
    assert "50 workers instead of 1: 1.96x the time (slower in 1 of 1" in text
    # One round: the same figures, nothing decided, nothing said to be slower.
    (single,) = _texts(findings(load_cases(without_rounds(document))), "workers")
    assert "5 workers instead of 1: 1.40x the time (not decided in 1 of 1)" in single
    assert "made clients slower" not in single


def without_rounds(document: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(document)
    for bench in out["benchmarks"]:
        bench["extra_info"].pop("round_times_s", None)
        bench["extra_info"]["rounds"] = 1
    return out


def test_time_growing_with_workers_beside_a_flat_model_is_stated() -> None:
    """Process pool slower with each worker count, thread pool flat: the pattern is
    stated with the aggregate throughput on each worker count."""
    document = simulated_run(kinds=("thread", "process"), clients=(1, 50), workers=(1, 5, 50))
    _flat(document, "thread")
    _flat(document, "process")
    _scale(document, "process", {1: 1.0, 5: 2.0, 50: 4.0})
    with_rounds(document)
    cases = load_cases(document)
    agg = {c.id: c.result.aggregate_Bps / MIB for c in cases}
    texts = _texts(findings(cases), "workers")
    (pattern,) = [t for t in texts if t.startswith("UPLOAD with 50 clients: ")]
    process = " -> ".join(f"{agg[f'process-UPLOAD-10MiB-c50-w{w}']:,.1f}" for w in (1, 5, 50))
    thread = " -> ".join(f"{agg[f'thread-UPLOAD-10MiB-c50-w{w}']:,.1f}" for w in (1, 5, 50))
    assert "process pool's time grows with server workers" in pattern
    assert f"{process} MiB/s" in pattern
    assert (
        f"thread pool's stays flat (the same within {MARGIN:.0%} in 1 of 1 size; {thread} MiB/s)"
        in (pattern)
    )
    # Both flat: no such pattern.
    flat = simulated_run(kinds=("thread", "process"), clients=(1, 50), workers=(1, 5, 50))
    _flat(flat, "thread")
    _flat(flat, "process")
    with_rounds(flat)
    assert not [t for t in _texts(findings(load_cases(flat)), "workers") if "grows" in t]


def test_queued_shares_are_per_operation() -> None:
    document = simulated_run(
        kinds=("thread",), clients=(50,), workers=(1,), operations=("UPLOAD", "DOWNLOAD")
    )
    texts = _texts(findings(load_cases(document)), "queued")
    assert [t.split(":")[0] for t in texts] == [
        "thread pool, UPLOAD, 50 clients on 1 worker",
        "thread pool, DOWNLOAD, 50 clients on 1 worker",
    ]
    assert all("(mean over 1 case," in t for t in texts)


def test_responsiveness_takes_the_records_probe_figures() -> None:
    """The record's probe_s counts a probe still waiting at the end as the time it waited
    (docs/trace.md); the timeline's probes cannot. The worst case is the record's worst,
    even where the timeline shows quick probes."""
    document = simulated_run(kinds=("thread",), clients=(1, 5, 50), workers=(1, 5))
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if (info["client_workers"], info["server_workers"]) == (5, 5):
            info["probe_s"] = {"count": 15, "p50": 6.746, "p90": 7.0, "p99": 8.487, "max": 8.487}
            info["probe_failures"] = 4
    (text,) = _texts(findings(load_cases(document)), "responsiveness")
    assert "at its worst, p50 6,746.0 ms, p99 8,487.0 ms, max 8,487.0 ms over 15 probes" in text
    assert "(4 unanswered within 5 s), beside 5 clients (UPLOAD 10 MiB on 5 workers)" in text
    # The lightest case: its figures as the record has them.
    assert "answered in p50 1.0 ms, p99 51.0 ms" in text


def test_one_probe_is_not_called_percentiles() -> None:
    document = simulated_run(kinds=("thread",), clients=(1, 50), workers=(1,))
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        if info["client_workers"] == 1:
            info["probe_s"] = {"count": 1, "p50": 0.0048, "p90": 0.0048, "p99": 0.0048,
                               "max": 0.0048}  # fmt: skip
    (text,) = _texts(findings(load_cases(document)), "responsiveness")
    assert "answered in 4.8 ms (one probe)" in text


def test_an_old_slow_run_says_its_probes_are_uncorrected_and_few() -> None:
    """tests/data/old-slow-run.json predates due-time probes: the coordinated-omission note is
    printed for its slow-client cases, each case's probe count is stated, and cases with
    a handful of probes or a p99 at the timeout are not ranked by p99."""
    texts = _texts(findings(load_cases(SLOW_RUN)), "responsiveness")
    assert texts[0].startswith("The 20 slow-client cases' probe figures count from each probe's")
    assert "coordinated omission" in texts[0]
    (idle,) = [t for t in texts if t.startswith("Scenario idle:")]
    assert "best to worst" not in idle
    assert "too few probes to rank (under 10 each)" in idle
    assert "over 1 probe" in idle
    (links,) = [t for t in texts if t.startswith("Scenario slow-links:")]
    ranked, _, tied = links.partition("p99 at the 5 s probe timeout, so not ranked by it")
    assert "asyncio event loops" in ranked and "over 133 probes" in ranked
    assert "thread pool" not in ranked and "thread pool" in tied


def test_a_made_up_slow_case_with_few_probes_is_not_ranked() -> None:
    bench = simulated_case("thread", 5, 1)
    info = bench["extra_info"]
    info["scenario"] = "idle"
    info["probe_s"] = {"count": 3, "p50": 0.002, "p90": 0.003, "p99": 0.003, "max": 0.003}
    del info["probe_sent_s"]
    found = findings(load_cases({"benchmarks": [bench]}))
    texts = _texts(found, "responsiveness")
    assert any("count from each probe's actual start, one probe at a time" in t for t in texts)
    assert any("too few probes to rank" in t and "over 3 probes" in t for t in texts)


def test_worst_probe_case_tied_at_the_timeout_says_so() -> None:
    """An old run (no probe_sent_s): two cases' p99 at the 5 s timeout over 3 probes. The
    worst named is the one with the higher p50, with the tie and the probe count said."""
    document = without_timelines(simulated_run(kinds=("thread",), clients=(1, 5, 50)))
    for bench in document["benchmarks"]:
        info = bench["extra_info"]
        del info["probe_sent_s"]
        if info["client_workers"] > 1:
            p50 = 0.3 if info["client_workers"] == 50 and info["server_workers"] == 1 else 0.1
            info["probe_s"] = {"count": 3, "p50": p50, "p90": 5.0, "p99": 5.0, "max": 5.0}
    text, note = _texts(findings(load_cases(document)), "responsiveness")
    assert "at its worst, p50 300.0 ms, p99 5,000.0 ms" in text
    assert "4 cases share this p99, the 5 s probe timeout; this one has the highest p50" in text
    assert "only 3 probes, too few for a p99 to rank cases by" in text
    assert "beside 50 clients (UPLOAD 10 MiB on 1 worker)" in text
    assert "coordinated omission" in note
