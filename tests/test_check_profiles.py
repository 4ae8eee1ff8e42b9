"""``fileproto check`` in both profiles against servers with one known defect each
(tests/peers/defective_server.py, a correct classic-style text server given one defect at
a time; tests/peers/crossing_server.py, the same protocol in a process-pool server whose
answers cross connections, one design at a time). Ours pass in both profiles:
tests/test_conformance.py.

Each verdict is pinned in both profiles: one defect is one FAIL (or the few rules about
it), never a cascade; our stricter rules are NON-STRICT with ``--profile classic``; the
safety rules and what the classic text does say FAIL in both; a rule that needs what a
failed rule checks is BLOCKED, naming it; claims are only what was seen; nothing is left
behind, whatever form the server stored a name in. The default run reads the defective
peers' verdicts on the rules about their defects; ``-m exhaustive`` reads them on every
rule (a defect's one FAIL then has no other anywhere in the catalogue).
"""

from __future__ import annotations

import json
import re
import socket
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fileproto.cli.check import main as check
from fileproto.conformance import CATALOGUE, Outcome, Runner, Target
from fileproto.conformance.model import FEATURES
from fileproto.conformance.rules import concurrency
from fileproto.pytest.process import ServerProcess
from tests.helpers.servers import all_started, one_worker

pytestmark = one_worker("check_profiles")

PEERS = Path(__file__).resolve().parent / "peers"
sys.path.insert(0, str(PEERS))
from crossing_server import DESIGNS  # noqa: E402
from defective_server import DEFECTS, SPOOL  # noqa: E402

PROFILES = ("fileproto", "classic")
#: The correct peer, then one per defect.
NAMES = ("correct", *DEFECTS)
#: The crossing server's default design, checked with the others (its only defect is
#: that one client receives another's answers: docs/conformance.md, "Crossed answers").
CROSSING = "crossing"
#: Each of its other designs, and the rule whose order of requests makes it cross.
FORCED_BY = {
    "current-connection": "concurrency.own.1",
    "first-in-line": "concurrency.own.1",
    "finish-order": "concurrency.own.3",
    "pipeline-order": "concurrency.own.4",
}
#: What the report says it saw. An answer handed to the first in line when that is a
#: connection whose client has just closed (the server has not read its end yet) is lost,
#: and the connection it belonged to waits in vain.
CROSSED = r"connection [A-D]\b.*the answer to connection [A-D]'s GET of"
SEEN = {
    "current-connection": "connection B, with no request outstanding, received the answer "
    "to connection A's GET of",
    "first-in-line": CROSSED + r"|no answer within 5 s: connection B for its GET of",
    "finish-order": CROSSED,
    # A's small answer is ready first; B's two small ones race each other, and the rule
    # reports whichever round crossed first.
    "pipeline-order": r"connection ([AB])'s GET of '[^']+' was answered with the answer "
    r"to connection \1's GET of '[^']+'",
}
#: 50 rounds of four simultaneous uploads: long against the one-at-a-time server (each
#: round waits for a SYN retry), and about none of these defects.
SLOW = "concurrency.same-name.1"
BAD = ("FAIL", "NON-STRICT", "BLOCKED")
#: The peer that serves one connection at a time, and the rules it is checked on.
ONE_AT_A_TIME = "blocking"
ONE_AT_A_TIME_RULES = ["--only", "concurrency.queue.1", "--only", "concurrency.own.*"]
#: Of those, the ones the default run leaves to ``exhaustive``: their clients wait for the
#: kernel's SYN retries (1, 3, 7 s ... after the first) whenever the listen queue of one
#: is full, 2 to 14 s each here, for a PASS. The queue rule's 32 clients; own.3's sixteen
#: bursts of three, each a retry away when the server is still closing the previous
#: burst's last connection.
ONE_AT_A_TIME_LONG = ["concurrency.queue.1", "concurrency.own.3"]
#: The peers checked on every rule in both tiers: one of each family (the correct base of
#: the defects, and the crossing server).
WHOLE = ("correct", CROSSING)
#: What the tests below read of the defective peers: the rules about each defect and the
#: round trips beside them. The default run checks the defects on these; under
#: ``exhaustive`` on every rule, where "nothing else fails" then holds for the whole
#: catalogue (the correct peer passing every rule is the default run's check that the
#: base of the defects breaks none).
ABOUT_THE_DEFECTS = ["upload.ok.1", "delete.ok.1", "get.ok.1", "get.binary.1", "list.all.1",
                     "list.reflects.1", "list.sorted.1", "text.roundtrip.1", "text.large.1",
                     "text.name.1", "text.crlf.1", "names.utf8.1", "names.length.1",
                     "names.reduce.*", "names.outside.1", "base64.empty.1", "base64.padding.1",
                     "base64.unpadded.1", "errors.utf8.1"]  # fmt: skip


