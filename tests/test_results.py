"""The results record: extra_info in and out, rounds merged, statistics as pytest-benchmark
computes them."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import pytest

from fileproto.results import LoadResult
from fileproto.results.document import BenchmarkEntry, load_document, load_results
from fileproto.results.felt import Background, Percentiles
from fileproto.results.stats import FIELDS, Stats
from fileproto.results.timeline import ClientSpan, ProbeSpan, Timeline

pytestmark = pytest.mark.smoke

OLD_RUN = Path(__file__).resolve().parent / "data" / "old-full-run.json"
DOCS_RUN = Path(__file__).resolve().parent / "data" / "one-round-run.json"


def test_an_older_run_reads_and_writes_back_unchanged() -> None:
    """Every extra_info of the saved run comes back key for key, in its order."""
    document = load_document(OLD_RUN)
    results = load_results(document)
    assert len(results) == 108
    infos = [b["extra_info"] for b in document["benchmarks"] if "operation" in b["extra_info"]]
    for result, info in zip(results, infos, strict=True):
        assert list(result.extra_info().items()) == list(info.items())
    assert results[0].name == "test_matrix[thread-UPLOAD-10MiB-c1-w1]"


def test_unknown_keys_are_kept_and_optional_ones_omitted() -> None:
    info: dict[str, Any] = {
        "operation": "UPLOAD", "size_mib": 0.5, "size_bytes": 1 << 19, "client_workers": 2,
        "server_workers": "external", "server_kind": "external", "method": "thread",
        "avg_time_s": 0.01, "throughput_Bps": 5e7, "aggregate_Bps": 9e7, "wall_time_s": 0.011,
        "successes": 2, "failures": 0, "verified": True, "first_error": None,
        "someone_elses": [1, 2],
    }  # fmt: skip
    result = LoadResult.from_extra_info(info, "x")
    assert result.extra == {"someone_elses": [1, 2]}
    assert result.server_peak_rss_bytes is None and result.rounds is None
    assert result.extra_info() == info


def _round(seconds: float, **changes: Any) -> LoadResult:
    base = LoadResult(
        operation="DOWNLOAD", size_mib=10, size_bytes=10 << 20, client_workers=5,
        server_workers=5, server_kind="thread", method="thread", avg_time_s=seconds,
        throughput_Bps=(10 << 20) / seconds, aggregate_Bps=5 * (10 << 20) / seconds,
        wall_time_s=seconds * 1.1, successes=5, failures=0, verified=True, first_error=None,
        client_peak_rss_bytes=50_000_000, interrupted=False,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_rounds_merge_averaged_and_summed() -> None:
    merged = LoadResult.merge(
        [
            _round(0.1),
            _round(0.3, successes=4, failures=1, verified=False, first_error="client 3: reset"),
            _round(0.2, client_peak_rss_bytes=60_000_000),
        ]
    )
    assert merged.avg_time_s == pytest.approx(0.2)
    assert merged.wall_time_s == pytest.approx(0.22)
    assert (merged.successes, merged.failures, merged.rounds) == (14, 1, 3)
    assert merged.verified is False and merged.first_error == "client 3: reset"
    assert merged.client_peak_rss_bytes == 60_000_000 and merged.interrupted is False
    limited = merged.with_limit(0.1, 1e9)
    assert limited.ratio_to_limit == pytest.approx(2.0)


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 50])
def test_stats_are_pytest_benchmarks(count: int) -> None:
    """The same numbers pytest-benchmark computes (so `compare` shows the same)."""
    bench_stats = pytest.importorskip("pytest_benchmark.stats")
    rng = random.Random(count)
    data = [rng.lognormvariate(-3, 0.4) for _ in range(count)]
    if count > 5:
        data[2] = 10.0  # an outlier, for the fences
    theirs = bench_stats.Stats()
    for value in data:
        theirs.update(value)
    ours = Stats(data).as_dict()
    assert list(ours)[: len(FIELDS)] == list(theirs.fields)
    for field in theirs.fields:
        assert ours[field] == getattr(theirs, field), field
    assert ours["data"] == data and ours["iterations"] == 1


def test_benchmark_entry_round_trip() -> None:
    info = _round(0.1).extra_info()
    entry = BenchmarkEntry("n", "t.py::n", info, [0.1, 0.2], param="p", options={"rounds": 2})
    data = json.loads(json.dumps(entry.as_dict()))
    assert list(data) == [
        "group", "name", "fullname", "params", "param", "extra_info", "options", "stats",
    ]  # fmt: skip
    assert BenchmarkEntry.from_dict(data) == entry
    assert data["stats"]["rounds"] == 2 and data["stats"]["median"] == pytest.approx(0.15)


def _felt(**changes: Any) -> LoadResult:
    """A slow-client case's record: every field about clients that wait filled."""
    result = _round(
        13.2,
        dispatch="ready", scenario="slow-links", rate_Bps=float(1 << 20), deadline_s=15.0,
        moved_bytes=60 << 20, moved_Bps=4e6, offered_Bps=5 * float(1 << 20),
        ratio_to_offered=4e6 / (5 << 20), failure_kinds={"deadline": 2},
        ttfb_s=Percentiles(3, 13.1, 13.2, 13.2, 13.2),
        request_s=Percentiles(3, 13.2, 13.3, 13.3, 13.3),
        probe_s=Percentiles(40, 0.001, 0.002, 5.0, 5.0), probe_failures=2,
        background=Background(
            idle=200, slowloris=20, closed_by_server={"slowloris": 20},
            errors={"request timeout": 20},
        ),
    )  # fmt: skip
    return dataclasses.replace(result, **changes)


