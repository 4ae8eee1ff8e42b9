"""Settings shared by every server kind."""

from __future__ import annotations

from dataclasses import dataclass

from fileproto.wire.request_parser import DEFAULT_MAX_HEADER


@dataclass(frozen=True)
class ServerConfig:
    root: str
    #: A connection that completes no request (or, during an upload, moves less than
    #: PROGRESS_BYTES) within this many seconds is closed.
    idle_timeout: float = 30.0
    max_file_size: int | None = None
    max_header: int = DEFAULT_MAX_HEADER
    #: Bytes asked of each recv(); bounds the memory a connection holds at once. The
    #: parser's cost is per piece, so uploads want large pieces (256 KiB measured
    #: 15-20% slower per 100 MiB upload than 1 MiB).
    recv_size: int = 1 << 20
    #: Raw bytes per base64 chunk of a GET response (a multiple of 3).
    read_chunk: int = 3 << 18
    verbose: bool = False