class DefectiveServer(ServerProcess):
    def __init__(self, defect: str, root: Path) -> None:
        super().__init__(f"peer-{defect}", 1, root, log_path=root.parent / f"{defect}.log")
        self.defect = defect

    @property
    def command(self) -> list[str]:
        extra = [] if self.defect == "correct" else ["--defect", self.defect]
        return [sys.executable, str(PEERS / "defective_server.py"), "--host", self.host,
                "--port", "0", "--root", str(self.root), *extra]  # fmt: skip


class CrossingServer(ServerProcess):
    def __init__(self, design: str, root: Path) -> None:
        super().__init__(f"crossing-{design}", 4, root, log_path=root.parent / f"{design}.log")
        self.design = design

    @property
    def command(self) -> list[str]:
        return [sys.executable, str(PEERS / "crossing_server.py"), "--host", self.host,
                "--port", "0", "--root", str(self.root), "--design", self.design,
                "--workers", str(self.workers)]  # fmt: skip


@pytest.fixture(scope="module")
def peers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    base = tmp_path_factory.mktemp("peers")
    servers: dict[str, ServerProcess] = {
        name: DefectiveServer(name, base / name / "root") for name in NAMES
    }
    servers[CROSSING] = CrossingServer(DESIGNS[0], base / CROSSING / "root")
    with all_started(servers):
        yield servers


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("some-rules", marks=pytest.mark.smoke),
        pytest.param("every-rule", marks=pytest.mark.exhaustive),
    ],
)
def reports(
    peers: dict[str, ServerProcess],
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
) -> dict[str, dict[str, Any]]:
    """profile -> label -> that target's JSON report: ``fileproto check`` of every peer
    (the peers checked at once, with --root), judged in both profiles. The correct and
    the crossing peer are checked on every rule; the defective ones on the rules about
    their defects (``some-rules``) or on every rule (``every-rule``, under
    ``exhaustive``). The one-at-a-time peer is checked beside them on the rules asked of
    it (the queue and the crossing rules, the longest of them under ``exhaustive`` only):
    each of its other rules waits for its clients in turn, about 16 s that no test here
    reads."""
    folder = tmp_path_factory.mktemp("reports")

    def one_check(names: list[str], rules: list[str], path: Path) -> dict[str, Any]:
        argv = []
        for name in names:
            server = peers[name]
            argv += [server.address, "--label", name, "--root", str(server.root)]
        # One run, judged in both profiles.
        check([*argv, "--profile", "fileproto", "--profile", "classic", "--exclude", SLOW,
               *rules, "--timeout", "5", "--json", str(path)])  # fmt: skip
        report: dict[str, Any] = json.loads(path.read_text())
        assert report["profiles"] == list(PROFILES)
        return report

    defects = [name for name in peers if name not in (*WHOLE, ONE_AT_A_TIME)]
    about = [arg for rule in ABOUT_THE_DEFECTS for arg in ("--only", rule)]
    one_at_a_time = [
        *ONE_AT_A_TIME_RULES,
        *(a for r in ONE_AT_A_TIME_LONG for a in ("--exclude", r)),
    ]
    if request.param == "every-rule":
        whole, defects, about = [*WHOLE, *defects], [], []
        one_at_a_time = ONE_AT_A_TIME_RULES
    else:
        whole = list(WHOLE)
    with ThreadPoolExecutor(max_workers=3) as pool:
        runs = [
            pool.submit(one_check, whole, [], folder / "report.json"),
            pool.submit(one_check, [ONE_AT_A_TIME], one_at_a_time, folder / "one.json"),
        ]
        if defects:
            runs.append(pool.submit(one_check, defects, about, folder / "defects.json"))
        targets = [t for run in runs for t in run.result()["targets"]]
    out: dict[str, dict[str, Any]] = {profile: {} for profile in PROFILES}
    for target in targets:
        out[target["profile"]][target["label"]] = target
    return out


