"""Section 9.3: each connection receives the answers to its own requests only. Each rule
drives the clients in the order that makes one family of naive servers cross its answers
(docs/conformance.md, "Crossed answers", lists the designs and which rule forces which);
every request is a GET of a file only one connection asks for, so each answer is known by
its name and its content (``fileproto.conformance.tied``)."""

from __future__ import annotations

import os

from fileproto.conformance.classic import SAFETY
from fileproto.conformance.context import Context
from fileproto.conformance.model import Level, Violation, rule
from fileproto.conformance.tied import Owned, Party, answered, before_own, collect, counted

_OWN = (
    "Each connection MUST receive the answers to its own requests and nothing else, "
    "whatever the clients do: connect and wait before they ask, overlap in time, pipeline, "
    "or leave with requests unanswered."
)
_ENDED = (
    "A server MUST NOT let anything that belongs to a connection that has ended (an answer "
    "to it, or a request it left unanswered) reach another connection."
)

#: How long the first connection is held idle while the second one waits for its answer.
#: A server that serves one connection at a time answers the second only once the first
#: has closed; it is then checked in the order it can serve (and this rule says so).
OVERLAP_WAIT = 2.0
#: The client that leaves pipelines this many GETs of a file of LEFT_SIZE bytes: more
#: answer (11 MiB of base64) than the server's send buffer (4 MiB at most by default on
#: Linux) and the client's small receive buffer hold together, so the server is still
#: answering, however fast it is, when the client resets.
PIPELINED = 16
LEFT_SIZE = 512 * 1024
LEAVER_RCVBUF = 16 * 1024
#: Clients that come one after another once it has left: a server that hands connections
#: to its workers in turn (up to this many), or to the worker idle longest or shortest,
#: gives one of them to the worker that served the client that left.
FOLLOWERS = 8
#: Files of very different sizes, asked for at once by as many connections: the answers
#: to the small ones are ready long before the large one's, however the server's pool
#: schedules them (a 1 MiB answer takes a pool worker milliseconds of encoding). Three
#: connections: a server that serves one at a time with a listen queue of one holds them
#: all (a fourth would wait for its SYN to be sent again, a second later).
SIZES = (1 << 20, 32 << 10, 1500)
LABELS = "ABC"  # the connections that ask for them, in this order
#: Each burst is asked largest first and then smallest first, this many times. On a busy
#: machine the pool may finish the large answer before the server has read the others'
#: requests (then the answers are ready in the order asked and nothing crosses): three
#: rounds let a server that hands answers out in finish order pass once under `-n 2`
#: beside other checks; each round costs a checked server one 1 MiB answer.
ROUNDS = 8
LARGE, SMALL = SIZES[0], SIZES[-1]
#: Rounds of the pipelined pair. A 1 MiB answer takes a pool worker milliseconds, the small
#: one's well under one, yet on a busy machine the worker given the small one may not run
#: before the large one is done (about one round in four there): a server that sends
#: pipelined answers as they are ready is caught if any round crosses. A larger file would
#: widen the gap but cost every checked server (and the checker) its transfer each round.
PIPELINE_ROUNDS = 8


def _owned(ctx: Context, owner: str, size: int) -> Owned:
    """A file of its own for connection ``owner``, stored on the server."""
    file = Owned(owner, ctx.name(owner.lower()), os.urandom(size))
    ctx.upload(file.name, file.content)
    return file


def _party(ctx: Context, label: str) -> Party:
    return Party(label, ctx.target.host, ctx.target.port, ctx.timeout)


@rule("concurrency.own.1", Level.MUST, "9.3", _OWN, classic=SAFETY)
def connections_that_wait(ctx: Context) -> str:
    """A connects; B connects; B asks while A waits; then A asks; then B again. A server
    that keeps "the current connection" (overwritten at each accept) sends A's answer to
    B; one that keeps the first (a lookup by the client's address, the first in a list)
    or hands answers out in accept order sends B's answer to A."""
    a, b = _owned(ctx, "A", 3000), _owned(ctx, "B", 3001)
    files = [a, b]
    first = _party(ctx, "A")
    parties = [first]
    try:
        second = _party(ctx, "B")
        parties.append(second)
        second.ask(ctx.req("GET", b.name), b)
        if collect(parties, files, min(ctx.timeout, OVERLAP_WAIT)):
            # One connection at a time: A asks, is answered and leaves; then B's turn.
            first.ask(ctx.req("GET", a.name), a)
            answered(parties, files, ctx.timeout, close_done=True)
            return (
                f"the second connection was not answered within {OVERLAP_WAIT:g} s while "
                "the first was open (one connection at a time): checked in turn"
            )
        first.ask(ctx.req("GET", a.name), a)
        answered(parties, files, ctx.timeout)
        if ctx.has("keepalive"):
            second.ask(ctx.req("GET", b.name), b)
            answered(parties, files, ctx.timeout)
        return ""
    finally:
        for party in parties:
            party.close()


