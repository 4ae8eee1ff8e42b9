"""A case's timeline, as the results record keeps it (docs/trace.md): each request's
phases on the client side, each LIST probe's, and the server's own trace events.

All times are seconds from the case's start (the go), from ``time.monotonic()``: one
clock for every process of the machine, so the client's and our servers' times line up.
Every list is bounded; what did not fit is counted, never silently left out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fileproto.tcpinfo import Stalls

#: Entries (client requests and probes together) a case's timeline keeps at most.
TIMELINE_BOUND = 5000
#: Server trace events a case keeps at most.
SERVER_EVENTS_BOUND = 20_000


@dataclass(frozen=True)
class TcpSpan:
    """What TCP told the client of one request (Linux ``TCP_INFO``, docs/trace.md):
    while it sent the request (``sending``) and from then to the answer's first byte
    (``waiting``), the seconds its data was not all taken by the server (``busy_s``),
    and of those, held back by the server's closed receive window (``rwnd_limited_s``:
    the server was not reading) or by the client's own full send buffer
    (``sndbuf_limited_s``); and the bytes of the request still in the client's send
    queue when it had written the last (``unsent_at_sent``)."""

    sending: Stalls | None = None
    waiting: Stalls | None = None
    unsent_at_sent: int | None = None

    @classmethod
    def of(
        cls, sending: Mapping[str, Any] | None, waiting: Mapping[str, Any] | None,
        unsent_at_sent: int | None,
    ) -> TcpSpan | None:  # fmt: skip
        """From plain objects (a client's outcome, a record); None if nothing is known.
        TypeError for figures that are not seconds."""
        if sending is None and waiting is None and unsent_at_sent is None:
            return None
        unsent = None if unsent_at_sent is None else _count(unsent_at_sent, "tcp.unsent_at_sent")
        return cls(_stalls(sending, "tcp.sending"), _stalls(waiting, "tcp.waiting"), unsent)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sending": None if self.sending is None else self.sending.as_dict(),
            "waiting": None if self.waiting is None else self.waiting.as_dict(),
            "unsent_at_sent": self.unsent_at_sent,
        }


def _stalls(value: Mapping[str, Any] | None, what: str) -> Stalls | None:
    if value is None:
        return None
    item = _object(value, what)
    figures = []
    for key in ("busy_s", "rwnd_limited_s", "sndbuf_limited_s"):
        figure = item.get(key)
        if isinstance(figure, bool) or not isinstance(figure, int | float) or figure < 0:
            raise TypeError(f"{what}.{key}: expected seconds, got {figure!r}")
        figures.append(float(figure))
    return Stalls(*figures)


@dataclass(frozen=True)
class ClientSpan:
    """One measured client's request. ``connect`` is when it began connecting (for a
    connection kept from an earlier request, when the request began); a later phase is
    None when the request never got there. ``done`` is when the client stopped: the
    answer's end, or the error (``ok`` says which)."""

    client: int
    op: str
    port: int | None
    ok: bool
    error: str | None
    connect: float
    connected: float | None = None
    sent: float | None = None
    first_byte: float | None = None
    done: float | None = None
    #: What TCP told the client (Linux); None: not known (and not written).
    tcp: TcpSpan | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "client": self.client,
            "op": self.op,
            "port": self.port,
            "ok": self.ok,
            "error": self.error,
            "connect": self.connect,
            "connected": self.connected,
            "sent": self.sent,
            "first_byte": self.first_byte,
            "done": self.done,
        }
        if self.tcp is not None:
            out["tcp"] = self.tcp.as_dict()
        return out


@dataclass(frozen=True)
class ProbeSpan:
    """One LIST probe: when it was due by the schedule, and its phases. ``connect``,
    ``connected`` and ``late`` extend the agreed schema: ``late`` says the probe was
    held back (the bound of probes in flight was full when it was due), None in runs
    from before it was recorded. A probe without ``done`` was cut off by the case's end;
    one due but never sent before then has only ``due``."""

    due: float
    sent: float | None
    first_byte: float | None
    done: float | None
    ok: bool
    port: int | None
    connect: float | None = None
    connected: float | None = None
    late: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "due": self.due,
            "sent": self.sent,
            "first_byte": self.first_byte,
            "done": self.done,
            "ok": self.ok,
            "port": self.port,
            "connect": self.connect,
            "connected": self.connected,
            "late": self.late,
        }


@dataclass(frozen=True)
class Timeline:
    """The requests and probes of one round (the last, with several), at most ``bound``
    in all: clients first, then probes in schedule order; ``dropped`` counts the rest."""

    clients: tuple[ClientSpan, ...] = ()
    probes: tuple[ProbeSpan, ...] = ()
    bound: int = TIMELINE_BOUND
    dropped: int = 0

    @classmethod
    def bounded(
        cls,
        clients: Sequence[ClientSpan],
        probes: Sequence[ProbeSpan],
        bound: int = TIMELINE_BOUND,
    ) -> Timeline:
        kept_clients = tuple(clients[:bound])
        kept_probes = tuple(probes[: max(0, bound - len(kept_clients))])
        dropped = len(clients) + len(probes) - len(kept_clients) - len(kept_probes)
        return cls(kept_clients, kept_probes, bound, dropped)

    def as_dict(self) -> dict[str, Any]:
        return {
            "clients": [c.as_dict() for c in self.clients],
            "probes": [p.as_dict() for p in self.probes],
            "bound": self.bound,
            "dropped": self.dropped,
        }


# -- reading them back from extra_info, as strictly as the record's other fields -----------


