"""How the report presents what it has, whatever the run: the throughput chart's panels
each readable, one unit per quantity in every output, and the models that ran named
beside the kinds that did not (with the option that adds them)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from fileproto.report import load_results
from fileproto.report.answer_render import explained
from fileproto.report.cases import load_cases
from fileproto.report.chart import chart_figure
from fileproto.report.compose import report_markdown, report_text
from fileproto.report.html import render_html
from fileproto.report.order import kinds_note
from fileproto.report.slow import render_slow_text
from fileproto.report.verdicts import document_verdicts
from fileproto.server.registry import KINDS
from fileproto.units import MIB
from tests.helpers.timeline_runs import simulated_case, simulated_run

pytestmark = pytest.mark.smoke


def _slow_server() -> dict[str, Any]:
    """A server whose uploads crawl at 1.5 MiB/s while its downloads run at 150 MiB/s
    (a whole-request-buffering server, as tests/peers/ has)."""
    benchmarks = []
    for operation, mib_s in (("UPLOAD", 1.5), ("DOWNLOAD", 150.0)):
        for clients in (1, 5):
            bench = simulated_case("thread", clients, 1, operation=operation)
            info = bench["extra_info"]
            info["aggregate_Bps"] = mib_s * MIB * (1 + clients / 10)
            info["throughput_Bps"] = mib_s * MIB
            benchmarks.append(bench)
    return {"benchmarks": benchmarks}


def test_each_panel_of_the_throughput_chart_has_its_own_range() -> None:
    pytest.importorskip("matplotlib")
    results = load_results(_slow_server())
    figure = chart_figure(results, references=[{"reference": "limit", "size_mib": 10,
                                                "throughput_Bps": 700 * MIB}])  # fmt: skip
    upload, download = figure.axes[:2]
    assert (upload.get_title(), download.get_title()) == (
        "thread pool — UPLOAD", "thread pool — DOWNLOAD"
    )  # fmt: skip
    highest_upload = max(r.aggregate_Bps for r in results if r.operation == "UPLOAD") / MIB
    # The uploads fill their panel (a shared range would squash them to its floor).
    assert highest_upload < upload.get_ylim()[1] < 2 * highest_upload
    assert download.get_ylim()[1] > 150

    # The 700 MiB/s limit would flatten the uploads: drawn beside the downloads only,
    # and said so under the chart.
    def limits(ax: Any) -> list[Any]:
        return [line for line in ax.get_lines() if line.get_linestyle() == "--"]

    assert not limits(upload) and len(limits(download)) == 1
    notes = [t.get_text() for t in figure.texts]
    assert "Not drawn (far above the cases of the panel): limit 10 MiB (700 MiB/s) in " \
        "thread pool UPLOAD" in notes  # fmt: skip
    labels = [t.get_text() for t in upload.get_yticklabels()]
    assert "1.5" in labels or "1.0" in labels  # decimals where the range is small


def test_one_unit_per_quantity_in_every_output() -> None:
    """Throughput in MiB/s, a client's time in seconds, latency in ms: no B/s, no GB/s,
    no latency in seconds, in the text, the Markdown and the page."""
    document = simulated_run(kinds=("thread",), clients=(1, 5), workers=(1,))
    text, markdown = _text_and_markdown(document)
    page = render_html(document)
    for output in (text, markdown, page):
        assert not re.search(r"(?<![MK]i)B/s|GB/s", output), re.findall(r".{40}B/s", output)
        assert "Throughput (MiB/s)" in output and "Avg Time (s)" in output
        # Latencies (the LIST probe) in milliseconds, never in seconds.
        assert not re.search(r"(p50|p99|max)\s+\d[\d.,]*\s+s\b", output)
        assert re.search(r"p99\s+[\d,.]+\s+ms", output)


def test_the_slow_table_says_latency_in_ms() -> None:
    document = simulated_run(kinds=("thread",), clients=(5,), workers=(1,))
    (bench,) = document["benchmarks"]
    info = bench["extra_info"]
    info.update(scenario="idle", dispatch="ready",
                ttfb_s={"count": 5, "p50": 0.5, "p90": 0.6, "p99": 0.75, "max": 0.8})  # fmt: skip
    text = render_slow_text(load_results(document))
    assert "TTFB p99 ms" in text and "750.0" in text and "TTFB p99 s" not in text


def _text_and_markdown(document: dict[str, Any]) -> tuple[str, str]:
    """What `fileproto report` prints and writes with --md."""
    cases = load_cases(document)
    verdicts = document_verdicts(document, [c.result for c in cases])
    answer = explained(document, cases, verdicts)
    return report_text(cases, verdicts, answer), report_markdown(cases, verdicts, answer)


#: The registry's kinds besides the two classic ones, and how to add them all.
OTHERS = [kind.label for name, kind in KINDS.items() if name not in ("thread", "process")]
NOT_RUN = (
    f"Not run: {' and '.join(OTHERS)} (add {'it' if len(OTHERS) == 1 else 'them'} with "
    f"--fileproto-kinds {','.join(KINDS)})."
)


def test_the_models_that_ran_and_the_kinds_that_did_not() -> None:
    two = simulated_run(kinds=("thread", "process"), clients=(1,), workers=(1, 5))
    note = kinds_note(load_results(two))
    assert note == (
        "Models in this run: thread pool (ready) in 2 cases, process pool (ready) in 2 cases. "
        + NOT_RUN
    )
    # With classic cases the answer leads, its columns the models that ran, and it names
    # the kinds that did not, once, in every output.
    text, markdown = _text_and_markdown(two)
    page = render_html(two)
    for output in (text, markdown, page):
        assert output.count(f"Not run: {OTHERS[0]}") == 1
    # (the text wraps its lines)
    assert NOT_RUN in text.replace("\n", " ") and NOT_RUN in markdown
    assert f"<code>--fileproto-kinds {','.join(KINDS)}</code>" in page
    # Without them (slow clients alone) there is no answer: the note comes first.
    slow = simulated_run(kinds=("thread", "process"), clients=(5,), workers=(1,))
    for bench in slow["benchmarks"]:
        bench["extra_info"].update(scenario="idle", dispatch="accept")
    text, markdown = _text_and_markdown(slow)
    note = kinds_note(load_results(slow))
    assert note is not None and note.startswith("Models in this run: thread pool (accept)")
    assert text.startswith(note) and markdown.startswith(note)
    page = render_html(slow)
    assert page.index("Models in this run") < page.index('id="findings"')
    # Every kind ran: nothing to add.
    every = kinds_note(load_results(simulated_run(kinds=tuple(KINDS), clients=(1,), workers=(1,))))
    assert every is not None and "Not run" not in every
    assert "asyncio event loops (loop) in 1 case" in every
    # A server we did not start: no kinds of ours to speak of.
    external = simulated_run(kinds=("thread",), clients=(1,), workers=(1,))
    external["benchmarks"][0]["extra_info"].update(server_kind="external",
                                                   server_workers="external")  # fmt: skip
    assert kinds_note(load_results(external)) is None
