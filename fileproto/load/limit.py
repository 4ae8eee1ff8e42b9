"""The machine's ceiling: the simplest pipeline that moves the same bytes as a case.

One connection on loopback between two processes; the sender reads the file and
base64-encodes it with pybase64 while sending, the receiver decodes while receiving
and writes a file, then acknowledges. No framing, no JSON, no checks: whatever our
server and client take beyond this is overhead of our own making.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pybase64

from fileproto.client import DEFAULT_CHUNK

CHUNK = DEFAULT_CHUNK  # raw bytes per piece, as the client sends them


@dataclass(frozen=True)
class LimitResult:
    size: int
    seconds: float

    @property
    def throughput(self) -> float:
        return self.size / self.seconds if self.seconds > 0 else 0.0

    def extra_info(self) -> dict[str, Any]:
        return {
            "reference": "limit",
            "size_mib": self.size // (1 << 20),
            "size_bytes": self.size,
            "time_s": self.seconds,
            "throughput_Bps": self.throughput,
        }


def _receive(listener: socket.socket, dest: str, expected: int) -> None:
    conn, _ = listener.accept()
    conn.settimeout(60)
    encoded_total = (expected + 2) // 3 * 4
    buffer = bytearray(1 << 20)
    view = memoryview(buffer)
    got = carried = 0
    with conn, open(dest, "wb") as out:
        conn.sendall(b"R")  # ready: the sender's clock starts only now
        while got < encoded_total:
            n = conn.recv_into(view[carried:])
            if not n:
                break
            got += n
            filled = carried + n
            usable = filled // 4 * 4
            out.write(pybase64.b64decode(view[:usable]))
            carried = filled - usable
            buffer[:carried] = buffer[usable:filled]  # 0-3 bytes to the front
        conn.sendall(b"!")


def measure_limit(source: str | os.PathLike[str], dest_dir: str | os.PathLike[str]) -> LimitResult:
    """Move ``source`` once through the bare pipeline; the time runs from the receiver's
    ready signal to its acknowledgement, so process start-up is not counted."""
    size = os.path.getsize(source)
    dest = Path(dest_dir) / "limit-received.bin"
    listener = socket.create_server(("127.0.0.1", 0))
    ctx = multiprocessing.get_context("fork")
    receiver = ctx.Process(target=_receive, args=(listener, str(dest), size), daemon=True)
    receiver.start()
    try:
        with (
            open(source, "rb") as f,
            socket.create_connection(listener.getsockname(), timeout=60) as sock,
        ):
            if sock.recv(1) != b"R":
                raise RuntimeError("the limit receiver did not start")
            start = time.perf_counter()
            while chunk := f.read(CHUNK):
                sock.sendall(pybase64.b64encode(chunk))
            if sock.recv(1) != b"!":
                raise RuntimeError("the limit receiver did not acknowledge")
            seconds = time.perf_counter() - start
    finally:
        listener.close()
        receiver.join(10)
        if receiver.is_alive():
            receiver.kill()
        dest.unlink(missing_ok=True)
    return LimitResult(size, seconds)
