"""``fileproto report TRACE.jsonl`` as a user gets it: the words, the table, the JSON, the
timeline and the page in a real browser, from a trace file written the way a server
writes one (docs/trace.md, "A trace read on its own")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.browser import Browser, chromium
from tests.helpers.cli import run_cli
from tests.helpers.servers import one_worker

pytestmark = [pytest.mark.smoke, one_worker("trace_page")]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEYS = ("conn", "peer", "total_s", "accept_wait_s", "queued_s", "served_s", "client_send_s",
        "client_read_s")  # fmt: skip

#: Three connections of a readiness-dispatch server: a slow reader (3), a slow sender
#: (4), a fast one (5); and a line torn by a crash.
EVENTS = [
    ("3", "accepted", {"peer": "127.0.0.1:40003", "accept_wait_s": 0.004}),
    ("3", "header", {"cmd": "GET"}),
    ("3", "taken", {"worker": "thread:1"}, 0.01),
    ("3", "given_back", {"why": "write", "waited_s": 0.001}, 0.1),
    ("4", "accepted", {"peer": "127.0.0.1:40004", "accept_wait_s": 0.0}, 0.2),
    ("4", "header", {"cmd": "UPLOAD"}, 0.2),
    ("4", "taken", {"worker": "thread:2"}, 0.21),
    # Preempted for a shorter request, taken again at once; then its client is slow.
    ("4", "given_back", {"why": "read", "waited_s": 0.0, "preempted": "shorter"}, 0.25),
    ("4", "ready", {"writing": False}, 0.25),
    ("4", "taken", {"worker": "thread:2"}, 0.26),
    ("4", "given_back", {"why": "read", "waited_s": 0.001}, 0.3),
    ("4", "ready", {"writing": False}, 4.0),
    ("4", "taken", {"worker": "thread:2"}, 4.01),
    ("4", "response", {"cmd": "UPLOAD", "status": "OK"}, 4.1),
    ("4", "closed", {"reason": "peer closed", "deadline": None, "last_sent_s": 0.0}, 4.1),
    ("3", "ready", {"writing": True}, 6.0),
    ("3", "taken", {"worker": "thread:1"}, 6.01),
    ("3", "response", {"cmd": "GET", "status": "OK"}, 6.2),
    ("3", "closed", {"reason": "peer closed", "deadline": None, "last_sent_s": 0.0}, 6.3),
    ("5", "accepted", {"peer": "127.0.0.1:40005", "accept_wait_s": 0.0}, 6.4),
    ("5", "header", {"cmd": "LIST"}, 6.4),
    ("5", "taken", {"worker": "thread:1"}, 6.4),
    ("5", "response", {"cmd": "LIST", "status": "OK"}, 6.45),
    ("5", "closed", {"reason": "peer closed", "deadline": None, "last_sent_s": 0.0}, 6.45),
]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("trace-page")
    trace = folder / "trace.jsonl"
    lines = []
    for conn, ev, fields, *at in EVENTS:
        mono = 1000.0 + (at[0] if at else 0.0)
        lines.append(json.dumps({"mono": mono, "t": 1.8e9 + mono, "conn": conn, "ev": ev,
                                 **fields}))  # fmt: skip
    trace.write_text("\n".join(lines) + '\n{"mono": 1006.5, "t": 1\n', encoding="utf-8")
    args = ["--json", "out.json", "--html", "out.html", "--png", "out.png", "--md", "out.md"]
    done = run_cli("report", trace, *args, cwd=folder)
    assert done.returncode == 0, done.stderr
    shown = run_cli("report", trace)
    assert shown.returncode == 0, shown.stderr
    text = shown.stdout
    yield folder, text


def test_the_words_name_whose_side_was_slow(report: tuple[Path, str]) -> None:
    _, text = report
    assert ("Connection 3 (127.0.0.1:40003, GET) spent 94% of its 6.3 s waiting for the "
            "client to read its answer: the client reads slowly.") in text  # fmt: skip
    assert ("Connection 4 (127.0.0.1:40004, UPLOAD) spent 95% of its 3.9 s waiting for the "
            "client to send its request: the client sends slowly.") in text  # fmt: skip
    # Too short beside the others to be told on its own; counted in the sums.
    assert "Connection 5" not in text and "3 connections (3 requests)" in text
    assert "1 line(s) that are not trace events were skipped." in text
    assert (
        "A worker let go of 1 of 3 connections while their bytes still moved, 1 time "
        "(1 for a request with less service): the schedule preempted them."
    ) in text
    (row,) = [line for line in text.splitlines() if line.lstrip().startswith("4  127")]
    assert "1 shorter" in row


def test_the_json_holds_every_connection_and_its_phases(report: tuple[Path, str]) -> None:
    folder, _ = report
    document = json.loads((folder / "out.json").read_text())
    connections = {c["conn"]: c for c in document["connections"]}
    assert set(connections) == {"3", "4", "5"}
    for conn in connections.values():
        assert all(key in conn for key in KEYS), conn
    reader = connections["3"]
    assert reader["accept_wait_s"] == 0.004 and reader["client_read_s"] == pytest.approx(5.901)
    (request,) = reader["requests"]
    assert (request["cmd"], request["status"]) == ("GET", "OK")
    assert reader["preempted"] == []
    assert connections["4"]["preempted"] == [{"at_s": pytest.approx(0.25), "why": "shorter"}]


def test_the_timeline_and_the_markdown_are_written(report: tuple[Path, str]) -> None:
    folder, _ = report
    assert (folder / "out.png").read_bytes().startswith(PNG_MAGIC)
    markdown = (folder / "out.md").read_text()
    assert "| conn | peer | requests |" in markdown and "127.0.0.1:40004" in markdown
    assert "| preempted | ended |" in markdown


@pytest.fixture(scope="module")
def browser() -> Any:
    executable = chromium()
    if executable is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    with Browser(executable) as opened:
        yield opened


def test_the_page_shows_its_findings_timeline_and_table(
    report: tuple[Path, str], browser: Browser
) -> None:
    folder, _ = report
    seen = browser.load(
        (folder / "out.html").as_uri(),
        """(() => ({
          findings: [...document.querySelectorAll("#trace .findings li")].map(l => l.innerText),
          images: [...document.images].map(i => [i.complete, i.naturalWidth, i.alt]),
          rows: document.querySelectorAll("#trace table tbody tr").length,
        }))()""",
    )
    assert not seen.errors and not seen.remote_requests
    assert seen.value["rows"] == 3
    (image,) = seen.value["images"]
    assert image[0] and image[1] > 500 and image[2] == "timeline of trace.jsonl"
    assert any("the client reads slowly" in f for f in seen.value["findings"])
