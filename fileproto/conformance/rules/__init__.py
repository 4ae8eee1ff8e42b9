"""The rule catalogue, one module per area of docs/protocol.md. Importing a module
registers its rules; ``CATALOGUE`` is them all in a stable order (areas as in
``model.AREAS``, then as written)."""

from __future__ import annotations

from fileproto.conformance.model import AREAS, Rule, registered
from fileproto.conformance.rules import (  # noqa: F401  (imported to register their rules)
    b64,
    commands,
    concurrency,
    crossing,
    errors,
    framing,
    json_dialect,
    names,
    text_dialect,
)


def _ordered() -> tuple[Rule, ...]:
    rules = registered()
    return tuple(sorted(rules, key=lambda r: AREAS.index(r.area)))


CATALOGUE: tuple[Rule, ...] = _ordered()
