"""The conformance checker's interfaces: the catalogue itself, ``fileproto check`` (exit
status, reports, isolation of concurrent runs) and the pytest items.

Runs against our thread server, the one the conformance plugin starts for the session.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fileproto.cli.check import build_parser
from fileproto.cli.check import main as check
from fileproto.conformance import CATALOGUE, select_rules
from fileproto.conformance.classic import SENTENCES
from fileproto.conformance.model import AREAS, FEATURES, Level, Target
from fileproto.pytest.conformance import ConformanceSession
from fileproto.server.registry import MODES

RunPytest = Callable[..., subprocess.CompletedProcess[str]]

REPO = Path(__file__).resolve().parent.parent
SPEC = REPO / "docs" / "protocol.md"


@pytest.fixture
def ours(fileproto_conformance: ConformanceSession) -> Target:
    return fileproto_conformance.runner("thread").target


def _fileproto(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fileproto", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=REPO,
    )


# -- the catalogue ------------------------------------------------------------------------


@pytest.mark.smoke
def test_catalogue_has_stable_ids_in_every_area() -> None:
    ids = [rule.id for rule in CATALOGUE]
    assert len(ids) >= 60
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[a-z0-9]+\.[a-z0-9-]+\.[0-9]+", i) for i in ids)
    assert {rule.area for rule in CATALOGUE} == set(AREAS)


@pytest.mark.smoke
def test_every_requirement_is_quoted_from_the_spec() -> None:
    spec = " ".join(SPEC.read_text().split())
    sections = set(re.findall(r"^(\d+\.\d+) ", SPEC.read_text(), re.MULTILINE))
    for rule in CATALOGUE:
        assert rule.requirement in spec, rule.id
        assert rule.section in sections, rule.id
        if rule.level is Level.MAY:
            assert rule.needs, f"{rule.id}: an optional feature needs its probe"
        elif rule.level is not Level.INFO:
            assert str(rule.level) in rule.requirement, rule.id
        assert set(rule.needs) <= set(FEATURES)


@pytest.mark.smoke
def test_every_classic_rule_names_its_sentence_in_the_docs() -> None:
    """docs/classic-protocol.md says which sentence of the classic text each rule of the
    classic profile rests on: every such rule is in its table, in its sentence's row."""
    text = (REPO / "docs" / "classic-protocol.md").read_text()
    table = text[text.index("| sentence | rules |") :]
    rows = [line for line in table.splitlines() if line.startswith("| ")][2:]
    for rule in CATALOGUE:
        found = [row for row in rows if f"`{rule.id}`" in row]
        if rule.classic is None:
            assert found == [], rule.id
            continue
        assert len(found) == 1, rule.id
        if rule.classic != "safety":
            key_words = SENTENCES[rule.classic].split("...")[-1].split()[-3:]
            assert all(w.strip('"') in found[0] for w in key_words), (rule.id, key_words)


@pytest.mark.smoke
def test_only_and_exclude_select_by_glob() -> None:
    names = select_rules(CATALOGUE, only=["names.*"], exclude=["names.invalid.*"])
    assert names and all(r.id.startswith("names.") for r in names)
    assert not any(r.id.startswith("names.invalid.") for r in names)
    assert select_rules(CATALOGUE, only=["nothing.*"]) == []


# -- the command line ---------------------------------------------------------------------


@pytest.mark.smoke
def test_list_prints_the_catalogue_without_connecting(capsys: pytest.CaptureFixture[str]) -> None:
    assert check(["--list"]) == 0
    out = capsys.readouterr().out
    for rule in CATALOGUE:
        profiles = ", ".join(rule.profiles)
        assert f"{rule.id}  [{rule.level}, section {rule.section}]  profiles: {profiles}" in out
    assert f"\n{len(CATALOGUE)} rules, " in out


@pytest.mark.smoke
def test_list_says_which_profiles_hold_each_rule(capsys: pytest.CaptureFixture[str]) -> None:
    """Our stricter rules are held by the fileproto profile only; the safety rules and
    the classic ones by both, each naming the classic sentence it rests on."""
    assert check(["--list", "--profile", "classic"]) == 0
    out = capsys.readouterr().out
    by_id = {rule.id: rule for rule in CATALOGUE}
    for ours_only in ("list.sorted.1", "base64.unpadded.1", "framing.whitespace.1",
                      "text.crlf.1", "names.reduce.5"):  # fmt: skip
        assert by_id[ours_only].profiles == ("fileproto",)
        (line,) = [x for x in out.splitlines() if x.startswith(f"{ours_only}  [")]
        assert "profiles: fileproto " in line
        assert line.endswith("(not held by classic: NON-STRICT there)")
    for both in ("names.outside.1", "errors.server.1", "list.all.1", "get.ok.1", "upload.ok.1"):
        assert by_id[both].profiles == ("fileproto", "classic")
    assert "classic: LIST * TUJUAN: untuk mendapatkan daftar seluruh file" in out
    held = sum(1 for r in CATALOGUE if "classic" in r.profiles or r.level is Level.INFO)
    assert out.rstrip().endswith(f"{len(CATALOGUE)} rules, {held} held by the classic profile")