def seen(reports: dict[str, dict[str, Any]], profile: str, name: str) -> dict[str, str]:
    return {r["id"]: r["outcome"] for r in reports[profile][name]["results"]}


def detail(reports: dict[str, dict[str, Any]], profile: str, name: str, rule: str) -> str:
    return str(next(r["detail"] for r in reports[profile][name]["results"] if r["id"] == rule))


def bad(reports: dict[str, dict[str, Any]], profile: str, name: str) -> dict[str, str]:
    return {r: o for r, o in seen(reports, profile, name).items() if o in BAD}


@pytest.mark.parametrize("profile", PROFILES)
def test_the_correct_peer_passes(reports: dict[str, dict[str, Any]], profile: str) -> None:
    """The base of every defect keeps every rule its dialect allows: a defect's verdicts
    below are the defect's alone."""
    assert bad(reports, profile, "correct") == {}


@pytest.mark.parametrize("profile", PROFILES)
def test_missing_fields_is_the_field_rules_only(
    reports: dict[str, dict[str, Any]], profile: str
) -> None:
    """UPLOAD and DELETE answer without data and data_namafile: the two rules about those
    answers, and nothing else; the round trips, read back with GET and LIST, PASS."""
    expected = "FAIL" if profile == "fileproto" else "NON-STRICT"
    assert bad(reports, profile, "missing-fields") == {
        "upload.ok.1": expected,
        "delete.ok.1": expected,
    }
    outcomes = seen(reports, profile, "missing-fields")
    round_trips = ["text.roundtrip.1", "text.large.1", "get.ok.1", "get.binary.1",
                   "list.reflects.1", "list.all.1", "names.utf8.1", "names.length.1",
                   "text.name.1", "text.crlf.1", "base64.empty.1", "base64.padding.1",
                   "names.reduce.1", "names.reduce.6"]  # fmt: skip
    assert {r: outcomes[r] for r in round_trips} == dict.fromkeys(round_trips, "PASS")
    assert "data_namafile" in detail(reports, profile, "missing-fields", "upload.ok.1")


@pytest.mark.parametrize("profile", PROFILES)
def test_a_glob_listing_fails_in_both(reports: dict[str, dict[str, Any]], profile: str) -> None:
    assert bad(reports, profile, "glob-list") == {"list.all.1": "FAIL"}
    seen_there = detail(reports, profile, "glob-list", "list.all.1")
    assert "a name without a dot is stored (GET returns it) but missing from LIST" in seen_there
    assert "a name starting with a dot is stored" in seen_there
    assert "UTF-8" not in seen_there and "255-byte" not in seen_there  # those are listed


