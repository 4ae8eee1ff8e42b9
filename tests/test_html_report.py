"""The HTML report as a reader sees it, in a real browser (headless Chromium from
Debian's ``chromium`` package): the answer on the first screen, then the findings, the
tables with their rows, every image loaded, nothing fetched from the network, nothing on
the console."""

from __future__ import annotations

import functools
import json
import re
import subprocess
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from fileproto.report.cases import load_cases
from fileproto.report.findings import findings
from fileproto.report.html import render_html
from fileproto.server.registry import KINDS
from tests.helpers.browser import Browser, chromium
from tests.helpers.cli import run_cli
from tests.helpers.servers import one_worker
from tests.helpers.timeline_runs import simulated_run, with_rounds, without_timelines

RunPytest = Callable[..., subprocess.CompletedProcess[str]]

pytestmark = [pytest.mark.smoke, one_worker("html_report")]

ROOT = Path(__file__).resolve().parent.parent
FULL_RUN = ROOT / "tests" / "data" / "one-round-run.json"
#: A slow-client run from before due-time probes (20 cases, two scenarios).
SLOW_RUN = ROOT / "tests" / "data" / "old-slow-run.json"

# What a reader sees, read by the browser after the page loaded.
READER_VIEW = """(() => {
  const text = (el) => el ? el.innerText : null;
  return {
    order: [...document.querySelectorAll("section")].map(s => s.id),
    findings: [...document.querySelectorAll("#findings li")].map(li => li.innerText),
    tables: [...document.querySelectorAll("table")].map(t => ({
      cls: t.className,
      title: text(t.previousElementSibling),
      headers: [...t.querySelectorAll("th")].map(th => th.innerText),
      rows: t.querySelectorAll("tbody tr").length,
      marked: t.querySelectorAll("tbody tr.marked").length,
    })),
    images: [...document.images].map(i => ({
      alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight,
      shown: i.getBoundingClientRect().width,
    })),
    machine: text(document.querySelector("#machine")),
    reproduce: text(document.querySelector("#reproduce pre")),
    timelines: text(document.querySelector("#timelines")),
  };
})()"""


@pytest.fixture(scope="module")
def browser() -> Any:
    executable = chromium()
    if executable is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    with Browser(executable) as opened:
        yield opened


@functools.cache
def _rendered(run: Path) -> str:
    """The page of a committed run, rendered once for the tests that read it."""
    return render_html(run)


def _page(tmp_path: Path, source: Any, name: str = "report.html") -> Path:
    page = tmp_path / name
    html = _rendered(source) if isinstance(source, Path) else render_html(source)
    page.write_text(html, encoding="utf-8")
    return page


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in ("src", "href", "srcset", "action")]


# The answer table as the first screen shows it: where it is, a cell per case, and which
# cells are wholly on the screen and not covered by anything.
FIRST_SCREEN = """(() => {
  const table = document.querySelector("table.answer");
  const box = table.getBoundingClientRect();
  const cells = [...table.querySelectorAll("td[data-case]")];
  const onScreen = (td) => {
    const b = td.getBoundingClientRect();
    const hit = document.elementFromPoint(b.left + b.width / 2, b.top + b.height / 2);
    return b.top >= 0 && b.left >= 0 && b.bottom <= innerHeight && b.right <= innerWidth
      && hit === td;
  };
  return {
    screen: [innerWidth, innerHeight, scrollY],
    table: [box.top, box.bottom, box.left, box.right],
    cases: cells.map(td => td.dataset.case),
    shown: cells.filter(onScreen).map(td => td.dataset.case),
    marks: cells.map(td => td.classList[1]),
    summary: document.querySelector("#answer .summary").innerText,
    notRun: document.querySelector("#answer .not-run")?.innerText ?? null,
  };
})()"""


def _three_models() -> dict[str, Any]:
    """The classic matrix of all three models (162 cases), without timelines."""
    return without_timelines(
        simulated_run(
            clients=(1, 5, 50),
            workers=(1, 5, 50),
            operations=("UPLOAD", "DOWNLOAD"),
            sizes=(1, 10, 100),
        )
    )