@pytest.mark.smoke
def test_help_explains_every_option() -> None:
    parser = build_parser()
    text = parser.format_help()
    for action in parser._actions:
        assert action.help, action.dest
        for option in action.option_strings:
            assert option in text
    assert "exit status" in text


@pytest.mark.smoke
def test_fileproto_check_is_a_subcommand() -> None:
    listed = _fileproto("check", "--list", "--only", "get.*")
    assert listed.returncode == 0, listed.stderr
    assert "get.ok.1" in listed.stdout and "names." not in listed.stdout
    assert "check" in _fileproto("--help").stdout


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.smoke
def test_unreachable_server_is_exit_2_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    assert check([address, "--timeout", "2"]) == 2
    err = capsys.readouterr().err
    assert address in err and "cannot connect" in err


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["not-an-address"],
        ["127.0.0.1:1", "--only", "nothing.*"],
        ["127.0.0.1:1", "--label", "a", "--label", "b"],
        ["--label", "a", "127.0.0.1:1"],
        ["127.0.0.1:1", "--label", "a", "127.0.0.1:2", "--label", "b", "--label", "c"],
        ["127.0.0.1:1", "--timeout", "0"],
        ["127.0.0.1:1", "--profile", "strictest"],
        ["127.0.0.1:1", "--no-such-option"],
    ],
    ids=[
        "no-target",
        "bad-address",
        "no-rule",
        "labels",
        "label-first",
        "two-labels-one-target",
        "timeout",
        "profile",
        "unknown-option",
    ],
)
@pytest.mark.smoke
def test_usage_errors_are_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        check(argv)
    assert exit_info.value.code == 2