def _count(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{what}: expected a count, got {value!r}")
    return value


def _at(value: Any, what: str) -> float:
    # Seconds from the case's start; negative is possible (a background connection
    # accepted before the go).
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{what}: expected seconds, got {value!r}")
    return float(value)


def _maybe_at(value: Any, what: str) -> float | None:
    return None if value is None else _at(value, what)


def _port(value: Any, what: str) -> int | None:
    if value is None:
        return None
    port = _count(value, what)
    if port > 65535:
        raise ValueError(f"{what}: not a port: {value!r}")
    return port


def _flag(value: Any, what: str) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{what}: expected true or false, got {value!r}")
    return value


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{what}: expected an object, got {value!r}")
    return value


def _client_span(value: Any, where: str) -> ClientSpan:
    item = _object(value, where)
    op, error = item.get("op"), item.get("error")
    if not isinstance(op, str):
        raise TypeError(f"{where}.op: expected a string, got {op!r}")
    if error is not None and not isinstance(error, str):
        raise TypeError(f"{where}.error: expected a string or null, got {error!r}")
    tcp = item.get("tcp")
    return ClientSpan(
        _count(item.get("client"), f"{where}.client"),
        op,
        _port(item.get("port"), f"{where}.port"),
        _flag(item.get("ok"), f"{where}.ok"),
        error,
        _at(item.get("connect"), f"{where}.connect"),
        **{
            k: _maybe_at(item.get(k), f"{where}.{k}")
            for k in ("connected", "sent", "first_byte", "done")
        },
        tcp=None if tcp is None else _tcp_span(tcp, f"{where}.tcp"),
    )


def _tcp_span(value: Any, where: str) -> TcpSpan | None:
    item = _object(value, where)
    return TcpSpan.of(item.get("sending"), item.get("waiting"), item.get("unsent_at_sent"))


def _probe_span(value: Any, where: str) -> ProbeSpan:
    item = _object(value, where)

    def at(key: str) -> float | None:
        return _maybe_at(item.get(key), f"{where}.{key}")

    return ProbeSpan(
        _at(item.get("due"), f"{where}.due"),
        at("sent"),
        at("first_byte"),
        at("done"),
        _flag(item.get("ok"), f"{where}.ok"),
        _port(item.get("port"), f"{where}.port"),
        at("connect"),
        at("connected"),
        None if item.get("late") is None else _flag(item.get("late"), f"{where}.late"),
    )


def timeline_of(value: Any) -> Timeline:
    """``{"clients": [...], "probes": [...], "bound": int, "dropped": int}``."""
    item = _object(value, "timeline")
    clients, probes = item.get("clients", []), item.get("probes", [])
    if not isinstance(clients, list) or not isinstance(probes, list):
        raise TypeError("clients and probes must be lists")
    return Timeline(
        tuple(_client_span(c, f"clients[{i}]") for i, c in enumerate(clients)),
        tuple(_probe_span(p, f"probes[{i}]") for i, p in enumerate(probes)),
        _count(item.get("bound", TIMELINE_BOUND), "bound"),
        _count(item.get("dropped", 0), "dropped"),
    )


def server_events_of(value: Any) -> tuple[Mapping[str, Any], ...]:
    """The server's events of a case: objects each with ``at`` (seconds), ``ev`` and
    ``conn`` (strings); their other keys are kept as they are."""
    if not isinstance(value, list):
        raise TypeError(f"expected a list of events, got {type(value).__name__}")
    events = []
    for i, raw in enumerate(value):
        event = _object(raw, f"[{i}]")
        _at(event.get("at"), f"[{i}].at")
        for key in ("ev", "conn"):
            if not isinstance(event.get(key), str):
                raise TypeError(f"[{i}].{key}: expected a string, got {event.get(key)!r}")
        events.append(dict(event))
    return tuple(events)


# -- the server's trace file (fileproto serve --trace FILE) --------------------------------


def event_of_line(line: bytes, origin: float) -> dict[str, Any] | None:
    """One trace line as the record keeps it: ``mono`` replaced by ``at`` (seconds from
    ``origin``, a time.monotonic() value). None for a line that is not an event (a torn
    or foreign line: the reader skips it rather than failing the case)."""
    try:
        event = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(event, dict):
        return None
    mono = event.pop("mono", None)
    if isinstance(mono, bool) or not isinstance(mono, int | float):
        return None
    if not isinstance(event.get("ev"), str) or not isinstance(event.get("conn"), str):
        return None
    return {"at": round(mono - origin, 6), **event}


class TraceReader:
    """Reads what a server appended to its trace file since a mark.

    ``mark`` remembers the file's end; ``since_mark`` reads the complete lines written
    after it, at most ``bound`` events kept (memory stays bounded whatever the server
    wrote), the rest counted. A line still being written (no newline yet) is left for
    the next read.
    """

    def __init__(self, path: str | os.PathLike[str], bound: int = SERVER_EVENTS_BOUND) -> None:
        self.path = Path(path)
        self.bound = bound
        self._offset = 0

    def mark(self) -> None:
        try:
            self._offset = self.path.stat().st_size
        except FileNotFoundError:
            self._offset = 0

    def since_mark(self, origin: float) -> tuple[list[dict[str, Any]], int]:
        """(events, dropped): the events after the mark, ``at`` relative to ``origin``."""
        events: list[dict[str, Any]] = []
        dropped = 0
        try:
            with open(self.path, "rb") as trace:
                trace.seek(self._offset)
                for line in _complete_lines(trace):
                    self._offset += len(line)
                    event = event_of_line(line, origin)
                    if event is None:
                        continue
                    if len(events) < self.bound:
                        events.append(event)
                    else:
                        dropped += 1
        except FileNotFoundError:
            pass
        return events, dropped


def _complete_lines(trace: Iterable[bytes]) -> Iterable[bytes]:
    for line in trace:
        if not line.endswith(b"\n"):
            return
        yield line