@pytest.mark.parametrize(
    ("run", "models"),
    [
        pytest.param(FULL_RUN, 2, id="108 cases, two models"),
        pytest.param(_three_models(), 3, id="162 cases, three models"),
    ],
)
def test_the_first_screen_shows_the_answer(
    browser: Browser, tmp_path: Path, run: Any, models: int
) -> None:
    """At 1400x900, before any scrolling, the answer table is wholly on the screen with
    a cell for every case that ran, each cell visible."""
    ran = sorted(c.result.id for c in load_cases(run))
    load = browser.load(_page(tmp_path, run).as_uri(), FIRST_SCREEN, viewport=(1400, 900))
    assert load.errors == [] and load.remote_requests == []
    view = load.value
    assert view["screen"] == [1400, 900, 0]
    top, bottom, left, right = view["table"]
    assert top > 0 and bottom <= 900 and left >= 0 and right <= 1400
    assert sorted(view["cases"]) == ran and len(ran) == 54 * models
    assert sorted(view["shown"]) == ran
    assert view["summary"].startswith("The best, load by load: ")
    assert view["summary"].endswith(
        "In no load is every other case decided slower than the best: a verdict needs at "
        "least 2 rounds per case, and every case has 1."
    )
    # One round per case: the best of each load, and every other cell not decided.
    assert view["marks"].count("best") == 18
    assert set(view["marks"]) == {"best", "open"}
    # The registry's kinds the run did not have, named, and how to add them.
    ran_kinds = ("thread", "process") if models == 2 else ("thread", "process", "asyncio")
    others = [kind.label for name, kind in KINDS.items() if name not in ran_kinds]
    assert view["notRun"].startswith(f"Not run: {' and '.join(others)} (add ")
    assert view["notRun"].endswith(f" with --fileproto-kinds {','.join(KINDS)}).")


def test_the_answer_links_each_reason_to_a_drawn_timeline(browser: Browser, tmp_path: Path) -> None:
    """Each sentence under the table links to timelines the page draws."""
    view_links = """[...document.querySelectorAll("#answer ul.why li")].map(li => ({
      text: li.innerText,
      links: [...li.querySelectorAll("a")].map(a => {
        const target = document.querySelector(a.getAttribute("href"));
        return target ? target.querySelector("img").alt : null;
      }),
    }))"""
    run = with_rounds(simulated_run(kinds=("thread", "process"), clients=(5,), workers=(1, 5)))
    load = browser.load(_page(tmp_path, run).as_uri(), view_links)
    assert load.errors == []
    reasons = load.value
    assert 1 <= len(reasons) <= 5
    for reason in reasons:
        assert reason["links"] and None not in reason["links"], reason
    assert reasons[0]["links"] == [
        "timeline of thread-UPLOAD-10MiB-c5-w1",
        "timeline of thread-UPLOAD-10MiB-c5-w5",
    ]
    assert "queued for a worker" in reasons[0]["text"]


def test_the_page_needs_nothing_from_elsewhere() -> None:
    links = _Links()
    links.feed(_rendered(SLOW_RUN))
    assert "script" not in links.tags
    assert links.urls
    for url in links.urls:
        assert url.startswith(("data:", "#")), url


def test_full_run_as_a_reader_sees_it(browser: Browser, tmp_path: Path) -> None:
    page = _page(tmp_path, FULL_RUN)
    load = browser.load(page.as_uri(), READER_VIEW)
    assert load.errors == []
    assert load.remote_requests == []
    view = load.value
    assert view["order"] == ["answer", "findings", "results", "timelines", "machine", "reproduce"]
    # The findings, as computed, are what the page shows after the answer.
    expected = [f.text for f in findings(load_cases(FULL_RUN))]
    assert view["findings"] == expected
    assert any("Each case ran 1 round." in t for t in view["findings"])
    # The classic table per kind: 54 cases each, none marked (no failure in this run).
    (answer,) = [t for t in view["tables"] if t["cls"] == "answer"]
    assert answer["rows"] == 18
    results = [t for t in view["tables"] if t["cls"] == "results"]
    assert [(t["title"], t["rows"], t["marked"]) for t in results] == [
        ("thread pool", 54, 0),
        ("process pool", 54, 0),
    ]
    assert results[0]["headers"][:3] == ["No", "Operation", "Size (MiB)"]
    # The chart is there, loaded and drawn at a readable size.
    (chart,) = view["images"]
    assert chart["complete"] and chart["width"] > 800 and chart["height"] > 400
    assert chart["shown"] > 600
    assert "No timelines in this run" in view["timelines"]
    assert "AMD EPYC" in view["machine"] and "08f108db2f5c" in view["machine"]
    assert "git checkout 08f108db2f5c0cd0f0700f50295ec2a49d6e5467" in view["reproduce"]
    assert "pytest -m full --benchmark-json=run.json" in view["reproduce"]


