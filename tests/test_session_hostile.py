"""Every hostile request against the session, where its answer is decided: no sockets.

The catalogue of hostile names, malformed requests and odd envelopes is
tests/helpers/hostile.py. Every server kind drives the same session, so the answers
checked here hold for each; tests/test_hostile_input.py sends a representative few to
every kind's real sockets (and all of them with ``pytest -m exhaustive``).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fileproto.session import Close
from fileproto.store import FileStore
from fileproto.wire.names import RESERVED_PREFIX
from tests.helpers.hostile import (
    BAD_REQUESTS,
    DIALECTS,
    NAME_CASES,
    ODD_ENVELOPES,
    OURS_ONLY_INVALID,
    odd_envelope,
)
from tests.helpers.session import responses, run_session
from tests.helpers.wire import LIST_REQUEST, assert_error, request

pytestmark = pytest.mark.smoke

ALL_NAMES = {**NAME_CASES, **{case: (raw, None) for case, raw in OURS_ONLY_INVALID.items()}}


def _store(tmp_path: Path) -> FileStore:
    root = tmp_path / "root"
    root.mkdir()
    return FileStore(root)


def _entries(store: FileStore) -> list[str]:
    return sorted(p.name for p in store.root.iterdir())


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("case", list(ALL_NAMES))
def test_a_hostile_name_is_refused_or_reduced_to_its_last_component(
    tmp_path: Path, case: str, dialect: str
) -> None:
    raw, reduced = ALL_NAMES[case]
    store = _store(tmp_path)
    beside = tmp_path / (reduced or "sentinel")
    beside.write_bytes(b"outside the root")
    content = os.urandom(64)
    walk = [
        request(dialect, "GET", raw),
        request(dialect, "DELETE", raw),
        request(dialect, "UPLOAD", raw, content),
        request(dialect, "GET", raw),
        request(dialect, "DELETE", raw),
        request(dialect, "GET", raw),
    ]
    # One request at a time, so that the root can be looked at after each answer.
    answers = []
    for step, data in enumerate(walk):
        out, close = run_session(store, [data])
        assert close == Close("peer closed", "peer"), (step, close)
        (answer,) = responses(out)
        answers.append(answer)
        held = _entries(store)
        stored = reduced is not None and step in (2, 3)  # after the UPLOAD, until the DELETE
        assert held == ([reduced] if stored else []), (step, held)
    assert beside.read_bytes() == b"outside the root"
    if reduced is None:
        for answer in answers:
            # The text dialect cannot carry every name intact: its errors may be about
            # the request's shape instead of the name.
            assert_error(answer, *(("name",) if dialect == "json" else ()))
        return
    missing_get, missing_delete, uploaded, got, deleted, gone = answers
    assert_error(missing_get, "not found")
    assert_error(missing_delete, "not found")
    assert (uploaded["status"], uploaded["data_namafile"]) == ("OK", reduced), uploaded
    assert (got["status"], got["data_namafile"]) == ("OK", reduced)
    assert (deleted["status"], deleted["data_namafile"]) == ("OK", reduced), deleted
    assert_error(gone, "not found")


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_a_malformed_request_gets_an_error_and_stores_nothing(tmp_path: Path, case: str) -> None:
    bad = BAD_REQUESTS[case]
    store = _store(tmp_path)
    out, close = run_session(store, [bad.make("bad-name"), LIST_REQUEST])
    answers = responses(out)
    assert_error(answers[0], *bad.needles)
    assert_error(answers[0], *bad.portable)
    if bad.fatal:
        # The framing is lost: the session answers, then closes without reading on.
        assert len(answers) == 1, answers
        assert close.kind != "peer", close
    else:
        # The framing is intact: the LIST behind it is answered on the same connection.
        assert len(answers) == 2, answers
        assert answers[1] == {"status": "OK", "data": []}, answers[1]
        assert close == Close("peer closed", "peer")
    assert _entries(store) == []


@pytest.mark.parametrize("case", list(ODD_ENVELOPES))
def test_an_odd_envelope_gets_one_answer_and_leaves_no_temporary_file(
    tmp_path: Path, case: str
) -> None:
    store = _store(tmp_path)
    out, close = run_session(store, [odd_envelope(case, "odd"), LIST_REQUEST])
    first, listed = responses(out)
    if first["status"] == "ERROR":
        assert_error(first)
    else:
        assert first["status"] == "OK", first
    assert listed["status"] == "OK", listed
    assert close == Close("peer closed", "peer")
    assert not [name for name in _entries(store) if name.startswith(RESERVED_PREFIX)]
    assert set(_entries(store)) <= {"odd"}
