"""Each server kind, read from the one registry, and the two tiers of a cross product.

A test that checks the same behaviour on every kind (or every mode: kind x dispatch)
takes its parameters from ``each_kind()`` / ``each_mode()``. The first kind's copy runs
in the default run (``smoke``) and, against ``--fileproto-target``, is the one kept;
every copy is marked ``exhaustive`` and runs with ``pytest -m exhaustive``
(docs/architecture.md, "7. Tests"). ``representative()`` adds the cases that run on
every kind by default. A behaviour the session or the wire decides once for every kind
needs no more than that: the drivers' own behaviour is tested in process
(tests/test_drivers.py and beside it) and once per kind on a representative set.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from fileproto.server.registry import KINDS, MODES

#: The kinds whose dispatch is a choice (``--dispatch ready|accept``): the pools.
POOL_KINDS: tuple[str, ...] = tuple(name for name, kind in KINDS.items() if kind.dispatches)


def tiered(names: Iterable[str]) -> list[Any]:
    names = list(names)
    return [
        pytest.param(
            name,
            id=name,
            marks=[pytest.mark.exhaustive, *([pytest.mark.smoke] if index == 0 else [])],
        )
        for index, name in enumerate(names)
    ]


def every_kind() -> list[str]:
    """Every kind, each in the default run: what each driver does its own way, tested
    once per kind on a representative set."""
    return list(KINDS)


def each_kind() -> list[Any]:
    """Every kind; the first one's copy in the default run, all under ``exhaustive``."""
    return tiered(KINDS)


def each_mode() -> list[Any]:
    """Every kind in every dispatch (``MODES``); the first in the default run."""
    return tiered(MODES)


def representative(cases: Iterable[str], everywhere: Iterable[str]) -> list[Any]:
    """The cases of a test parametrized with ``each_kind()`` too: the ``everywhere``
    ones are marked ``smoke``, so that the default run has them on every kind (and the
    first kind's copy of every other). Marks on two parameters, not one on the pair:
    a server fixture parametrized by kind is then started once per kind, not per pair."""
    everywhere = set(everywhere)
    return [
        pytest.param(case, id=case, marks=[pytest.mark.smoke] if case in everywhere else [])
        for case in cases
    ]
