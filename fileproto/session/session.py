"""One connection's conversation: request events in, response bytes out, deadlines kept.

The driver loop is the same for every concurrency model (docs/architecture.md)::

    session = ServerSession(store, limits, accepted_at=now)     # at accept
    while True:
        action = session.next_action(now)
        Send    -> send what fits of action.data; session.sent(count, now)
        Receive -> read; session.receive_data(data, now); at action.deadline (or at
                   session.deadline while a send waits for room), session.timed_out(now)
        Close   -> close the socket (lingering first if action.linger); stop

The session decides everything: what to answer, every deadline (the first header's
from accept, the body's minimum rate, keep-alive, a send that makes no progress), when
a connection is refused or closed and with what answer. A driver only moves bytes and
honours the deadline it is given; between any two calls it may hand the session to
another thread or, pickled with its named ``descriptors`` and ``adopt``, to another
process.

After each request the session pauses until its response has been sent whole:
pipelined bytes wait in the parser until then.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from fileproto.session.actions import LINGER, Action, Close, Polled, Receive, Send, State, Work
from fileproto.session.deadlines import Deadlines, Expired, Limits
from fileproto.session.responder import ReadFailed, Responder
from fileproto.store import FileStore
from fileproto.trace import CloseKind, Closing, Ev
from fileproto.wire.events import (
    NEED_DATA,
    Closed,
    Data,
    EndOfRequest,
    Event,
    NeedData,
    RequestError,
    RequestStarted,
)
from fileproto.wire.readers import ParserState
from fileproto.wire.request_parser import RequestParser
from fileproto.wire.responses import encode_error

#: Where the session reports what happens to a connection (docs/trace.md):
#: ``trace(event, fields)``. The driver binds the connection's id.
Trace = Callable[[Ev, dict[str, Any]], None]

#: What the connection is doing while its parser waits for bytes in each state.
_WAITING_IN = {
    ParserState.IDLE: State.AWAITING_REQUEST,
    ParserState.CLOSED: State.AWAITING_REQUEST,
    ParserState.HEADER: State.RECEIVING_HEADER,
    ParserState.PAYLOAD: State.RECEIVING_BODY,
    ParserState.SKIP: State.RECEIVING_BODY,
}


#: The commands whose answer is small whatever the files are (``asks_little``).
_LITTLE = frozenset({"LIST", "DELETE"})


def busy_message(open_connections: int) -> str:
    """The answer to a connection refused at the server's cap."""
    return f"server busy: {open_connections} connections"


