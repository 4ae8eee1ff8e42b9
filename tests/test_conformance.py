"""The conformance catalogue against our own servers, every kind: each rule must PASS
(or be an observation, INFO) in both profiles, fileproto and classic (what a rule saw is
judged in each; the check runs once). Nothing may be UNSUPPORTED: our servers implement
every optional feature, both dialects included.

The servers are started once per session by the conformance plugin
(``fileproto.pytest.conformance``), which sees the ``fileproto_catalogue`` marker
and adds no rule items of its own, so ``pytest -m conformance`` runs each rule once per
kind. The default run has every rule on the first kind and the first rule of each area
on every kind and dispatch; ``pytest -m exhaustive`` runs every rule on every one.
With ``--fileproto-target`` the plugin deselects these and checks the target.
The catalogue's own workings (reports, the command line, other servers) are tested in
tests/test_check_cli.py and tests/test_peers.py.
"""

from __future__ import annotations

import pytest

from fileproto.conformance import CATALOGUE, Outcome, Rule
from fileproto.conformance.classic import PROFILES
from fileproto.pytest.conformance import ConformanceSession
from fileproto.server.registry import MODES

pytestmark = [pytest.mark.conformance, pytest.mark.fileproto_catalogue]

#: The first rule of each area: run on every kind and dispatch in the default run.
REPRESENTATIVES = {rule.area: rule for rule in reversed(CATALOGUE)}.values()
FIRST_MODE = next(iter(MODES))


def _cases() -> list[object]:
    """Every rule x every mode under ``exhaustive``; in the default run every rule on the
    first mode (the catalogue's own code) and one rule of each area on every mode."""
    cases: list[object] = []
    for rule in CATALOGUE:
        for mode in MODES:
            default = mode == FIRST_MODE or rule in REPRESENTATIVES
            marks = [pytest.mark.exhaustive, *([pytest.mark.smoke] if default else [])]
            cases.append(pytest.param(rule, mode, id=f"{rule.id}-{mode}", marks=marks))
    return cases


@pytest.mark.parametrize(("rule", "server"), _cases())
def test_our_server_keeps_the_rule(
    fileproto_conformance: ConformanceSession, rule: Rule, server: str
) -> None:
    for profile in PROFILES:
        result = fileproto_conformance.runner(server).run_rule(rule, profile)
        assert result.outcome in (Outcome.PASS, Outcome.INFO), (
            f"{result.outcome} {rule.id} in the {profile} profile [{rule.level}, section "
            f"{rule.section}]\nrequirement: {rule.requirement}\nseen: {result.detail}"
        )
