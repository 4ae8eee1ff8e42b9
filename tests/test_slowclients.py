"""Clients that wait (issue 12): the slow-client matrix, and the wiring under it.

``pytest -m slowclients`` runs the matrix of :mod:`fileproto.scenarios`: server kind x
dispatch x server workers x scenario, each case a pytest-benchmark benchmark whose
extra_info carries what clients felt. Failed clients are the result there (a 1-worker
server cannot serve 20 slow links within the deadline), not a test failure. The smoke
tests below check the same wiring with small numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fileproto.scenarios import SlowCase


def test_slowclients(
    fileproto_slow_case: SlowCase,
    fileproto_run_slow_case: Callable[[SlowCase], dict[str, Any]],
) -> None:
    info = fileproto_run_slow_case(fileproto_slow_case)
    # The runner failed the test if a completed transfer did not verify or the server
    # died; what is left is that the case's figures add up.
    assert info["successes"] + info["failures"] == fileproto_slow_case.scenario.clients
    assert info["scenario"] == fileproto_slow_case.scenario.name
