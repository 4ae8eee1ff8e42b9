"""Anybody's server explained from our client's side (fileproto/report/mirror.py,
docs/trace.md): what TCP told the client is recorded per request, and the report says
where a request's time went against a server it could not trace."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fileproto.client import Client
from fileproto.pytest.process import ServerProcess
from fileproto.report.cases import Case
from fileproto.report.mirror import mirror_findings, mirror_of
from fileproto.report.phases import HELD_BACK, REACHING, client_segments
from fileproto.report.requests import Request
from fileproto.results import LoadResult
from fileproto.results.timeline import ClientSpan, TcpSpan, Timeline, timeline_of
from fileproto.tcpinfo import Stalls
from tests.helpers.classroom import ClassroomServer
from tests.helpers.cli import run_cli
from tests.helpers.servers import one_worker

pytestmark = [
    pytest.mark.smoke,
    one_worker("mirror"),
    pytest.mark.skipif(sys.platform != "linux", reason="TCP_INFO is Linux's"),
]

MIB = 1 << 20


def _request(sending: Stalls | None, waiting: Stalls | None, **marks: float) -> Request:
    times = {"connect": 0.0, "connected": 0.1, "sent": 4.2, "first_byte": 6.7, "done": 6.7}
    times.update(marks)
    return Request(0, "UPLOAD", 5000, True, None, tcp=TcpSpan(sending, waiting, 2_600_000),
                   **times)  # fmt: skip


def _case(*requests: Request) -> Case:
    result = LoadResult(
        operation="UPLOAD", size_mib=10, size_bytes=10 * MIB, client_workers=len(requests),
        server_workers="external", server_kind="external", method="thread", avg_time_s=6.6,
        throughput_Bps=1.0, aggregate_Bps=1.0, wall_time_s=6.7, successes=len(requests),
        failures=0, verified=True, first_error=None,
    )  # fmt: skip
    return Case(result, (), requests=requests, has_timeline=True)


def test_the_held_back_part_ends_the_sending_and_the_reaching_part_begins_the_wait() -> None:
    request = _request(Stalls(4.1, 3.9, 0.0), Stalls(1.9, 1.8, 0.0))
    segments = [(s.phase, round(s.start, 6), round(s.end, 6)) for s in client_segments(request)]
    assert segments == [
        ("connecting", 0.0, 0.1),
        ("sending", 0.1, 0.3),
        (HELD_BACK, 0.3, 4.2),
        (REACHING, 4.2, 6.1),
        ("waiting for first byte", 6.1, 6.7),
        ("receiving", 6.7, 6.7),
    ]


def test_a_stall_longer_than_its_phase_is_cut_to_it() -> None:
    # The kernel counts in ticks: a reading may pass the phase's own clock by one.
    request = _request(Stalls(5.0, 4.2, 0.0), None, sent=4.2)
    held = [s for s in client_segments(request) if s.phase == HELD_BACK]
    assert [(round(s.start, 6), s.end) for s in held] == [(0.1, 4.2)]


def test_the_words_say_the_server_reads_slowly() -> None:
    case = _case(_request(Stalls(4.1, 3.9, 0.0), Stalls(1.9, 1.8, 0.0)))
    (text,) = mirror_findings([case])
    assert text.startswith("UPLOAD 10 MiB, 1 client: a request took 6.7 s on average")
    assert "4.1 s sending, 95% of it with the server's receive window closed" in text
    assert "2.5 s from the last byte written to the answer, the first 1.9 s of it" in text
    assert text.endswith("The server reads slowly.")


def test_in_a_run_of_several_servers_each_sentence_names_its_own() -> None:
    request = _request(Stalls(4.1, 3.9, 0.0), Stalls(1.9, 1.8, 0.0))
    one = _case(request)
    thread = dataclasses.replace(one.result, server_kind="thread", server_workers=5)
    texts = mirror_findings([one, dataclasses.replace(one, result=thread)])
    assert texts[0].startswith("UPLOAD 10 MiB, 1 client, external server: ")
    assert texts[1].startswith("UPLOAD 10 MiB, 1 client, thread pool on 5 workers: ")


def test_a_server_that_has_the_request_and_takes_its_time() -> None:
    request = _request(Stalls(0.1, 0.0, 0.0), Stalls(0.0, 0.0, 0.0), sent=0.2, first_byte=6.0,
                       done=6.1)  # fmt: skip
    (text,) = mirror_findings([_case(request)])
    assert "receive window" not in text
    assert text.endswith("queued behind other clients or working (from the client's side the "
                         "two cannot be told apart).")  # fmt: skip


def test_without_tcp_figures_nothing_is_said() -> None:
    plain = Request(0, "UPLOAD", 5000, True, None, 0.0, 0.1, 4.2, 6.7, 6.7)
    assert mirror_of(_case(plain)) is None and mirror_findings([_case(plain)]) == []
    assert [s.phase for s in client_segments(plain)] == [
        "connecting", "sending", "waiting for first byte", "receiving"]  # fmt: skip


def test_the_record_keeps_what_tcp_told() -> None:
    span = ClientSpan(3, "UPLOAD", 5000, True, None, 0.0, 0.1, 4.2, 6.7, 6.7,
                      TcpSpan(Stalls(4.1, 3.9, 0.0), Stalls(1.9, 1.8, 0.0), 2_600_000))  # fmt: skip
    raw = json.loads(json.dumps(Timeline.bounded([span], []).as_dict()))
    assert raw["clients"][0]["tcp"]["sending"]["rwnd_limited_s"] == 3.9
    assert timeline_of(raw).clients == (span,)
    raw["clients"][0]["tcp"]["waiting"]["busy_s"] = "slow"
    with pytest.raises(TypeError, match=r"tcp\.waiting\.busy_s"):
        timeline_of(raw)


# -- against real servers ------------------------------------------------------------------


@pytest.fixture(scope="module")
def classroom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClassroomServer]:
    with ClassroomServer("json", tmp_path_factory.mktemp("classroom") / "root") as server:
        yield server


def _stress(server: str, folder: Path, *args: str) -> tuple[dict[str, Any], str]:
    """``fileproto stress -s SERVER ... --json`` then ``fileproto report``, as a user
    would: the case's record and the report's text."""
    record = folder / "run.json"
    subprocess.run(
        [sys.executable, "-m", "fileproto", "stress", "-s", server, "--json", str(record),
         "--no-progress", "--no-probe", *args],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    report = run_cli("report", record)
    assert report.returncode == 0, report.stderr
    (bench,) = json.loads(record.read_text())["benchmarks"]
    return bench["extra_info"], report.stdout


def test_a_classroom_server_reads_slowly_and_the_report_says_so(
    classroom: ClassroomServer, tmp_path: Path
) -> None:
    """The classroom server looks for the request's end in its whole buffer after every
    4 KiB it reads: it takes an upload ever more slowly, and TCP holds our client back."""
    info, text = _stress(classroom.address, tmp_path, "-o", "UPLOAD", "--size-mib", "2",
                         "--clients", "1")  # fmt: skip
    (entry,) = info["timeline"]["clients"]
    tcp = entry["tcp"]
    request = entry["first_byte"] - entry["connected"]
    # Held back while sending, or its end still in our buffers after it was written.
    not_taken = tcp["sending"]["rwnd_limited_s"] + tcp["waiting"]["busy_s"]
    assert not_taken / request > 0.5, entry
    assert "UPLOAD 2 MiB, 1 client: a request took" in text
    assert "The server reads slowly." in " ".join(text.split())


def test_our_server_takes_a_request_as_it_comes(tmp_path: Path) -> None:
    """Against a server that reads as the bytes come, a download's request (a line) is
    never held back, and the client's readings cost three per request."""
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "f.bin").write_bytes(b"x" * MIB)
    with ServerProcess("thread", 2, tmp_path / "root") as server, \
            Client("127.0.0.1", server.port) as client:  # fmt: skip
        client.get("f.bin")
        phases = client.last_phases
    assert phases is not None and phases.sending is not None and phases.waiting is not None
    assert phases.sending.rwnd_limited_s == 0.0 and phases.waiting.rwnd_limited_s == 0.0
    assert phases.unsent_at_sent is not None
