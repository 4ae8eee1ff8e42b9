"""What a rule is, what running one can give, and the registry rules add themselves to."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"
    INFO = "INFO"


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NON_STRICT = "NON-STRICT"
    UNSUPPORTED = "UNSUPPORTED"
    INFO = "INFO"


#: Report order: the worst first.
OUTCOMES = (Outcome.FAIL, Outcome.NON_STRICT, Outcome.UNSUPPORTED, Outcome.INFO, Outcome.PASS)

#: Areas in catalogue order; every rule id starts with one of them.
AREAS = (
    "framing",
    "json",
    "text",
    "list",
    "get",
    "upload",
    "delete",
    "names",
    "base64",
    "errors",
    "concurrency",
)

#: Optional features a rule may need, each found by one probe (see runner.Probes).
FEATURES = {
    "json": "the JSON envelope dialect",
    "text": "the text dialect",
    "keepalive": "several requests on one connection",
    "pipelining": "pipelined requests",
    "alias.download": "the DOWNLOAD alias",
    "alias.put": "the PUT alias",
    "alias.post": "the POST alias",
}

_ID = re.compile(r"^[a-z0-9]+\.[a-z0-9-]+\.[0-9]+$")


class Violation(Exception):
    """The server broke the rule being checked; the message says what was seen."""


class Unsupported(Exception):
    """The rule cannot apply: the server lacks an optional feature (or a dialect)."""


#: A check talks to the server; it returns a note for the report (or None) and raises
#: Violation when the server breaks the requirement.
#: A rule's check, called with a ``context.Context`` (typed loosely here, so that this,
#: the catalogue's bottom module, imports nothing of the package).
Check = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Rule:
    id: str
    level: Level
    section: str
    requirement: str
    check: Check = field(compare=False, repr=False)
    #: Features the rule needs (FEATURES keys). A rule that names a dialect here runs in
    #: that dialect; the others run in one the server speaks.
    needs: tuple[str, ...] = ()

    @property
    def area(self) -> str:
        return self.id.split(".", 1)[0]

    @property
    def dialect(self) -> str | None:
        for name in ("json", "text"):
            if name in self.needs:
                return name
        return None


@dataclass
class Result:
    rule: Rule
    outcome: Outcome
    detail: str
    duration_s: float

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.rule.id,
            "level": str(self.rule.level),
            "outcome": str(self.outcome),
            "requirement": self.rule.requirement,
            "section": self.rule.section,
            "detail": self.detail,
            "duration_s": round(self.duration_s, 4),
        }


_REGISTRY: list[Rule] = []


def rule(
    rule_id: str, level: Level, section: str, requirement: str, needs: tuple[str, ...] = ()
) -> Callable[[Check], Check]:
    """Register the decorated check as a rule of the catalogue."""
    if not _ID.match(rule_id) or rule_id.split(".", 1)[0] not in AREAS:
        raise ValueError(f"bad rule id {rule_id!r}")
    unknown = set(needs) - set(FEATURES)
    if unknown:
        raise ValueError(f"{rule_id}: unknown features {sorted(unknown)}")

    def register(check: Check) -> Check:
        if any(r.id == rule_id for r in _REGISTRY):
            raise ValueError(f"duplicate rule id {rule_id}")
        _REGISTRY.append(Rule(rule_id, level, section, " ".join(requirement.split()), check, needs))
        return check

    return register


def registered() -> list[Rule]:
    return list(_REGISTRY)


def failure_outcome(level: Level) -> Outcome:
    """What a broken requirement of this level is reported as."""
    return {
        Level.MUST: Outcome.FAIL,
        Level.MAY: Outcome.FAIL,  # the feature is there but broken: its MUST is broken
        Level.SHOULD: Outcome.NON_STRICT,
        Level.INFO: Outcome.INFO,
    }[level]


@dataclass(frozen=True)
class Target:
    host: str
    port: int
    label: str = ""
    #: The server's root folder, when it runs here and the user said where (``--root``):
    #: escapes are then also looked for on disk.
    root: Path | None = None

    @property
    def address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def name(self) -> str:
        return self.label or self.address
