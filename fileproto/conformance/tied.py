"""Answers tied to the requests that asked for them, for the rules about crossed answers
(docs/protocol.md section 9.3). Every request of those rules is a GET of a file that only
one connection asks for, with a name and a content of its own, so any answer says whose it
is. A ``Party`` is one connection and the GETs it has sent; ``collect`` reads every party
at once and names the first answer that reaches the wrong one."""

from __future__ import annotations

import select
import socket
import time
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass

from fileproto.conformance.context import decode_file
from fileproto.conformance.model import Blocked, Violation
from fileproto.conformance.rawio import (
    Conn,
    NoAnswer,
    Reply,
    begin_connect,
    brief,
    connect_error,
    parse_response,
    show,
)


@dataclass(frozen=True)
class Owned:
    """A file that one connection (``owner``, as the report names it) asks for."""

    owner: str
    name: str
    content: bytes


class Party:
    """One connection of a rule and the files it asked for, oldest first. Its connect is
    begun, not waited for: what it asks before the handshake is done is sent then
    (``collect``), so a rule can hold more connections than a server that serves one at
    a time has room for in its listen queue, and still read and close the first ones."""

    def __init__(self, label: str, host: str, port: int, timeout: float) -> None:
        self.label = label
        self.timeout = timeout
        self.address = f"{host}:{port}"
        self.connecting: socket.socket | None = begin_connect(host, port)
        self._conn: Conn | None = None
        self.outgoing = b""
        self.waiting: deque[Owned] = deque()
        self.closed = False

    @property
    def conn(self) -> Conn:
        if self._conn is None:
            raise RuntimeError(f"connection {self.label} is not connected yet")
        return self._conn

    @property
    def sock(self) -> socket.socket:
        return self.connecting if self.connecting is not None else self.conn.sock

    def ask(self, data: bytes, *files: Owned) -> None:
        """Send ``data``: the GETs of ``files``, in this order (pipelined if several)."""
        if self._conn is None:
            self.outgoing += data
        else:
            self._conn.send(data)
        self.waiting.extend(files)

    def connected(self) -> None:
        """The handshake is done (the socket became writable): send what was asked."""
        sock, self.connecting = self.connecting, None
        assert sock is not None
        failed = connect_error(sock)
        if failed is not None:
            sock.close()
            self.closed = True
            raise NoAnswer(f"connection {self.label} could not connect to {self.address}: {failed}")
        self._conn = Conn.adopt(sock, self.timeout)
        if self.outgoing:
            data, self.outgoing = self.outgoing, b""
            self._conn.send(data)

    def wait_connected(self) -> None:
        if self.connecting is not None:
            _, ready, _ = select.select([], [self.connecting], [], self.timeout)
            if not ready:
                raise NoAnswer(
                    f"connection {self.label} was not accepted within {self.timeout:g} s"
                )
            self.connected()

    def close(self) -> None:
        self.closed = True
        self.sock.close()


def whose(reply: Reply, files: Sequence[Owned]) -> tuple[str, Owned | None]:
    """Which request of the rule ``reply`` answers, in words, and the file it carries
    (None: none of the rule's)."""
    if reply.get("status") != "OK":
        return f"an answer with status {reply.get('status')}: {show(reply)}", None
    name = reply.get("data_namafile")
    try:
        content: bytes | None = decode_file(reply)
    except Violation:
        content = None
    by_content = [f for f in files if f.content == content]
    by_name = [f for f in files if f.name == name]
    if by_content:
        found = by_content[0]
        named = "" if name in (None, found.name) else f", though named {brief(str(name))}"
        return f"the answer to connection {found.owner}'s GET of {brief(found.name)}{named}", found
    if by_name:
        size = "content that is not base64" if content is None else f"{len(content)} bytes"
        return (
            f"an answer naming connection {by_name[0].owner}'s file {brief(by_name[0].name)} "
            f"but holding other content ({size})"
        ), by_name[0]
    return f"an answer to no request of this check: {show(reply)}", None


def _verdict(found: Owned | None, owner: str | None = None) -> str:
    if found is None:
        return "not its own answer"
    if found.owner == owner:
        return "its answers came out of the order of its requests"
    return "answers crossed connections"


def _tied(reply: Reply, file: Owned) -> bool:
    """Whether ``reply`` is the answer to a GET of ``file``: by content, and by name when
    it names one (get.ok.1 checks that it does)."""
    try:
        content = decode_file(reply)
    except Violation:
        return False
    name = reply.get("data_namafile")
    return content == file.content and name in (None, file.name)