def test_new_keys_come_after_the_old_ones_and_read_back() -> None:
    result = _felt()
    info = json.loads(json.dumps(result.extra_info()))
    old = list(_round(0.1).extra_info())
    assert list(info)[: len(old)] == old  # every older key first, in its order
    assert list(info)[len(old) :] == [
        "dispatch", "scenario", "rate_Bps", "deadline_s", "moved_bytes", "moved_Bps",
        "offered_Bps", "ratio_to_offered", "failure_kinds", "ttfb_s", "request_s", "probe_s",
        "probe_failures", "background",
    ]  # fmt: skip
    assert info["ttfb_s"] == {"count": 3, "p50": 13.1, "p90": 13.2, "p99": 13.2, "max": 13.2}
    assert info["background"]["closed_by_server"] == {"slowloris": 20}
    again = LoadResult.from_extra_info(info, "n")
    assert dataclasses.replace(again, name="") == result
    assert again.extra_info() == info


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("ttfb_s", {"count": 1, "p50": 2.0, "p90": 1.0, "p99": 2.0, "max": 2.0}, "out of order"),
        ("probe_s", {"count": 1, "p50": 1.0}, "lacks p90, p99, max"),
        ("failure_kinds", {"deadline": -1}, "expected a count"),
        ("background", [1, 2], "expected an object"),
    ],
)
def test_malformed_new_fields_are_named(key: str, value: Any, message: str) -> None:
    info = _felt().extra_info()
    info[key] = value
    with pytest.raises(ValueError, match=rf"'{key}'.*{message}"):
        LoadResult.from_extra_info(info, "bench")


def test_rounds_merge_what_clients_felt() -> None:
    merged = LoadResult.merge(
        [
            _felt(),
            _felt(
                moved_bytes=40 << 20,
                moved_Bps=2e6,
                failure_kinds={"deadline": 1, "reset": 1},
                ttfb_s=Percentiles(2, 12.0, 14.0, 14.0, 14.0),
                probe_failures=1,
            ),
        ]
    )
    assert merged.moved_bytes == 100 << 20 and merged.moved_Bps == pytest.approx(3e6)
    assert merged.failure_kinds == {"deadline": 3, "reset": 1}
    # Without the raw values, a bound: the worst of each figure.
    assert merged.ttfb_s == Percentiles(5, 13.1, 14.0, 14.0, 14.0)
    assert merged.probe_failures == 3
    assert merged.background is not None and merged.background.closed_by_server == {"slowloris": 40}


# -- timelines and latency without coordinated omission (docs/trace.md) --------------------


def _traced(**changes: Any) -> LoadResult:
    """A case with its timeline, the uncorrected figures and the server's events."""
    timeline = Timeline(
        (
            ClientSpan(0, "DOWNLOAD", 40001, True, None, 0.0001, 0.0003, 0.0004, 0.01, 0.2),
            ClientSpan(1, "DOWNLOAD", None, False, "refused: connection refused", 0.0002,
                       done=0.001),
        ),
        (
            ProbeSpan(0.0, 0.0012, 0.002, 0.0021, True, 40002, 0.0001, 0.001),
            ProbeSpan(0.1, None, None, None, False, None, late=True),  # held, never sent
        ),
        bound=5000,
        dropped=0,
    )  # fmt: skip
    events = [
        {"at": -0.5, "t": 1796290000.1, "conn": "1", "ev": "accepted", "worker": None,
         "peer": "127.0.0.1:40001"},
        {"at": 0.2, "t": 1796290000.8, "conn": "1", "ev": "closed", "reason": "eof",
         "deadline": None, "newer_key": [1]},
    ]  # fmt: skip
    fields: dict[str, Any] = {
        "ttfb_sent_s": Percentiles(3, 0.01, 0.02, 0.02, 0.02),
        "request_sent_s": Percentiles(3, 0.2, 0.3, 0.3, 0.3),
        "probe_sent_s": Percentiles(40, 0.001, 0.002, 0.003, 0.004),
        "probe_late": 3,
        "probe_in_flight": 4,
        "timeline": timeline,
        "server_events": events,
        "server_events_dropped": 0,
    }
    return _felt(**{**fields, **changes})


