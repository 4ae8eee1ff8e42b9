"""The store side of one connection: what a request does to the root folder.

A ``Responder`` writes an upload's decoded pieces to its temporary file and publishes
it, answers LIST and DELETE, and streams a GET from disk in chunks whose raw size is a
multiple of 3 (so the base64 pieces join up). It decides nothing about the connection:
the session asks it for answers and pieces, and it holds the only descriptors a
connection has besides its socket (``descriptors``), so a session that travels to
another process hands these along.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from fileproto.session.deadlines import Limits
from fileproto.store import FileStore, StoreError, Upload
from fileproto.wire.b64 import encode_chunk
from fileproto.wire.events import Request, RequestStarted
from fileproto.wire.names import InvalidName, clean_name
from fileproto.wire.responses import (
    encode_error,
    encode_ok,
    get_response_prefix,
    get_response_suffix,
)

#: The names of the descriptors a connection may hold besides its socket: the temporary
#: file of an upload in progress, and the file a GET response streams.
UPLOAD = "upload"
SOURCE = "source"
DESCRIPTORS = (UPLOAD, SOURCE)


class ReadFailed(Exception):
    """Reading a file a GET streams failed after its prefix was out."""


class Responder:
    __slots__ = ("limits", "source", "store", "upload")

    def __init__(self, store: FileStore, limits: Limits) -> None:
        self.store = store
        self.limits = limits
        self.upload: Upload | None = None
        self.source: int | None = None  # fd of the file a GET response streams

    @property
    def streaming(self) -> bool:
        """A GET's file is being streamed: more pieces follow."""
        return self.source is not None

    def start_upload(self, event: RequestStarted) -> str | None:
        """An upload's payload begins: None, or the error to answer (then the rest of
        the request is skipped)."""
        self.abort()  # never two temporary files for one request
        if event.command not in (None, "UPLOAD"):
            return None  # a payload where none belongs; the parser reports it at the end
        if event.name is not None:
            try:
                clean_name(event.name)
            except InvalidName as exc:
                return str(exc)
        try:
            self.upload = self.store.begin_upload()
        except OSError as exc:
            return f"cannot store the upload: {exc.strerror}"
        return None

    def write(self, data: bytes) -> str | None:
        """A decoded piece of the payload: None, or the error to answer."""
        upload = self.upload
        if upload is None:
            return None
        limit = self.limits.max_file_size
        if limit is not None and upload.size + len(data) > limit:
            return f"file too large: the limit is {limit} bytes"
        try:
            upload.write(data)
        except OSError as exc:
            return f"cannot store the upload: {exc.strerror}"
        return None

    def respond(self, request: Request) -> tuple[bytes, bool, bool]:
        """The answer's first piece, whether it is also the last, and whether it is OK.
        A GET's first piece is its prefix; ``file_piece`` gives the rest."""
        upload, self.upload = self.upload, None
        store = self.store
        try:
            if request.command == "UPLOAD":
                if upload is None:
                    raise StoreError("the upload's content was not received")
                size = upload.size
                name = store.commit_upload(upload, request.name)
                upload = None
                return (
                    encode_ok(data_namafile=name, data=f"uploaded {name} ({size} bytes)"),
                    True,
                    True,
                )
            if request.command == "LIST":
                return encode_ok(data=store.list()), True, True
            if request.command == "DELETE":
                name = store.delete(request.name)
                return encode_ok(data_namafile=name, data=f"deleted {name}"), True, True
            name, fd, _size = store.open_read(request.name)
            self.source = fd
            return get_response_prefix(name), False, True
        except (InvalidName, StoreError) as exc:
            return encode_error(str(exc)), True, False
        except OSError as exc:
            return encode_error(f"server error: {exc.strerror or exc}"), True, False
        finally:
            if upload is not None:
                upload.abort()

    def file_piece(self) -> tuple[bytes, bool]:
        """The next piece of the file a GET streams, and whether it is the last (it
        carries the response's suffix). Raises ReadFailed."""
        assert self.source is not None
        chunk_size = self.limits.read_chunk
        try:
            chunk = _read_full(self.source, chunk_size)
        except OSError as exc:
            self.abort()
            raise ReadFailed(f"reading the file failed: {exc.strerror}") from exc
        if len(chunk) == chunk_size:
            return encode_chunk(chunk), False
        self.abort()
        suffix = get_response_suffix()
        return (encode_chunk(chunk) + suffix if chunk else suffix), True

    def abort(self) -> None:
        """Drop what is in flight: the temporary upload, an open file. Idempotent."""
        if self.upload is not None:
            self.upload.abort()
            self.upload = None
        if self.source is not None:
            os.close(self.source)
            self.source = None

    # -- travelling between processes --------------------------------------------------

    def descriptors(self) -> dict[str, int]:
        fds = {}
        if self.upload is not None:
            fds[UPLOAD] = self.upload.fd
        if self.source is not None:
            fds[SOURCE] = self.source
        return fds

    def adopt(self, store: FileStore, fds: Mapping[str, int]) -> None:
        self.store = store
        if self.upload is not None:
            self.upload.fd = fds[UPLOAD]
        if self.source is not None:
            self.source = fds[SOURCE]

    def __getstate__(self) -> dict[str, Any]:
        return {"limits": self.limits, "source": self.source, "upload": self.upload}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.store = None  # type: ignore[assignment]  # the receiving process adopts its own
        for name, value in state.items():
            setattr(self, name, value)


def _read_full(fd: int, size: int) -> bytes:
    """Up to ``size`` bytes; short only at the end of the file."""
    chunk = os.read(fd, size)
    if len(chunk) == size or not chunk:
        return chunk
    parts = [chunk]
    got = len(chunk)
    while got < size:
        more = os.read(fd, size - got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)
