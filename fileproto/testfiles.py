"""Random test files with a known sha256, written in chunks (never whole in memory)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

MIB = 1 << 20
_CHUNK = 4 * MIB


@dataclass(frozen=True)
class TestFile:
    __test__ = False  # not a pytest test class, despite the name

    path: Path
    size: int
    sha256: str


def make_test_file(path: str | os.PathLike[str], size: int) -> TestFile:
    """Write ``size`` random bytes to ``path`` and return it with its sha256."""
    path = Path(path)
    hasher = hashlib.sha256()
    with open(path, "wb") as out:
        left = size
        while left:
            chunk = os.urandom(min(_CHUNK, left))
            hasher.update(chunk)
            out.write(chunk)
            left -= len(chunk)
    return TestFile(path, size, hasher.hexdigest())


def sha256_of(path: str | os.PathLike[str]) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