def test_timeline_and_server_events_come_last_and_read_back() -> None:
    result = _traced()
    info = json.loads(json.dumps(result.extra_info()))
    assert list(info)[-8:] == [
        "ttfb_sent_s", "request_sent_s", "probe_sent_s", "probe_late", "probe_in_flight",
        "timeline", "server_events", "server_events_dropped",
    ]  # fmt: skip
    assert list(info)[:-8] == list(_felt().extra_info())  # the older keys first, in order
    client = info["timeline"]["clients"][0]
    assert list(client) == [
        "client", "op", "port", "ok", "error", "connect", "connected", "sent", "first_byte",
        "done",
    ]  # fmt: skip
    assert info["timeline"]["probes"][1] == {
        "due": 0.1, "sent": None, "first_byte": None, "done": None, "ok": False, "port": None,
        "connect": None, "connected": None, "late": True,
    }  # fmt: skip
    assert info["server_events"][1]["newer_key"] == [1]  # unknown keys kept
    again = LoadResult.from_extra_info(info, "n")
    assert again.timeline == result.timeline
    assert again.extra_info() == info


def test_rounds_keep_the_last_timeline_and_sum_the_late_probes() -> None:
    last = _traced(probe_late=1, timeline=Timeline(bound=10, dropped=7))
    merged = LoadResult.merge([_traced(), last])
    assert merged.timeline == Timeline(bound=10, dropped=7)
    assert merged.server_events == last.server_events
    assert merged.probe_late == 4
    assert merged.probe_sent_s == Percentiles(80, 0.001, 0.002, 0.003, 0.004)


def test_what_became_of_the_probes_comes_last_and_adds_up_over_rounds() -> None:
    """Each probe due was answered, failed or cut off by the case's end (docs/trace.md):
    the counts follow every older key, read back, and sum over rounds."""
    one = _traced(probe_due=9, probe_answered=5, probe_failures=0, probe_cut_off=4)
    info = json.loads(json.dumps(one.extra_info()))
    assert list(info)[-3:] == ["probe_due", "probe_answered", "probe_cut_off"]
    assert list(info)[:-3] == list(_traced().extra_info())
    assert LoadResult.from_extra_info(info).probe_cut_off == 4
    merged = LoadResult.merge([one, _traced(probe_due=3, probe_answered=2, probe_cut_off=1)])
    assert (merged.probe_due, merged.probe_answered, merged.probe_cut_off) == (12, 7, 5)
    # A run from before these counts: none of them, and none made up.
    assert "probe_due" not in _traced().extra_info()


def test_timeline_is_bounded_and_counts_what_it_left_out() -> None:
    clients = [ClientSpan(i, "UPLOAD", None, True, None, 0.0) for i in range(3)]
    probes = [ProbeSpan(k * 0.1, None, None, None, False, None) for k in range(5)]
    timeline = Timeline.bounded(clients, probes, bound=4)
    assert len(timeline.clients) == 3 and [p.due for p in timeline.probes] == [0.0]
    assert timeline.dropped == 4 and timeline.bound == 4


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda info: info["timeline"]["clients"][0].update(connect=None),
            r"clients\[0\]\.connect",
        ),
        (lambda info: info["timeline"]["probes"][0].update(ok="yes"), r"probes\[0\]\.ok"),
        (lambda info: info["timeline"].update(dropped=-1), "dropped"),
        (lambda info: info["server_events"][0].pop("ev"), r"\[0\]\.ev"),
        (lambda info: info.update(server_events={"ev": "accepted"}), "list of events"),
    ],
)
def test_malformed_timelines_are_named(change: Any, message: str) -> None:
    info = json.loads(json.dumps(_traced().extra_info()))
    change(info)
    with pytest.raises(ValueError, match=message):
        LoadResult.from_extra_info(info, "bench")


@pytest.mark.parametrize("run", [OLD_RUN, DOCS_RUN], ids=["old-full-run", "one-round-run"])
def test_runs_without_timelines_still_load(run: Path) -> None:
    results = load_results(run)
    assert results and all(r.timeline is None and r.server_events is None for r in results)
    assert all(r.probe_sent_s is None and r.ttfb_sent_s is None for r in results)


def test_each_rounds_time_per_client_is_kept() -> None:
    merged = LoadResult.merge([_round(0.1), _round(0.3), _round(0.2)])
    assert merged.round_times_s == [0.1, 0.3, 0.2]
    again = LoadResult.merge([merged, _round(0.4)])
    assert again.times_of_rounds() == [0.1, 0.3, 0.2, 0.4]
    assert LoadResult.from_extra_info(merged.extra_info()).times_of_rounds() == [0.1, 0.3, 0.2]
    # A round in which every client failed has no time per client.
    assert LoadResult.merge(
        [_round(0.1), dataclasses.replace(_round(1.0), avg_time_s=0.0, successes=0, failures=5)]
    ).times_of_rounds() == [0.1]


def test_a_merged_record_weighs_as_many_rounds_as_it_holds() -> None:
    three = LoadResult.merge([_round(0.1), _round(0.2), _round(0.3)])
    four = LoadResult.merge([three, _round(0.6)])
    assert four.avg_time_s == pytest.approx(0.3)
    assert (four.rounds, four.successes) == (4, 20)
