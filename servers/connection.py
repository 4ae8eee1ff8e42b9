"""One client connection, served start to end: the only code both server kinds run.

A driver around the sans-I/O RequestParser: it moves bytes between the socket and the
parser, payload chunks into the store, and file chunks out as base64. Nothing here
holds more than one chunk of a payload.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time

from fileproto.store import FileStore, StoreError, Upload
from fileproto.wire.b64 import encode_chunk
from fileproto.wire.events import (
    NEED_DATA,
    Closed,
    Data,
    EndOfRequest,
    Request,
    RequestError,
    RequestStarted,
)
from fileproto.wire.names import InvalidName, clean_name
from fileproto.wire.request_parser import RequestParser
from fileproto.wire.responses import (
    encode_error,
    encode_ok,
    get_response_prefix,
    get_response_suffix,
)
from servers.config import ServerConfig

log = logging.getLogger("fileproto.server")

#: An upload that moves at least this much within idle_timeout keeps its connection; a
#: client dribbling its bytes does not.
PROGRESS_BYTES = 64 * 1024
#: Requests served on one connection before it is closed (every loop is bounded).
MAX_REQUESTS_PER_CONNECTION = 100_000


def _peer(sock: socket.socket) -> str:
    try:
        host, port = sock.getpeername()[:2]
    except OSError:
        return "?"
    return f"{host}:{port}"


class _Connection:
    def __init__(self, sock: socket.socket, store: FileStore, config: ServerConfig) -> None:
        self.sock = sock
        self.store = store
        self.config = config
        self.parser = RequestParser(config.max_header)
        self.upload: Upload | None = None
        self.deadline = time.monotonic() + config.idle_timeout
        self.progress = 0

    def run(self) -> None:
        served = 0
        while served < MAX_REQUESTS_PER_CONNECTION:
            event = self.parser.next_event()
            if event is NEED_DATA:
                if not self._receive():
                    return
            elif isinstance(event, Data):
                self._write(event.data)
            elif isinstance(event, RequestStarted):
                self._start_upload(event)
            elif isinstance(event, EndOfRequest):
                self._answer(event.request)
                served += 1
            elif isinstance(event, RequestError):
                self._abort_upload()
                self._send(encode_error(event.message))
                self._restart_clock()
                if event.fatal:
                    return
            elif isinstance(event, Closed):
                return

    def _receive(self) -> bool:
        now = time.monotonic()
        remaining = self.deadline - now
        if remaining <= 0:
            log.info("%s: idle timeout", _peer(self.sock))
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(self.config.recv_size)
        except TimeoutError:
            log.info("%s: idle timeout", _peer(self.sock))
            return False
        if self.parser.in_payload:
            self.progress += len(data)
            if self.progress >= PROGRESS_BYTES:
                self.progress = 0
                self.deadline = now + self.config.idle_timeout
        self.parser.receive_data(data)
        return True

    def _restart_clock(self) -> None:
        self.deadline = time.monotonic() + self.config.idle_timeout
        self.progress = 0

    def _send(self, data: bytes) -> None:
        self.sock.settimeout(self.config.idle_timeout)
        self.sock.sendall(data)

    def _reject(self, message: str) -> None:
        """Answer the current request now and drop the rest of it unread."""
        self._abort_upload()
        self.parser.skip_request()
        self._send(encode_error(message))

    def _start_upload(self, event: RequestStarted) -> None:
        self._abort_upload()  # never two temporary files for one request
        if event.command not in (None, "UPLOAD"):
            return  # a payload where none belongs; the parser reports it at the end
        if event.name is not None:
            try:
                clean_name(event.name)
            except InvalidName as exc:
                self._reject(str(exc))
                return
        try:
            self.upload = self.store.begin_upload()
        except OSError as exc:
            self._reject(f"cannot store the upload: {exc.strerror}")

    def _write(self, data: bytes) -> None:
        upload = self.upload
        if upload is None:
            return
        limit = self.config.max_file_size
        if limit is not None and upload.size + len(data) > limit:
            self._reject(f"file too large: the limit is {limit} bytes")
            return
        try:
            upload.write(data)
        except OSError as exc:
            self._reject(f"cannot store the upload: {exc.strerror}")

    def _abort_upload(self) -> None:
        if self.upload is not None:
            self.upload.abort()
            self.upload = None

    def _answer(self, request: Request) -> None:
        upload, self.upload = self.upload, None
        try:
            if request.command == "UPLOAD":
                if upload is None:
                    raise StoreError("the upload's content was not received")
                size = upload.size
                name = self.store.commit_upload(upload, request.name)
                upload = None
                message = f"uploaded {name} ({size} bytes)"
                self._send(encode_ok(data_namafile=name, data=message))
            elif request.command == "LIST":
                self._send(encode_ok(data=self.store.list()))
            elif request.command == "DELETE":
                name = self.store.delete(request.name)
                self._send(encode_ok(data_namafile=name, data=f"deleted {name}"))
            else:
                self._send_file(request.name)
        except (InvalidName, StoreError) as exc:
            self._send(encode_error(str(exc)))
        except OSError as exc:
            if isinstance(exc, (ConnectionError, TimeoutError)):
                raise
            self._send(encode_error(f"server error: {exc.strerror or exc}"))
        finally:
            if upload is not None:
                upload.abort()
        self._restart_clock()

    def _send_file(self, raw_name: str | None) -> None:
        name, fd, _size = self.store.open_read(raw_name)
        with os.fdopen(fd, "rb") as source:
            self._send(get_response_prefix(name))
            chunk_size = self.config.read_chunk
            while chunk := source.read(chunk_size):
                # A buffered read returns a full chunk except at the end of the file,
                # so every chunk but the last is a multiple of 3 and the pieces join up.
                self._send(encode_chunk(chunk))
        self._send(get_response_suffix())


def serve_connection(sock: socket.socket, store: FileStore, config: ServerConfig) -> None:
    """Serve ``sock`` until the peer leaves, a fatal error, or the idle timeout; then close."""
    peer = _peer(sock)
    if config.verbose:
        log.info("%s: connected", peer)
    connection = _Connection(sock, store, config)
    try:
        connection.run()
    except OSError as exc:
        log.info("%s: connection lost: %s", peer, exc)
    finally:
        connection._abort_upload()
        # shutdown, not just close: in the process pool the parent holds another
        # descriptor of this socket, and close alone would not end the connection.
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        if config.verbose:
            log.info("%s: closed", peer)
