"""A blocking client: list, get, upload and delete, streaming both ways.

Uploads are read from disk and base64-encoded chunk by chunk as they are sent;
downloads are decoded chunk by chunk into a file (or only a hash). Memory stays at a
few chunks whatever the file size. One connection is kept and reused; a connection
the server has closed in the meantime (idle timeout) is noticed and replaced.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import os
import socket
import struct
import termios
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from fileproto.addresses import DEFAULT_PORT, ConnectError, connect_error, parse_address
from fileproto.errors import ProtocolViolation, ServerError
from fileproto.ratelimit import TokenBucket
from fileproto.tcpinfo import TcpInfo, stalls, tcp_info
from fileproto.timing import Phases, Timing
from fileproto.wire.events import Data, Dialect
from fileproto.wire.requests import encode_request, iter_upload_request
from fileproto.wire.response_parser import Response, ResponseParser, ResponseViolation

__all__ = [
    "Client",
    "ConnectError",
    "Phases",
    "Timing",
    "Transfer",
    "connect_error",
    "parse_address",
]

#: Raw bytes per upload chunk; a multiple of 3 so the base64 pieces join up.
DEFAULT_CHUNK = 3 << 16  # 192 KiB raw, 256 KiB of base64: as fast as larger, less memory
DEFAULT_RECV = 1 << 18  # downloads are as fast with this, and 50 clients hold less

Source = str | os.PathLike[str] | bytes | bytearray | memoryview | BinaryIO


class Writer(Protocol):
    """Anything downloads can go to: a binary file, a hash adapter, a comparator."""

    def write(self, data: bytes, /) -> object: ...


Dest = str | os.PathLike[str] | Writer | None
ProgressFn = Callable[[int], None]


@dataclass(frozen=True)
class Transfer:
    """What moved: the name the server used, the file's size and its sha256 (hex; empty
    when the transfer was made with ``checksum=False``)."""

    name: str
    size: int
    sha256: str


def _read_chunks(
    stream: BinaryIO, size: int, hasher: hashlib._Hash | None, counter: list[int]
) -> Iterator[bytes]:
    while True:
        chunk = stream.read(size)
        if not chunk:
            return
        # A short read before the end would break the base64 alignment; fill it up.
        while len(chunk) % 3 and (more := stream.read(size - len(chunk))):
            chunk += more
        if hasher is not None:
            hasher.update(chunk)
        counter[0] += len(chunk)
        yield chunk


class Client:
    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        *,
        dialect: Dialect = "json",
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        chunk_size: int = DEFAULT_CHUNK,
        recv_size: int = DEFAULT_RECV,
        rate: float | None = None,
    ) -> None:
        """``rate``: bytes/s this client's link carries, both directions (None: as fast
        as the machine); for imitating slower clients on loopback."""
        if dialect not in ("json", "text"):
            raise ValueError(f"dialect must be 'json' or 'text', got {dialect!r}")
        if chunk_size < 3 or chunk_size % 3:
            raise ValueError("chunk_size must be a positive multiple of 3")
        self.host = host
        self.port = port
        self.dialect: Dialect = dialect
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.chunk_size = chunk_size
        self.recv_size = recv_size
        self._sock: socket.socket | None = None
        self._parser = ResponseParser()
        self._bucket = TokenBucket(rate) if rate is not None else None
        #: The Timing of the last completed request.
        self.last_timing: Timing | None = None
        #: The phases of the last request, completed or not.
        self.last_phases: Phases | None = None
        self._port: int | None = None
        #: The request's last TCP_INFO reading (its start, then when it was sent).
        self._tcp: TcpInfo | None = None

    # -- connection -------------------------------------------------------------------

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def _connection(self, phases: Phases | None = None) -> socket.socket:
        sock = self._sock
        if sock is not None and self._closed_by_peer(sock):
            self.close()
            sock = None
        if sock is None:
            try:
                sock = socket.create_connection(
                    (self.host, self.port), timeout=self.connect_timeout
                )
            except OSError as exc:
                raise connect_error(self.host, self.port, exc) from exc
            sock.settimeout(self.timeout)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._sock = sock
            self._parser = ResponseParser()
            self._port = sock.getsockname()[1]  # once per connection, for the timeline
            if phases is not None:
                phases.connected = time.monotonic()
        elif phases is not None:
            phases.connected = phases.connect  # kept from an earlier request
        if phases is not None:
            phases.port = self._port
        return sock

    def abort(self) -> int:
        """Cut the request in flight, from any thread: its call raises OSError soon.

        Shuts the socket down rather than closing it, as the calling thread still holds
        the descriptor. Returns the bytes sent that the server had not yet received
        (still queued on our side), so a caller can count only what really moved."""
        sock = self._sock
        if sock is None:
            return 0
        unsent = _unacknowledged(sock)
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        return unsent

    def _closed_by_peer(self, sock: socket.socket) -> bool:
        # Non-blocking mode for the peek: with a timeout set, Python polls for up to
        # that long before recv, whatever the flags say.
        sock.setblocking(False)
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            sock.settimeout(self.timeout)

    def _exchange(
        self, command: str, pieces: Iterable[bytes], sink: Callable[[bytes], None] | None = None
    ) -> Response:
        # One time.monotonic() per phase, nothing per byte (docs/trace.md).
        phases = self.last_phases = Phases(time.monotonic())
        try:
            sock = self._connection(phases)
        except BaseException:
            phases.done = time.monotonic()
            raise
        assert phases.connected is not None
        started = phases.connected
        # TCP's own account, three readings a request (not one per send): what held
        # the request back, and what of it the server had not taken (docs/trace.md).
        self._tcp = tcp_info(sock)
        try:
            try:
                for piece in pieces:
                    self._send(sock, piece)
                phases.sent = time.monotonic()
                at_sent = tcp_info(sock)
                phases.sending = stalls(self._tcp, at_sent)
                phases.unsent_at_sent = _unacknowledged(sock) if at_sent is not None else None
                self._tcp = at_sent
            except (BrokenPipeError, ConnectionResetError):
                # The server may have refused the request early (a bad name, a size
                # limit) and closed; its answer can still be waiting to be read.
                pass
            response, first_byte = self._read_response(sock, sink, phases)
        except BaseException:
            phases.done = time.monotonic()
            self.close()  # the connection is in an unknown state now
            raise
        phases.first_byte = first_byte  # also when the answer came with no recv here
        phases.done = time.monotonic()
        self.last_timing = Timing(first_byte - started, phases.done - started)
        if not response.ok:
            raise ServerError(response.message, command)
        return response

    def _send(self, sock: socket.socket, piece: bytes) -> None:
        bucket = self._bucket
        if bucket is None:
            sock.sendall(piece)
            return
        view = memoryview(piece)
        step = bucket.step
        for start in range(0, len(view), step):
            part = view[start : start + step]
            bucket.take(len(part))
            sock.sendall(part)

    def _read_response(
        self,
        sock: socket.socket,
        sink: Callable[[bytes], None] | None,
        phases: Phases | None = None,
    ) -> tuple[Response, float]:
        """The response and the moment (time.monotonic()) its first byte arrived."""
        parser = self._parser
        bucket = self._bucket
        size = self.recv_size if bucket is None else min(self.recv_size, bucket.step)
        first_byte = 0.0
        try:
            while True:
                event = parser.next_event()
                if isinstance(event, Response):
                    return event, first_byte or time.monotonic()
                if isinstance(event, Data):
                    if sink is not None:
                        sink(event.data)
                    continue
                data = sock.recv(size)
                if not first_byte:
                    first_byte = time.monotonic()
                    if phases is not None:  # kept if the rest of the answer fails
                        phases.first_byte = first_byte
                        if phases.sent is not None:
                            phases.waiting = stalls(self._tcp, tcp_info(sock))
                if bucket is not None:
                    bucket.take(len(data))
                parser.receive_data(data)
        except ResponseViolation as exc:
            raise ProtocolViolation(str(exc)) from None

    # -- commands ---------------------------------------------------------------------

    def list(self) -> list[str]:
        response = self._exchange("LIST", [encode_request("LIST", dialect=self.dialect)])
        names = response.fields.get("data")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ProtocolViolation("LIST answer has no list of names in 'data'")
        return names

    def delete(self, name: str) -> str:
        response = self._exchange("DELETE", [encode_request("DELETE", name, dialect=self.dialect)])
        stored = response.fields.get("data_namafile")
        return stored if isinstance(stored, str) else name

    def get(
        self,
        name: str,
        dest: Dest = None,
        progress: ProgressFn | None = None,
        *,
        checksum: bool = True,
    ) -> Transfer:
        """Download ``name`` into ``dest``: a path, a binary file object, or None (hash only).

        ``checksum=False`` skips the sha256, for callers that check the bytes otherwise.

        A path is written as ``dest.part`` and renamed when the download is complete and
        correct, so an interrupted download leaves nothing behind.
        """
        hasher = hashlib.sha256() if checksum else None
        size = 0

        def sink_to(write: Callable[[bytes], object] | None) -> Callable[[bytes], None]:
            def sink(data: bytes) -> None:
                nonlocal size
                if hasher is not None:
                    hasher.update(data)
                if write is not None:
                    write(data)
                size += len(data)
                if progress is not None:
                    progress(len(data))

            return sink

        request = [encode_request("GET", name, dialect=self.dialect)]
        if dest is None or isinstance(dest, io.IOBase) or hasattr(dest, "write"):
            writer = getattr(dest, "write", None)
            response = self._exchange("GET", request, sink_to(writer))
        else:
            final = Path(dest)
            partial = final.with_name(final.name + ".part")
            try:
                with open(partial, "wb") as out:
                    response = self._exchange("GET", request, sink_to(out.write))
                os.replace(partial, final)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        stored = response.fields.get("data_namafile")
        if not isinstance(stored, str):
            raise ProtocolViolation("GET answer has no 'data_namafile'")
        return Transfer(stored, size, hasher.hexdigest() if hasher is not None else "")

    def upload(
        self,
        source: Source,
        name: str | None = None,
        progress: ProgressFn | None = None,
        *,
        checksum: bool = True,
    ) -> Transfer:
        """Upload from a path, bytes, or a binary file object; streamed chunk by chunk.

        ``checksum=False`` skips the sha256 of what was sent (the load generator checks
        the stored file instead)."""
        hasher = hashlib.sha256() if checksum else None
        counter = [0]
        owned: BinaryIO | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            stream: BinaryIO = io.BytesIO(source)
            if name is None:
                raise ValueError("uploading bytes needs a name")
        elif isinstance(source, (str, os.PathLike)):
            owned = stream = open(source, "rb")  # noqa: SIM115 - closed below
            name = name if name is not None else Path(source).name
        else:
            stream = source
            if name is None:
                name = Path(getattr(source, "name", "")).name
                if not name:
                    raise ValueError("uploading a file object needs a name")
        chunks: Iterable[bytes] = _read_chunks(stream, self.chunk_size, hasher, counter)
        if progress is not None:
            chunks = _reporting(chunks, progress)
        try:
            pieces = iter_upload_request(name, chunks, self.dialect)
            response = self._exchange("UPLOAD", pieces)
        finally:
            if owned is not None:
                owned.close()
        stored = response.fields.get("data_namafile")
        digest = hasher.hexdigest() if hasher is not None else ""
        return Transfer(stored if isinstance(stored, str) else name, counter[0], digest)


def _unacknowledged(sock: socket.socket) -> int:
    """Bytes in the socket's send queue not yet acknowledged by the peer (Linux SIOCOUTQ,
    the same number as TIOCOUTQ); 0 where that cannot be asked."""
    try:
        raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    except OSError:
        return 0
    return max(0, int(struct.unpack("i", raw)[0]))


def _reporting(chunks: Iterable[bytes], progress: ProgressFn) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk
        progress(len(chunk))
