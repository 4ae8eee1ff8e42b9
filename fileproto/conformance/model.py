"""What a rule is, what running one can give, and the registry rules add themselves to."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from fileproto.conformance.classic import FILEPROTO, SAFETY, SENTENCES, profiles_of


class Level(StrEnum):
    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"
    INFO = "INFO"


class Outcome(StrEnum):
    PASS = "PASS"
    FAIL = "FAIL"
    NON_STRICT = "NON-STRICT"
    #: Not checked: a step another rule checks (its prerequisite) failed there too.
    BLOCKED = "BLOCKED"
    UNSUPPORTED = "UNSUPPORTED"
    INFO = "INFO"


#: Report order: the worst first.
OUTCOMES = (
    Outcome.FAIL,
    Outcome.NON_STRICT,
    Outcome.BLOCKED,
    Outcome.UNSUPPORTED,
    Outcome.INFO,
    Outcome.PASS,
)

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
    """The server broke the rule being checked; the message says what was seen. It counts
    in the profiles that hold the rule."""

    #: "rule": in the profiles that hold the rule; "fileproto": only in ours (a stricter
    #: requirement than the classic text's); "all": in every profile (safety).
    scope = "rule"


class Strict(Violation):
    """A broken requirement of docs/protocol.md that the classic text does not make."""

    scope = "fileproto"


class Escape(Violation):
    """Seen outside the root (on disk, or read back through an escaping path): a FAIL in
    every profile."""

    scope = "all"


class Blocked(Exception):
    """A step that another rule (``prerequisite``) checks failed: this rule's own
    requirement could not be checked, if that rule fails too."""

    def __init__(self, prerequisite: str, message: str) -> None:
        super().__init__(message)
        self.prerequisite = prerequisite


@dataclass(frozen=True)
class Finding:
    """One broken check of a rule (a rule goes on after a check whose failure does not
    stop the others)."""

    scope: str
    message: str


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
    #: The sentence of the classic text (a ``classic.SENTENCES`` key) the rule rests on in
    #: the classic profile; None: a rule of docs/protocol.md only.
    classic: str | None = None

    @property
    def profiles(self) -> tuple[str, ...]:
        """The profiles in which a broken requirement of this rule is a failure."""
        return profiles_of(self.classic)

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
            "profiles": list(self.rule.profiles),
            "detail": self.detail,
            "duration_s": round(self.duration_s, 4),
        }


_REGISTRY: list[Rule] = []


def rule(
    rule_id: str,
    level: Level,
    section: str,
    requirement: str,
    needs: tuple[str, ...] = (),
    classic: str | None = None,
) -> Callable[[Check], Check]:
    """Register the decorated check as a rule of the catalogue. ``classic``: the key of
    the classic sentence it rests on (``classic.SENTENCES``), if the classic profile holds
    it."""
    if not _ID.match(rule_id) or rule_id.split(".", 1)[0] not in AREAS:
        raise ValueError(f"bad rule id {rule_id!r}")
    if classic is not None and classic not in SENTENCES:
        raise ValueError(f"{rule_id}: unknown classic sentence {classic!r}")
    unknown = set(needs) - set(FEATURES)
    if unknown:
        raise ValueError(f"{rule_id}: unknown features {sorted(unknown)}")

    def register(check: Check) -> Check:
        if any(r.id == rule_id for r in _REGISTRY):
            raise ValueError(f"duplicate rule id {rule_id}")
        text = " ".join(requirement.split())
        _REGISTRY.append(Rule(rule_id, level, section, text, check, needs, classic))
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


def counts(finding: Finding, rule: Rule, profile: str) -> bool:
    """Whether a finding is a failure of ``rule`` in ``profile``."""
    if finding.scope == "all":
        return True
    if finding.scope == FILEPROTO:
        return profile == FILEPROTO
    return profile in rule.profiles


def judge(rule: Rule, findings: list[Finding], profile: str) -> tuple[Outcome, str] | None:
    """The outcome of a rule that broke these checks in ``profile`` (None: none broke).
    Findings the profile does not hold are still reported, as NON-STRICT."""
    if not findings:
        return None
    held = [f for f in findings if counts(f, rule, profile)]
    other = [f for f in findings if not counts(f, rule, profile)]
    parts = [f.message for f in held]
    if other:
        parts.append(
            f"not required in the {profile} profile: " + "; ".join(f.message for f in other)
        )
    detail = "; ".join(parts)
    if held:
        return failure_outcome(rule.level), detail
    if rule.level is Level.INFO:
        return Outcome.INFO, detail
    return Outcome.NON_STRICT, detail


def safety(rule: Rule) -> bool:
    return rule.classic == SAFETY


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
