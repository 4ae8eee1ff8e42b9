"""The server's root folder: listing, streaming reads, atomic uploads, deletes.

Every name passes ``clean_name`` (final path component, no control characters, ...) and
every open refuses symlinks, so nothing outside the root is ever read, written or
deleted. Uploads are written to a temporary file beside the others and renamed over the
final name only once complete, so readers never see half a file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import uuid
from pathlib import Path

from fileproto.wire.names import RESERVED_PREFIX, clean_name

_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)


class StoreError(Exception):
    """An operation failed for a reason the client can act on."""


class FileNotFound(StoreError):
    pass


class Upload:
    """A file being uploaded: written to a temporary file, published by ``commit``."""

    def __init__(self, root: Path) -> None:
        # The writer's pid in the name: when a server process dies, its supervisor
        # removes that process's leftovers without touching uploads still in flight.
        self.path = root / f"{RESERVED_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        self._fd = os.open(self.path, _TEMP_FLAGS, 0o644)
        self.size = 0
        self._done = False

    @property
    def fd(self) -> int:
        """The temporary file's descriptor (a session moving to another process hands
        it along, and sets the new process's copy here)."""
        return self._fd

    @fd.setter
    def fd(self, value: int) -> None:
        self._fd = value

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)

    def commit(self, final: Path) -> None:
        os.close(self._fd)
        self._done = True
        try:
            os.replace(self.path, final)
        except OSError:
            self._unlink()
            raise

    def abort(self) -> None:
        if not self._done:
            self._done = True
            os.close(self._fd)
            self._unlink()

    def _unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


class FileStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise NotADirectoryError(f"root folder {self.root} does not exist")

    def path_of(self, raw_name: object) -> tuple[str, Path]:
        """The cleaned name and its path inside the root (raises InvalidName)."""
        name = clean_name(raw_name)
        return name, self.root / name

    def list(self) -> list[str]:
        names = []
        with os.scandir(self.root) as entries:
            for entry in entries:
                if entry.name.startswith(RESERVED_PREFIX):
                    continue
                if entry.is_file(follow_symlinks=False):
                    names.append(entry.name)
        return sorted(names)

    def open_read(self, raw_name: object) -> tuple[str, int, int]:
        """Open a stored file for reading: (name, fd, size). The caller closes fd."""
        name, path = self.path_of(raw_name)
        try:
            fd = os.open(path, _READ_FLAGS)
        except (FileNotFoundError, NotADirectoryError):
            raise FileNotFound(f"file not found: {name}") from None
        except OSError as exc:  # ELOOP: a symlink, refused on purpose
            raise FileNotFound(f"file not found: {name} ({exc.strerror})") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise FileNotFound(f"file not found: {name} (not a regular file)")
        return name, fd, info.st_size

    def size_of(self, raw_name: object) -> int | None:
        """The size of a stored regular file (one ``lstat``), or None: no such file, or
        a name the store refuses."""
        try:
            _, path = self.path_of(raw_name)
            info = os.lstat(path)
        except (ValueError, OSError):  # InvalidName is a ValueError
            return None
        return info.st_size if stat.S_ISREG(info.st_mode) else None

    def begin_upload(self) -> Upload:
        return Upload(self.root)

    def commit_upload(self, upload: Upload, raw_name: object) -> str:
        name, path = self.path_of(raw_name)
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                upload.abort()
                raise StoreError(f"cannot replace {name}: not a regular file")
        except FileNotFoundError:
            pass
        upload.commit(path)
        return name

    def delete(self, raw_name: object) -> str:
        name, path = self.path_of(raw_name)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            raise FileNotFound(f"file not found: {name}") from None
        if not stat.S_ISREG(mode):
            raise FileNotFound(f"file not found: {name} (not a regular file)")
        try:
            os.unlink(path)
        except FileNotFoundError:
            raise FileNotFound(f"file not found: {name}") from None
        return name

    def temp_files(self, pid: int | None = None) -> tuple[Path, ...]:
        """Temporary files of uploads in flight (of the process ``pid`` only, if given)."""
        prefix = RESERVED_PREFIX if pid is None else f"{RESERVED_PREFIX}{pid}-"
        with os.scandir(self.root) as entries:
            return tuple(Path(e.path) for e in entries if e.name.startswith(prefix))

    def remove_temp_files(self, pid: int | None = None, keep: frozenset[Path] = frozenset()) -> int:
        """Remove leftovers of interrupted uploads (at start-up and shutdown, or those of
        a server process that died), except ``keep``: uploads still in progress."""
        count = 0
        for path in self.temp_files(pid):
            if path in keep:
                continue
            try:
                path.unlink()
                count += 1
            except FileNotFoundError:
                pass
        return count
