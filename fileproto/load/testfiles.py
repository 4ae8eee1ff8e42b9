"""Random test files with a known sha256, written in chunks (never whole in memory)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from fileproto.units import MIB

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


class Comparator:
    """A write-only sink that checks what is written against a file, byte for byte.

    Comparing with the (page-cached) original runs at memory speed, several times
    faster than hashing, so verification does not slow the transfer it checks.
    """

    def __init__(self, expected: str | os.PathLike[str]) -> None:
        self._file = open(expected, "rb")  # noqa: SIM115 - closed by close()
        self.size = 0
        self.mismatch_at: int | None = None

    def write(self, data: bytes) -> int:
        if self.mismatch_at is None:
            expected = self._file.read(len(data))
            if expected != data:
                first = next(
                    (i for i, (a, b) in enumerate(zip(expected, data, strict=False)) if a != b),
                    min(len(expected), len(data)),
                )
                self.mismatch_at = self.size + first
        self.size += len(data)
        return len(data)

    def problem(self, expected_size: int) -> str | None:
        """None if everything matched and the size is right; else what went wrong."""
        if self.mismatch_at is not None:
            return f"bytes differ from the original at offset {self.mismatch_at}"
        if self.size != expected_size:
            return f"got {self.size} bytes, expected {expected_size}"
        return None

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Comparator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def same_content(path: str | os.PathLike[str], original: str | os.PathLike[str]) -> str | None:
    """None if ``path`` holds exactly the bytes of ``original``; else what differs."""
    try:
        with open(path, "rb") as f, Comparator(original) as check:
            while chunk := f.read(_CHUNK):
                check.write(chunk)
            return check.problem(os.path.getsize(original))
    except FileNotFoundError:
        return f"{os.path.basename(path)} is missing"