def _judge(party: Party, reply: Reply, files: Sequence[Owned]) -> None:
    if not party.waiting:
        seen, found = whose(reply, files)
        raise Violation(
            f"connection {party.label}, with no request outstanding, received {seen}: "
            f"{_verdict(found)}"
        )
    expected = party.waiting.popleft()
    asked = f"connection {party.label}'s GET of {brief(expected.name)}"
    if reply.get("status") != "OK" and not any(_tied(reply, f) for f in files):
        # The file is stored: a GET refused here is get.ok.1's finding, unless that
        # rule passes.
        raise Blocked("get.ok.1", f"{asked} was answered {show(reply)}")
    if not _tied(reply, expected):
        seen, found = whose(reply, files)
        raise Violation(f"{asked} was answered with {seen}: {_verdict(found, party.label)}")


def _receive(party: Party, files: Sequence[Owned]) -> None:
    """One message that has begun to arrive on ``party``, judged."""
    try:
        reply = parse_response(party.conn.read_message())
    except NoAnswer as exc:
        if party.waiting:
            raise NoAnswer(
                f"connection {party.label}, waiting for its GET of "
                f"{brief(party.waiting[0].name)}: {exc}"
            ) from None
        party.close()  # an idle connection the server closed: nothing crossed
        return
    except Violation as exc:
        whom = "its own answer" if party.waiting else "nothing"
        raise Violation(
            f"connection {party.label}, waiting for {whom}, received bytes that are no "
            f"answer ({exc}): the rest of another connection's answer?"
        ) from None
    _judge(party, reply, files)


def collect(
    parties: Sequence[Party], files: Sequence[Owned], timeout: float, close_done: bool = False
) -> list[Party]:
    """Read the answers of every open party until each has all it asked for, at most
    ``timeout`` seconds; the parties still waiting then are returned (empty: all done).
    Each answer must be the next one its party asked for; an answer to another party's
    request, or one on a party that asked for nothing, is a Violation that says whose it
    is. Parties that are done stay watched (an answer crossing to them is caught) unless
    ``close_done``: then each is closed once done, so that a server serving one
    connection at a time goes on to the next."""
    deadline = time.monotonic() + timeout
    while True:
        for party in parties:
            if close_done and not party.waiting and not party.closed:
                party.close()
        open_parties = [p for p in parties if not p.closed]
        waiting = [p for p in open_parties if p.waiting]
        if not waiting:
            return []
        buffered = [p for p in open_parties if p.connecting is None and p.conn.buffer]
        if buffered:
            _receive(buffered[0], files)
            continue
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return waiting
        readable, writable, _ = select.select(
            [p.sock for p in open_parties if p.connecting is None],
            [p.sock for p in open_parties if p.connecting is not None],
            [],
            remaining,
        )
        for party in open_parties:  # in the parties' order: requests go out in it
            if party.connecting is not None and party.sock in writable:
                party.connected()
        for party in open_parties:
            if party.sock in readable and not party.closed:
                _receive(party, files)


def before_own(party: Party, files: Sequence[Owned], limit: int) -> tuple[list[str], bool]:
    """Read ``party``'s messages until the answer to the GET it has outstanding arrives, at
    most ``limit`` of them: what came before it, in words, and whether it came. Reading
    them all empties whatever the server kept for this connection, so that it does not
    reach the next one."""
    party.wait_connected()
    expected = party.waiting[0]
    before: list[str] = []
    for _ in range(limit):
        try:
            message = party.conn.read_message()
        except NoAnswer as exc:
            if before:
                return before, False
            raise NoAnswer(
                f"connection {party.label}, waiting for its GET of {brief(expected.name)}: {exc}"
            ) from None
        try:
            reply = parse_response(message)
        except Violation as exc:
            before.append(f"bytes that are no answer ({exc})")
            continue
        if _tied(reply, expected):
            party.waiting.popleft()
            return before, True
        if not before and reply.get("status") != "OK" and not any(_tied(reply, f) for f in files):
            raise Blocked("get.ok.1", f"connection {party.label}'s GET of "
                          f"{brief(expected.name)} was answered {show(reply)}")  # fmt: skip
        before.append(whose(reply, files)[0])
    return before, False


def counted(things: Sequence[str]) -> str:
    """``things`` in words, repeats counted, in the order first seen."""
    counts = Counter(things)
    return ", ".join(t if counts[t] == 1 else f"{t} ({counts[t]} times)" for t in counts)


def answered(
    parties: Sequence[Party], files: Sequence[Owned], timeout: float, close_done: bool = False
) -> None:
    """``collect``, where an answer still missing at the end is a failure."""
    late = collect(parties, files, timeout, close_done)
    if late:
        asked = "; ".join(
            f"connection {p.label} for its GET of {brief(p.waiting[0].name)}" for p in late
        )
        raise NoAnswer(f"no answer within {timeout:g} s: {asked}")