@rule("concurrency.own.2", Level.MUST, "9.3", _ENDED, classic=SAFETY)
def a_client_that_leaves(ctx: Context) -> str:
    """A pipelines many GETs of its file and resets its connection while the server is
    still answering; then clients come one after another, each asking for its own file.
    A server that keeps a read buffer (or the rest of an answer, or a queue of requests)
    per worker or per descriptor number from one client to the next answers A's requests
    to one of them."""
    a, b = _owned(ctx, "A", LEFT_SIZE), _owned(ctx, "B", 3000)
    leaver = ctx.connect(rcvbuf=LEAVER_RCVBUF)
    try:
        leaver.send(ctx.req("GET", a.name) * PIPELINED)
        started = leaver.readable(ctx.timeout)  # the server has begun answering
    finally:
        leaver.reset()
    crossed = []
    for number in range(1, FOLLOWERS + 1):
        follower = _party(ctx, f"B{number}")
        try:
            follower.ask(ctx.req("GET", b.name), b)
            before, own = before_own(follower, [a, b], PIPELINED + 1)
        finally:
            follower.close()
        if before:
            then = "its own" if own else "nothing of its own"
            crossed.append(f"B{number} received {counted(before)}, then {then}")
    if crossed:
        raise Violation(
            f"A pipelined {PIPELINED} GETs of its file and left while they were being "
            f"answered; of the {FOLLOWERS} clients that came one after another then, "
            + "; ".join(crossed)
            + ": answers crossed connections"
        )
    if not started:
        return (
            f"A's {PIPELINED} pipelined GETs got no answer within {ctx.timeout:g} s; the "
            f"{FOLLOWERS} clients after it got their own file"
        )
    return f"the {FOLLOWERS} clients that came one after another once A had left got their own file"


@rule("concurrency.own.3", Level.MUST, "9.3", _OWN, classic=SAFETY)
def answers_ready_out_of_order(ctx: Context) -> None:
    """Connections A, B and C ask at once for files of very different sizes, largest
    first, then smallest first: the small answers are ready first. A server that hands
    answers, as its pool finishes them, to the connections in the order they asked (or in
    the reverse order) gives one connection another's file."""
    stored = [_owned(ctx, f"size-{size}", size) for size in SIZES]
    for _ in range(ROUNDS):
        for burst in (stored, stored[::-1]):
            files = [Owned(who, f.name, f.content) for who, f in zip(LABELS, burst, strict=True)]
            parties: list[Party] = []
            try:
                for file in files:
                    parties.append(_party(ctx, file.owner))
                for party, file in zip(parties, files, strict=True):
                    party.ask(ctx.req("GET", file.name), file)
                answered(parties, files, ctx.timeout, close_done=True)
            finally:
                for party in parties:
                    party.close()


@rule("concurrency.own.4", Level.MUST, "9.3", _OWN, needs=("pipelining",), classic=SAFETY)
def pipelined_answers_stay_in_order(ctx: Context) -> None:
    """A pipelines a GET of a large file and one of a small file; B, at the same time, two
    GETs of small files; eight times. A server that hands pipelined requests to its pool
    at once and sends their answers as they are ready sends A's small file first (and, if
    it lines answers up across connections, B's files to A)."""
    large, a_small = _owned(ctx, "A-large", LARGE), _owned(ctx, "A-small", SMALL)
    b_first, b_second = _owned(ctx, "B-first", SMALL + 1), _owned(ctx, "B-second", SMALL + 2)
    a = [Owned("A", f.name, f.content) for f in (large, a_small)]
    b = [Owned("B", f.name, f.content) for f in (b_first, b_second)]
    for _ in range(PIPELINE_ROUNDS):
        parties = [_party(ctx, "A")]
        try:
            parties.append(_party(ctx, "B"))
            for party, (one, two) in zip(parties, (a, b), strict=True):
                party.ask(ctx.req("GET", one.name) + ctx.req("GET", two.name), one, two)
            answered(parties, [*a, *b], ctx.timeout, close_done=True)
        finally:
            for party in parties:
                party.close()
