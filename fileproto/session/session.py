"""One connection's conversation: request events in, response bytes out, deadlines kept.

The driver loop is the same for every concurrency model::

    session = ServerSession(store, limits, accepted_at=now)
    while True:
        action = session.next_action(now)
        Send    -> send action.data (within limits.send_timeout per send)
        Receive -> wait for bytes until action.deadline; session.receive_data(data, now)
        Close   -> close the socket; stop

After each request the session pauses until its response has been handed out whole:
pipelined bytes wait in the parser until then.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Literal

from fileproto.session.actions import Action, Close, Receive, Send
from fileproto.session.deadlines import Deadlines, Limits
from fileproto.store import FileStore, StoreError, Upload
from fileproto.wire.b64 import encode_chunk
from fileproto.wire.events import (
    NEED_DATA,
    Closed,
    Data,
    EndOfRequest,
    Event,
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


class ServerSession:
    def __init__(self, store: FileStore, limits: Limits, accepted_at: float) -> None:
        self.store = store
        self.limits = limits
        self.parser = RequestParser(limits.max_header)
        self.deadlines = Deadlines(limits, accepted_at)
        self.served = 0
        self._upload: Upload | None = None
        self._out: deque[Send] = deque()
        self._source: int | None = None  # fd of the file a GET response streams
        self._held: Event | None = None  # an event seen by ``poll``
        self._close: Close | None = None
        self._answered = False  # the last piece of an answer was handed out

    # -- driver API -----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes that arrived (``b""``: the peer closed its side)."""
        self.deadlines.received(len(data))
        self.parser.receive_data(data)

    @property
    def idle(self) -> bool:
        """Between requests with nothing received or to send: safe to close at once."""
        return (
            not self._out
            and self._source is None
            and self._held is None
            and self.parser.phase == "idle"
            and self.parser.buffered == 0
        )

    def next_action(self, now: float) -> Action:
        if self._answered:
            # The driver asks again once the answer's last piece is out: the keep-alive
            # clock starts now, not when that piece was handed over.
            self._answered = False
            self.deadlines.response_done(now)
        while True:
            if self._out:
                send = self._out.popleft()
                if send.last:
                    self._response_done(now)
                return send
            if self._source is not None:
                return self._file_piece(now)
            if self._close is not None:
                self.abort()
                return self._close
            event = self._next_event()
            if event is NEED_DATA:
                return self._waiting(now)
            self._handle(event)

    def timed_out(self, now: float) -> bool:
        """The driver waited until the Receive's deadline and nothing more arrived
        (it takes what already had, first: a worker may come to a waiting connection
        late, and its client was on time). True when a deadline fired: ``next_action``
        then yields its answer, if the framing allows one, and the Close; False when
        the connection may go on (a body fast enough over its window), with a new
        deadline."""
        expired = self.deadlines.check(now)
        if expired is None:
            return False
        self.abort()
        self.parser.skip_request()
        self._held = None
        self._close = Close(f"{expired.deadline} deadline", "deadline")
        if expired.message is not None:
            self._answer(encode_error(expired.message))
        return True

    def poll(self, now: float) -> Receive | Literal["work"]:
        """For a readiness driver, after each read of a parked connection: ``work``
        when a request's header has arrived (or an answer is due) and a worker should
        take over; else the Receive to park with. Parses only what has arrived, once;
        does no store or disk work."""
        if self._out or self._source is not None or self._close is not None:
            return "work"
        if self._held is None:
            event = self.parser.next_event()
            if event is not NEED_DATA:
                self._held = event
                return "work"
        return self._waiting(now)

    def abort(self) -> None:
        """Drop what is in flight: the temporary upload, an open file. Idempotent."""
        if self._upload is not None:
            self._upload.abort()
            self._upload = None
        if self._source is not None:
            os.close(self._source)
            self._source = None

    # -- events ---------------------------------------------------------------------

    def _next_event(self) -> Event:
        if self._held is not None:
            event, self._held = self._held, None
            return event
        return self.parser.next_event()

    def _waiting(self, now: float) -> Receive:
        deadlines = self.deadlines
        deadlines.update(self.parser.phase, now)
        return Receive(deadlines.deadline, self.parser.phase)

    def _handle(self, event: Event) -> None:
        if isinstance(event, Data):
            self._write(event.data)
        elif isinstance(event, RequestStarted):
            self._start_upload(event)
        elif isinstance(event, EndOfRequest):
            self._respond(event.request)
        elif isinstance(event, RequestError):
            self.abort()
            self._answer(encode_error(event.message))
            if event.fatal:
                self._close = Close(event.message, "error")
        elif isinstance(event, Closed):
            self._close = Close("peer closed", "peer")

    def _answer(self, data: bytes) -> None:
        self._out.append(Send(data, last=True))

    def _reject(self, message: str) -> None:
        """Answer the current request now and drop the rest of it unread."""
        self.abort()
        self.parser.skip_request()
        self._answer(encode_error(message))

    def _response_done(self, now: float) -> None:
        self.served += 1
        self._answered = True
        self.deadlines.response_done(now)  # and again once it is out (next_action)
        if self.served >= self.limits.max_requests and self._close is None:
            self._close = Close("request limit of this connection reached", "limit")

    # -- uploads --------------------------------------------------------------------

    def _start_upload(self, event: RequestStarted) -> None:
        self.abort()  # never two temporary files for one request
        if event.command not in (None, "UPLOAD"):
            return  # a payload where none belongs; the parser reports it at the end
        if event.name is not None:
            try:
                clean_name(event.name)
            except InvalidName as exc:
                self._reject(str(exc))
                return
        try:
            self._upload = self.store.begin_upload()
        except OSError as exc:
            self._reject(f"cannot store the upload: {exc.strerror}")

    def _write(self, data: bytes) -> None:
        upload = self._upload
        if upload is None:
            return
        limit = self.limits.max_file_size
        if limit is not None and upload.size + len(data) > limit:
            self._reject(f"file too large: the limit is {limit} bytes")
            return
        try:
            upload.write(data)
        except OSError as exc:
            self._reject(f"cannot store the upload: {exc.strerror}")

    # -- responses ------------------------------------------------------------------

    def _respond(self, request: Request) -> None:
        upload, self._upload = self._upload, None
        store = self.store
        try:
            if request.command == "UPLOAD":
                if upload is None:
                    raise StoreError("the upload's content was not received")
                size = upload.size
                name = store.commit_upload(upload, request.name)
                upload = None
                self._answer(encode_ok(data_namafile=name, data=f"uploaded {name} ({size} bytes)"))
            elif request.command == "LIST":
                self._answer(encode_ok(data=store.list()))
            elif request.command == "DELETE":
                name = store.delete(request.name)
                self._answer(encode_ok(data_namafile=name, data=f"deleted {name}"))
            else:
                name, fd, _size = store.open_read(request.name)
                self._source = fd
                self._out.append(Send(get_response_prefix(name)))
        except (InvalidName, StoreError) as exc:
            self._answer(encode_error(str(exc)))
        except OSError as exc:
            self._answer(encode_error(f"server error: {exc.strerror or exc}"))
        finally:
            if upload is not None:
                upload.abort()

    def _file_piece(self, now: float) -> Action:
        assert self._source is not None
        try:
            chunk = _read_full(self._source, self.limits.read_chunk)
        except OSError as exc:
            # The prefix is out: the framing cannot carry an error any more.
            self.abort()
            return Close(f"reading the file failed: {exc.strerror}", "error")
        if len(chunk) == self.limits.read_chunk:
            # Every chunk but the last is a multiple of 3, so the pieces join up.
            return Send(encode_chunk(chunk))
        self.abort()
        self._response_done(now)
        suffix = get_response_suffix()
        return Send(encode_chunk(chunk) + suffix if chunk else suffix, last=True)


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