@pytest.mark.smoke
def test_reports_against_our_server(
    ours: Target, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {kind: tmp_path / f"report.{kind}" for kind in ("json", "md", "html")}
    argv = [ours.address, ours.address, "--label", "one", "--label", "two"]
    argv += ["--only", "list.*", "--only", "get.ok.1", "--only", "errors.named.1"]
    argv += [f"--{kind}={path}" for kind, path in paths.items()]
    assert check(argv) == 0
    assert "one (" in capsys.readouterr().out

    report = json.loads(paths["json"].read_text())
    assert set(report) == {"tool", "version", "profiles", "targets"}
    assert report["profiles"] == ["fileproto"]
    assert [t["label"] for t in report["targets"]] == ["one", "two"]
    for target in report["targets"]:
        assert set(target) == {"target", "label", "profile", "results", "summary", "leftovers"}
        assert target["target"] == ours.address
        assert target["leftovers"] == []
        fields = {"id", "level", "outcome", "requirement", "section", "profiles", "detail",
                  "duration_s"}  # fmt: skip
        assert all(set(r) == fields for r in target["results"])
        assert [r["id"] for r in target["results"]] == ["list.ok.1", "list.sorted.1",
                                                        "list.reflects.1", "list.all.1",
                                                        "get.ok.1", "errors.named.1"]  # fmt: skip
        assert target["summary"] == {"PASS": 5, "FAIL": 0, "NON-STRICT": 0, "BLOCKED": 0,
                                     "UNSUPPORTED": 0, "INFO": 1}  # fmt: skip

    markdown = paths["md"].read_text()
    assert "| rule | level | section | one | two |" in markdown
    assert "| `get.ok.1` | MUST | 5.3 | PASS | PASS |" in markdown

    page = paths["html"].read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<details>") == 2 * 6  # every cell opens its detail
    assert not re.search(r"""(src|href)=["']?https?:""", page), "not self-contained"


@pytest.mark.smoke
def test_a_label_and_a_root_may_follow_each_target(ours: Target, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    assert ours.root is not None
    argv = [ours.address, "--label", "first", "--root", str(ours.root), ours.address,
            "--label", "second", "--only", "list.ok.1", "--json", str(out)]  # fmt: skip
    assert check(argv) == 0
    assert [t["label"] for t in json.loads(out.read_text())["targets"]] == ["first", "second"]
    # The older form, every label after every target, still means one each in order.
    assert check([ours.address, ours.address, "--label", "a", "--label", "b",
                  "--only", "list.ok.1", "--json", str(out)]) == 0  # fmt: skip
    assert [t["label"] for t in json.loads(out.read_text())["targets"]] == ["a", "b"]


def _outcomes(path: Path) -> dict[str, str]:
    (target,) = json.loads(path.read_text())["targets"]
    return {r["id"]: r["outcome"] for r in target["results"]}


@pytest.mark.parametrize(
    "rules",
    [
        # The default run: the rules that store, list and remove names, where two runs
        # at once could see (or sweep) each other's files.
        pytest.param(
            ("--only", "upload.*", "--only", "list.*", "--only", "delete.*", "--only", "get.*"),
            id="shared-names",
            marks=pytest.mark.smoke,
        ),
        pytest.param((), id="every-rule", marks=pytest.mark.exhaustive),
    ],
)
def test_runs_at_once_and_in_a_row_agree(
    ours: Target, tmp_path: Path, rules: tuple[str, ...]
) -> None:
    """Two catalogues at once against one server, then a third: same outcomes, every
    rule PASS or INFO, and no file of theirs left in the root."""

    def run(index: int) -> subprocess.CompletedProcess[str]:
        out = str(tmp_path / f"{index}.json")
        return _fileproto("check", ours.address, *rules, "--json", out)

    with ThreadPoolExecutor(max_workers=2) as pool:
        together = list(pool.map(run, [1, 2]))
    after = run(3)
    for result in [*together, after]:
        assert result.returncode == 0, result.stdout + result.stderr
    first = _outcomes(tmp_path / "1.json")
    assert set(first.values()) <= {"PASS", "INFO"}
    assert _outcomes(tmp_path / "2.json") == first
    assert _outcomes(tmp_path / "3.json") == first
    assert ours.root is not None
    assert [p.name for p in ours.root.iterdir() if p.name.startswith("fpc-")] == []


# -- pytest -------------------------------------------------------------------------------


def _collected(run_pytest: RunPytest, *args: str) -> list[str]:
    result = run_pytest("--collect-only", "-q", *args)
    assert result.returncode in (0, 5), result.stdout + result.stderr
    return [line for line in result.stdout.splitlines() if line and " " not in line]


@pytest.mark.smoke
def test_rule_items_only_when_conformance_is_asked_for(run_pytest: RunPytest) -> None:
    plain = _collected(run_pytest, "tests/test_report.py")
    assert plain and all(i.startswith("tests/test_report.py::") for i in plain)
    items = _collected(run_pytest, "-m", "conformance", "tests/test_report.py")
    expected = [f"{rule.id}[{server}]" for server in MODES for rule in CATALOGUE]
    assert items == expected


@pytest.mark.smoke
def test_no_rule_runs_twice_in_this_repository(run_pytest: RunPytest) -> None:
    """tests/test_conformance.py already runs the catalogue: the plugin adds nothing."""
    items = _collected(
        run_pytest, "-m", "conformance", "tests/test_conformance.py", "tests/test_report.py"
    )
    prefix = "tests/test_conformance.py::test_our_server_keeps_the_rule["
    assert all(i.startswith(prefix) for i in items)
    expected = {f"{rule.id}-{server}" for server in MODES for rule in CATALOGUE}
    ids = [i.removeprefix(prefix).removesuffix("]") for i in items]
    assert sorted(ids) == sorted(expected)


@pytest.mark.smoke
def test_target_items_are_named_by_rule_id(run_pytest: RunPytest) -> None:
    items = _collected(run_pytest, "-m", "conformance", "--fileproto-target", "127.0.0.1:9",
                       "tests/test_conformance.py")  # fmt: skip
    assert items == [rule.id for rule in CATALOGUE]


@pytest.mark.smoke
def test_outcomes_map_to_pytest(
    tmp_path: Path, fileproto_conformance: ConformanceSession, run_pytest: RunPytest
) -> None:
    """Against our server: PASS passes, and the junit report names each rule."""
    address = fileproto_conformance.runner("thread").target.address
    junit = tmp_path / "junit.xml"
    result = run_pytest("-m", "conformance", f"--fileproto-target={address}", f"--junitxml={junit}",
                     "-k", "list or get.ok", "tests/test_report.py")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    names = re.findall(r'<testcase classname="[^"]*" name="([^"]+)"', junit.read_text())
    assert names == ["list.ok.1", "list.sorted.1", "list.reflects.1", "list.all.1", "get.ok.1"]


@pytest.mark.smoke
def test_unreachable_target_fails_every_item_with_the_address(run_pytest: RunPytest) -> None:
    address = f"127.0.0.1:{_closed_port()}"
    result = run_pytest("-m", "conformance", f"--fileproto-target={address}", "-k", "list",
                     "tests/test_report.py")  # fmt: skip
    assert result.returncode == 1
    assert "4 failed" in result.stdout and f"cannot connect to {address}" in result.stdout