@pytest.mark.parametrize(
    ("defect", "rule"),
    [("unsorted-list", "list.sorted.1"), ("strict-padding", "base64.unpadded.1")],
)
def test_our_stricter_rules_fail_by_default_only(
    reports: dict[str, dict[str, Any]], defect: str, rule: str
) -> None:
    assert bad(reports, "fileproto", defect) == {rule: "FAIL"}
    assert bad(reports, "classic", defect) == {rule: "NON-STRICT"}
    assert detail(reports, "classic", defect, rule).startswith(
        "not required in the classic profile: "
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_traversal_fails_in_both(reports: dict[str, dict[str, Any]], profile: str) -> None:
    outcomes = seen(reports, profile, "traversal")
    escapes = ["names.reduce.1", "names.reduce.2", "names.reduce.3", "names.outside.1"]
    assert {r: outcomes[r] for r in escapes} == dict.fromkeys(escapes, "FAIL")
    assert "written outside the root: found on disk at" in detail(
        reports, profile, "traversal", "names.reduce.1"
    )
    # What stays inside the root (a backslash is no separator here) is not called an
    # escape: in the classic profile it is only our stricter reduction.
    inside = detail(reports, profile, "traversal", "names.reduce.4")
    assert "outside the root" not in inside
    assert "stored inside the root under the unreduced name" in inside
    if profile == "classic":
        stricter = {r for r, o in bad(reports, profile, "traversal").items() if o == "FAIL"}
        assert stricter == set(escapes)


@pytest.mark.parametrize("profile", PROFILES)
def test_mangled_names_fail_once_and_are_swept(
    reports: dict[str, dict[str, Any]], profile: str
) -> None:
    """Bytes that are not UTF-8 are dropped from the name, so errors.utf8.1 stores
    ``(fpc-...`` under a name no rule made: the final sweep deletes it."""
    assert bad(reports, profile, "mangled-names") == {"errors.utf8.1": "FAIL"}
    assert reports[profile]["mangled-names"]["leftovers"] == []


@pytest.mark.parametrize("profile", PROFILES)
def test_one_client_at_a_time_does_not_cross_answers(
    reports: dict[str, dict[str, Any]], profile: str
) -> None:
    """One thread, listen(1): the crossing rules PASS, checked in the order such a server
    can serve (said in the note of the one that would need two connections served at
    once)."""
    outcomes = seen(reports, profile, "blocking")
    crossing = [r for r in outcomes if r.startswith("concurrency.own.")]
    assert {r: outcomes[r] for r in crossing} == dict.fromkeys(crossing, "PASS")
    checked = {"concurrency.own.1", "concurrency.own.2", "concurrency.own.4"}
    assert set(crossing) - set(ONE_AT_A_TIME_LONG) == checked
    assert "one connection at a time" in detail(reports, profile, "blocking", "concurrency.own.1")


@pytest.mark.parametrize(
    "reports", [pytest.param("every-rule", marks=pytest.mark.exhaustive)], indirect=True
)
@pytest.mark.parametrize("profile", PROFILES)
def test_one_client_at_a_time_is_queued_not_refused(
    reports: dict[str, dict[str, Any]], profile: str
) -> None:
    """One thread, listen(1): the 32 paced clients are all answered, one after another
    (their SYNs are retried while the listen queue is full); so are own.3's bursts."""
    outcomes = seen(reports, profile, "blocking")
    assert outcomes["concurrency.queue.1"] == "PASS"
    assert "32 clients" in detail(reports, profile, "blocking", "concurrency.queue.1")
    assert outcomes["concurrency.own.3"] == "PASS"


@pytest.mark.parametrize("profile", PROFILES)
def test_what_needs_a_failed_rule_is_blocked(
    reports: dict[str, dict[str, Any]], profile: str
) -> None:
    """Every UPLOAD is refused: upload.ok.1 FAILs, and the rules that needed to store a
    file say so, naming it, instead of failing too."""
    outcomes = bad(reports, profile, "read-only")
    assert outcomes["upload.ok.1"] == "FAIL"
    assert [r for r, o in outcomes.items() if o == "FAIL"] == ["upload.ok.1"]
    assert outcomes["get.ok.1"] == "BLOCKED"
    assert detail(reports, profile, "read-only", "get.ok.1").startswith(
        "not checked: upload.ok.1 is FAIL here"
    )


@pytest.mark.parametrize("profile", PROFILES)
def test_crossed_answers_fail_in_both_and_nothing_else(
    reports: dict[str, dict[str, Any]], profile: str
) -> None:
    """A receiver of the process-pool server keeps what a client sent past the request it
    answers when that client leaves: the client served next by that receiver (the fourth
    after it, handed out in turn) is answered the first one's requests, its file. One
    crossing rule FAILs, in both profiles (a privacy defect, not a strictness); the rest
    of the protocol, the other crossing rules included, PASSes."""
    assert bad(reports, profile, CROSSING) == {"concurrency.own.2": "FAIL"}
    seen_there = detail(reports, profile, CROSSING, "concurrency.own.2")
    assert re.search(r"B4 received the answer to connection A's GET of '[^']+-a\.bin' "
                     r"\(\d+ times\), then its own", seen_there), seen_there  # fmt: skip
    outcomes = seen(reports, profile, CROSSING)
    others = ["concurrency.own.1", "concurrency.own.3", "concurrency.own.4"]
    assert {r: outcomes[r] for r in others} == dict.fromkeys(others, "PASS")


@pytest.fixture(scope="module")
def designs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServerProcess]]:
    base = tmp_path_factory.mktemp("designs")
    servers: dict[str, ServerProcess] = {
        design: CrossingServer(design, base / design / "root") for design in FORCED_BY
    }
    with all_started(servers):
        yield servers


