"""Server-side encoders: every response is one JSON object followed by CRLFCRLF."""

from __future__ import annotations

import json
from typing import Any

from fileproto.wire.terminator import TERMINATOR


def _encode(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj).encode("ascii") + TERMINATOR


def encode_ok(**fields: Any) -> bytes:
    return _encode({"status": "OK", **fields})


def encode_error(message: str) -> bytes:
    return _encode({"status": "ERROR", "data": message})


def get_response_prefix(name: str) -> bytes:
    """The bytes before the streamed base64 of a GET response.

    Then come base64 chunks (see ``encode_chunk``) and ``get_response_suffix()``.
    """
    return (
        b'{"status": "OK", "data_namafile": '
        + json.dumps(name).encode("ascii")
        + b', "data_file": "'
    )


def get_response_suffix() -> bytes:
    return b'"}' + TERMINATOR
