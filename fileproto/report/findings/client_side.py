"""Where a request's time went, from the client's side, against a server that was not
traced: what TCP told the clients (:mod:`fileproto.report.mirror`)."""

from __future__ import annotations

from collections.abc import Sequence

from fileproto.report.cases import Case
from fileproto.report.findings.topics import Finding
from fileproto.report.mirror import mirror_findings


def client_side(cases: Sequence[Case]) -> list[Finding]:
    return [Finding("client side", text) for text in mirror_findings(cases)]
