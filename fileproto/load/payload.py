"""Payload files for load from many machines (the Locust user, :mod:`fileproto.locust`):
pseudo-random bytes that depend only on the size, so every process on every machine
uploads the same file and anyone can recompute its sha256. Written and hashed in
chunks: never whole in memory."""

from __future__ import annotations

import atexit
import hashlib
import os
import random
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from fileproto.load.testfiles import TestFile, sha256_of

_PAYLOAD_CHUNK = 1 << 20
_payload_lock = threading.Lock()
_payloads: dict[int, TestFile] = {}
_payload_dir: Path | None = None


def _payload_chunks(size: int) -> Iterator[bytes]:
    """Pseudo-random bytes that depend only on ``size``, in chunks."""
    rng = random.Random(f"fileproto-locust-payload-{size}")
    left = size
    while left:
        chunk = rng.randbytes(min(_PAYLOAD_CHUNK, left))
        left -= len(chunk)
        yield chunk


def write_payload(path: str | os.PathLike[str], size: int) -> TestFile:
    """Write the payload of ``size`` bytes to ``path``. Its bytes depend only on the size,
    so every process on every machine uploads the same file and anyone can recompute its
    sha256 (:func:`payload_sha256`)."""
    hasher = hashlib.sha256()
    with open(path, "wb") as out:
        for chunk in _payload_chunks(size):
            hasher.update(chunk)
            out.write(chunk)
    return TestFile(Path(path), size, hasher.hexdigest())


def payload_sha256(size: int) -> str:
    """The sha256 of the payload of ``size`` bytes, computed without writing it."""
    hasher = hashlib.sha256()
    for chunk in _payload_chunks(size):
        hasher.update(chunk)
    return hasher.hexdigest()


def payload_file(size: int) -> TestFile:
    """This process's payload file of ``size`` bytes (made on first use, removed at exit)."""
    global _payload_dir
    if size < 1:
        raise ValueError(f"file_size must be at least 1 byte, got {size}")
    with _payload_lock:
        made = _payloads.get(size)
        if made is not None and made.path.is_file():
            return made
        if _payload_dir is None or not _payload_dir.is_dir():
            _payload_dir = Path(tempfile.mkdtemp(prefix="fileproto-locust-"))
            atexit.register(shutil.rmtree, _payload_dir, ignore_errors=True)
        made = write_payload(_payload_dir / f"payload-{size}.bin", size)
        _payloads[size] = made
        return made


def verify_payload(path: str | os.PathLike[str], size: int) -> bool:
    """True if ``path`` holds exactly the payload of ``size`` bytes (for checking what
    Locust users left on a server's disk)."""
    return os.path.getsize(path) == size and sha256_of(path) == payload_sha256(size)