class ServerSession:
    # Thousands of waiting connections each hold one: no per-instance dict.
    __slots__ = ("_close", "_cmd", "_held", "_moved", "_out", "_parser", "_piece", "_piece_last",
                 "_since", "_state", "_status", "deadlines", "limits", "responder", "served",
                 "trace")  # fmt: skip

    def __init__(
        self,
        store: FileStore,
        limits: Limits,
        accepted_at: float,
        trace: Trace | None = None,
    ) -> None:
        self.responder = Responder(store, limits)
        self.limits = limits
        self.trace = trace
        self.deadlines = Deadlines(limits, accepted_at)
        self.served = 0
        # No parser until the first byte: a connection that waits costs no buffer.
        self._parser: RequestParser | None = None
        self._state = State.AWAITING_REQUEST
        self._out: deque[tuple[bytes, bool]] = deque()  # (piece, ends the response)
        self._piece: memoryview | None = None  # what is left of the piece being sent
        self._piece_last = False
        self._held: Event | None = None  # an event seen by ``poll``
        self._close: Close | None = None
        self._cmd: str | None = None  # the request being answered, for the trace
        self._status = "OK"
        # Bytes moved both ways since the exchange (a request and its answer) began.
        self._moved = 0
        self._since = accepted_at

    # -- state ----------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @property
    def idle(self) -> bool:
        """Between requests with nothing received or to send: safe to close at once."""
        return (
            self._state is State.AWAITING_REQUEST
            and self._held is None
            and (self._parser is None or self._parser.buffered == 0)
        )

    @property
    def asks_little(self) -> bool:
        """A whole request waits with no body and an answer of bounded size (LIST,
        DELETE): a scheduler may run it before transfers."""
        return isinstance(self._held, EndOfRequest) and self._held.request.command in _LITTLE

    @property
    def asks_for(self) -> int | None:
        """The size of the file a whole waiting GET asks for (one ``lstat``), or None:
        a scheduler may tell a long answer by it before a worker takes it."""
        held = self._held
        if not isinstance(held, EndOfRequest) or held.request.command != "GET":
            return None
        return self.responder.store.size_of(held.request.name)

    @property
    def held(self) -> int:
        """Received bytes the session holds (a waiting connection: none)."""
        return 0 if self._parser is None else self._parser.held

    def pace(self, now: float) -> tuple[int, float]:
        """How the current exchange has gone so far: (bytes moved both ways, seconds
        since its first byte). A driver deciding whether a client that would block is
        only a little behind, or slow, reads it."""
        return self._moved, now - self._since

    @property
    def deadline(self) -> float:
        """When the current wait ends (monotonic seconds): for bytes of a request, or
        for the client to take some of the response."""
        return self.deadlines.deadline

    # -- driver API -----------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes that arrived (``b""``: the peer closed its side)."""
        self.deadlines.received(len(data))
        if self._moved == 0:
            self._since = now  # the exchange begins with its first byte
        self._moved += len(data)
        if self._parser is None:
            self._parser = RequestParser(self.limits.max_header)
        self._parser.receive_data(data)

    def sent(self, count: int, now: float) -> None:
        """``count`` bytes of the last Send were taken (by the kernel, or by a transport
        that buffers them); a response is over once its last byte is."""
        piece = self._piece
        if count <= 0 or piece is None:
            return
        self.deadlines.progress(now)
        self._moved += count
        if count < len(piece):
            self._piece = piece[count:]
            return
        self._piece = None
        if self._piece_last:
            self._response_done(now)

    def client_read(self, now: float) -> None:
        """The client took bytes of what was already handed to a buffering transport
        (its buffer shrank): a slow reader is not a stalled one."""
        self.deadlines.progress(now)

    def next_action(self, now: float) -> Action:
        while True:
            if self._piece is not None:
                return Send(self._piece)
            if self._out:
                data, last = self._out.popleft()
                self._start_piece(data, last, now)
                continue
            if self.responder.streaming:
                closing = self._file_piece(now)
                if closing is not None:
                    return closing
                continue
            if self._close is not None:
                return self._closed()
            event = self._next_event()
            if event is NEED_DATA:
                return self._waiting(now)
            self._handle(event)

    def poll(self, now: float) -> Polled:
        """For a dispatcher, after it read for a waiting connection: ``Work`` when a
        worker should take over, the ``Receive`` to wait on, or the ``Close`` of a
        client that left between requests. Parses only what has arrived, once; does
        no store or disk work."""
        if self._piece is not None or self._out or self.responder.streaming:
            return Work()
        if self._close is not None:
            return self._closed()
        if self._held is None and self._parser is not None:
            event = self._parser.next_event()
            if isinstance(event, Closed):
                self._close = Close(Closing.PEER_CLOSED, CloseKind.PEER)
                return self._closed()
            if not isinstance(event, NeedData):
                self._held = event
                return Work()
        if self._held is not None:
            return Work()
        return self._waiting(now)

    def timed_out(self, now: float) -> bool:
        """The driver waited until the deadline and nothing more came (it takes what
        already arrived first: a worker may come to a waiting connection late, and its
        client was on time). True when a deadline fired: ``next_action`` then yields
        its answer, if the framing allows one, and the Close. False when the
        connection may go on (a body fast enough over its window), with a new
        deadline."""
        expired = self.deadlines.check(now)
        if expired is None:
            return False
        self._expire(expired)
        return True

    def refuse(self, message: str) -> None:
        """Answer ``message`` and close: a connection the server will not serve."""
        self._reset_response()
        self._answer(encode_error(message), ok=False)
        self._close = Close(message, CloseKind.REFUSED, linger=LINGER)

    def abort(self) -> None:
        """Drop what is in flight: the temporary upload, an open file. Idempotent."""
        self.responder.abort()

    @property
    def upload_path(self) -> Path | None:
        """The temporary file of the upload in progress, if one is."""
        upload = self.responder.upload
        return None if upload is None else upload.path

    # -- travelling between processes --------------------------------------------------

    def descriptors(self) -> dict[str, int]:
        """The file descriptors the session holds, by name (``DESCRIPTORS``: an upload's
        temporary file, the file a GET streams): a driver that moves the session to
        another process passes these along and hands its copies to ``adopt``."""
        return self.responder.descriptors()

    def adopt(self, store: FileStore, fds: Mapping[str, int], trace: Trace | None = None) -> None:
        """After unpickling: the process's store and trace, and its copies of
        ``descriptors`` under the same names."""
        self.responder.adopt(store, fds)
        self.trace = trace

    def __getstate__(self) -> dict[str, Any]:
        state = {name: getattr(self, name) for name in self.__slots__}
        state["trace"] = None  # the receiving process adopts its own
        if self._piece is not None:
            state["_piece"] = bytes(self._piece)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        if self._piece is not None:
            self._piece = memoryview(self._piece)

    # -- events ---------------------------------------------------------------------

    def _next_event(self) -> Event:
        if self._held is not None:
            event, self._held = self._held, None
            return event
        if self._parser is None:
            return NEED_DATA
        return self._parser.next_event()

    def _waiting(self, now: float) -> Receive:
        parser_state = ParserState.IDLE if self._parser is None else self._parser.state
        self._state = _WAITING_IN[parser_state]
        self.deadlines.enter(self._state, now)
        return Receive(self.deadlines.deadline)

    def _closed(self) -> Close:
        assert self._close is not None
        self.abort()
        self._state = State.CLOSED
        return self._close

    def _handle(self, event: Event) -> None:
        if isinstance(event, Data):
            refused = self.responder.write(event.data)
            if refused is not None:
                self._reject(refused)
        elif isinstance(event, RequestStarted):
            # An upload's header is complete where its payload begins.
            self._cmd = event.command or "?"
            self._emit(Ev.HEADER, cmd=event.command)
            refused = self.responder.start_upload(event)
            if refused is not None:
                self._reject(refused)
        elif isinstance(event, EndOfRequest):
            if self._cmd is None:
                self._emit(Ev.HEADER, cmd=event.request.command)
            self._cmd = event.request.command
            data, last, ok = self.responder.respond(event.request)
            self._status = "OK" if ok else "ERROR"
            self._out.append((data, last))
        elif isinstance(event, RequestError):
            self.abort()
            self._answer(encode_error(event.message), ok=False)
            if event.fatal:
                self._close = Close(event.message, CloseKind.ERROR, linger=LINGER)
        elif isinstance(event, Closed):
            self._close = Close(Closing.PEER_CLOSED, CloseKind.PEER)

    def _emit(self, event: Ev, **fields: Any) -> None:
        if self.trace is not None:
            self.trace(event, fields)

    def _answer(self, data: bytes, ok: bool = True) -> None:
        self._status = "OK" if ok else "ERROR"
        self._out.append((data, True))

    def _reject(self, message: str) -> None:
        """Answer the current request now and drop the rest of it unread."""
        self.abort()
        if self._parser is not None:
            self._parser.skip_request()
        self._answer(encode_error(message), ok=False)

    def _reset_response(self) -> None:
        self.abort()
        self._held = None
        self._piece = None
        self._out.clear()

    def _expire(self, expired: Expired) -> None:
        self._reset_response()
        if self._parser is not None:
            self._parser.skip_request()
        if expired.message is None:
            self._close = Close(
                f"{expired.deadline} deadline", CloseKind.DEADLINE, expired.deadline
            )
            return
        self._answer(encode_error(expired.message), ok=False)
        self._close = Close(
            f"{expired.deadline} deadline", CloseKind.DEADLINE, expired.deadline, LINGER
        )

    def _start_piece(self, data: bytes, last: bool, now: float) -> None:
        if self._state is not State.SENDING_RESPONSE:
            self._state = State.SENDING_RESPONSE
            self.deadlines.enter(State.SENDING_RESPONSE, now)
        self._piece_last = last
        if data:
            self._piece = memoryview(data)
        elif last:
            self._response_done(now)

    def _response_done(self, now: float) -> None:
        self.served += 1
        self._moved, self._since = 0, now
        self._emit(Ev.RESPONSE, cmd=self._cmd, status=self._status)
        self._cmd, self._status = None, "OK"
        self._state = State.AWAITING_REQUEST
        self.deadlines.enter(State.AWAITING_REQUEST, now)  # the keep-alive clock
        if self.served >= self.limits.max_requests and self._close is None:
            self._close = Close(Closing.REQUEST_LIMIT, CloseKind.LIMIT)

    def _file_piece(self, now: float) -> Close | None:
        """The next piece of the file a GET streams becomes the piece to send."""
        try:
            data, last = self.responder.file_piece()
        except ReadFailed as exc:
            # The prefix is out: the framing cannot carry an error any more.
            self._state = State.CLOSED
            return Close(str(exc), CloseKind.ERROR)
        self._start_piece(data, last, now)
        return None