@pytest.mark.smoke
@pytest.mark.parametrize("design", list(FORCED_BY))
def test_each_crossing_design_fails_the_rule_that_forces_it(
    designs: dict[str, ServerProcess], design: str
) -> None:
    """The other ways answers cross (docs/conformance.md, "Crossed answers"): each fails,
    in both profiles, the rule whose order of requests makes that design cross, and the
    report says whose answer reached which connection."""
    server = designs[design]
    rule = next(r for r in CATALOGUE if r.id == FORCED_BY[design])
    runner = Runner(Target(server.host, server.port, design, server.root), timeout=5.0)
    for profile in PROFILES:
        result = runner.run_rule(rule, profile)
        assert result.outcome is Outcome.FAIL, (profile, result.detail)
        assert re.search(SEEN[design], result.detail), result.detail
    assert runner.sweep() == []


def test_every_root_is_left_as_it_was(
    reports: dict[str, dict[str, Any]], peers: dict[str, ServerProcess]
) -> None:
    """After the run: the roots hold what they held before (the peer's spool folder),
    nothing of ours is beside them or (written there through `../../tmp/x` and `/tmp/x`
    by the traversal peer) in /tmp, and no leftovers are reported."""
    for name, server in peers.items():
        assert sorted(p.name for p in server.root.iterdir()) == [SPOOL], name
        assert sorted(p.name for p in (server.root / SPOOL).iterdir()) == [], name
        beside = [p.name for p in server.root.parent.iterdir() if p.name.startswith("fpc-")]
        assert beside == [], name
        for profile in PROFILES:
            assert reports[profile][name]["leftovers"] == [], (name, profile)
    prefix = re.search(r"fpc-[0-9a-f]{8}-", json.dumps(reports["fileproto"]["traversal"]))
    assert prefix is not None
    assert [p for p in Path("/tmp").glob(f"{prefix.group()}*")] == []


@pytest.mark.smoke
def test_the_queue_rule_tells_never_connected_from_not_answered(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A socket that listens (queue of one) and never accepts: the handshakes the kernel
    completes for it are "connected but got no answer", the others "never connected"."""
    # Nothing happens after the first handshakes (the queue stays full, the SYNs retried
    # are dropped): a second of quiet tells as much as the rule's 16 s.
    monkeypatch.setattr(concurrency, "QUIET", 1.0)
    rule = next(r for r in CATALOGUE if r.id == "concurrency.queue.1")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        target = Target("127.0.0.1", listener.getsockname()[1])
        runner = Runner(target, timeout=2.0)
        # No probes: nobody answers them, and their connections would fill the queue.
        runner.probes.found.update(dict.fromkeys(FEATURES, False), text=True)
        result = runner.run_rule(rule)
    assert result.outcome is Outcome.FAIL
    assert re.search(r"of 32 clients \(connects 5 ms apart\), 0 were answered, "
                     r"\d+ never connected \(the handshake did not complete\), "
                     r"\d+ connected but got no answer", result.detail), result.detail  # fmt: skip