def test_slow_run_shows_its_table_and_failures(browser: Browser, tmp_path: Path) -> None:
    load = browser.load(_page(tmp_path, SLOW_RUN).as_uri(), READER_VIEW)
    assert load.errors == [] and load.remote_requests == []
    (slow,) = [t for t in load.value["tables"] if t["cls"] == "slow"]
    document = json.loads(SLOW_RUN.read_text())
    failed = sum(1 for b in document["benchmarks"] if b["extra_info"]["failures"])
    assert (slow["rows"], slow["marked"]) == (len(document["benchmarks"]), failed)
    assert "Scenario" in slow["headers"]
    assert all(i["complete"] and i["width"] > 0 for i in load.value["images"])
    assert any(t.startswith("156 of 250 clients failed") for t in load.value["findings"])


def test_timelines_of_the_telling_cases(browser: Browser, tmp_path: Path) -> None:
    """The most clients on 1 and 5 workers, per model: 20 clients (a timeline's cost grows
    with its rows, and which count is the most is what this reads)."""
    run = simulated_run(clients=(1, 20))
    load = browser.load(_page(tmp_path, run).as_uri(), READER_VIEW)
    assert load.errors == [] and load.remote_requests == []
    timelines = [i for i in load.value["images"] if i["alt"].startswith("timeline of ")]
    assert [i["alt"] for i in timelines] == [
        f"timeline of {k}-UPLOAD-10MiB-c20-w{w}"
        for k in ("thread", "process", "asyncio")
        for w in (1, 5)
    ]
    assert all(i["complete"] and i["width"] > 500 and i["height"] > 500 for i in timelines)
    assert any("spent queued for a worker" in t for t in load.value["findings"])


def test_a_broken_page_would_be_caught(browser: Browser, tmp_path: Path) -> None:
    """The checks above can fail: a console error, a broken image and a fetch are seen."""
    page = tmp_path / "broken.html"
    page.write_text(
        "<!DOCTYPE html><html><head><link rel='icon' href='data:,'></head><body>"
        "<img alt='x' src='data:image/png;base64,AAAA'>"
        "<img alt='y' src='http://127.0.0.1:9/chart.png'>"
        "<script>console.error('boom')</script></body></html>"
    )
    load = browser.load(page.as_uri(), READER_VIEW)
    assert any("boom" in e for e in load.errors)
    assert load.remote_requests == ["http://127.0.0.1:9/chart.png"]
    assert [i["width"] for i in load.value["images"]] == [0, 0]


def test_cli_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    run = run_cli("report", SLOW_RUN, "--html", out)
    assert run.returncode == 0, run.stderr
    assert f"wrote HTML report to {out}" in run.stdout
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_plugin_report_dir_has_index_html(tmp_path: Path, run_pytest: RunPytest) -> None:
    """--fileproto-report writes the page beside the tables and charts, with the
    session's own command to reproduce it."""
    folder = tmp_path / "report"
    run = run_pytest(
        "-p", "no:randomly", "-m", "smoke", "tests/test_matrix.py", "-k",
        "thread-UPLOAD-10MiB-c1-w1", f"--fileproto-report={folder}", "-q",
    )  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"HTML report written to {folder / 'index.html'}" in run.stdout
    # The terminal: the answer first, its one case the best of its one load.
    out = run.stdout
    assert out.index("fileproto: the answer") < out.index("fileproto stress matrix")
    assert re.search(r"^UPLOAD +10 +1 +★ 1\.00 +\d+\.\d{3}$", out, re.M), out
    page = (folder / "index.html").read_text()
    assert {"results.md", "results.csv", "results.png", "index.html"} <= {
        p.name for p in folder.iterdir()
    }
    assert re.search(r"<h3>thread pool</h3><table", page)
    assert "-k thread-UPLOAD-10MiB-c1-w1 --fileproto-report=" in page
    assert 'id="findings"' in page
    assert page.index('id="answer"') < page.index('id="findings"')
    # The terminal has the findings too, under the tables (after the answer, which names
    # the kinds that did not run); results.md has them as `fileproto report --md` does.
    out = run.stdout
    assert out.index("fileproto: the answer") < out.index("fileproto stress matrix")
    assert out.index("fileproto stress matrix") < out.index("fileproto findings")
    others = [kind.label for name, kind in KINDS.items() if name != "thread"]
    assert f"Not run: {' and '.join(others)} (add them with" in out
    findings_part = out[out.index("fileproto findings") :]
    assert "Failed clients\n--------------\n- No client failed: " in findings_part
    markdown = (folder / "results.md").read_text()
    assert markdown.startswith("## The answer") and "\n## Findings\n" in markdown
