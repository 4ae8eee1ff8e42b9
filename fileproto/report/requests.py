"""A client request as the report reads it from a run's timeline (docs/trace.md): the
record's ``ClientSpan``, read leniently, with what the report needs of it. Its own
module, so that the cases (``.cases``) and their phases (``.phases``) both import it and
not each other."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fileproto.results.timeline import ClientSpan, TcpSpan
from fileproto.trace import lenient_number

#: Phases of a client request as the client saw them, in order: between its marks
#: connect -> connected -> sent -> first_byte -> done.
CLIENT_PHASES = ("connecting", "sending", "waiting for first byte", "receiving")


def _port(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True)
class Request(ClientSpan):
    """One client request's phases, seconds from the case's start (None: not reached):
    the record's ``ClientSpan``, read leniently (a report shows what it can of a damaged
    file), with what the report needs of it."""

    @property
    def end(self) -> float:
        """The last moment known of this request."""
        marks = (self.done, self.first_byte, self.sent, self.connected)
        return next((m for m in marks if m is not None), self.connect)

    def client_phases(self) -> list[tuple[str, float, float]]:
        """(phase, start, end) of the phases the request reached."""
        marks = [self.connect, self.connected, self.sent, self.first_byte, self.done]
        out = []
        for phase, start, end in zip(CLIENT_PHASES, marks, marks[1:], strict=False):
            if start is None or end is None:
                break
            out.append((phase, start, max(start, end)))
        return out

    @classmethod
    def of(cls, raw: Any) -> Request | None:
        if not isinstance(raw, Mapping):
            return None
        connect = lenient_number(raw.get("connect"))
        client = raw.get("client")
        if connect is None or not isinstance(client, int) or isinstance(client, bool):
            return None
        error = raw.get("error")
        return cls(
            client=client,
            op=str(raw.get("op") or ""),
            port=_port(raw.get("port")),
            ok=raw.get("ok") is True,
            error=error if isinstance(error, str) else None,
            connect=connect,
            connected=lenient_number(raw.get("connected")),
            sent=lenient_number(raw.get("sent")),
            first_byte=lenient_number(raw.get("first_byte")),
            done=lenient_number(raw.get("done")),
            tcp=_tcp(raw.get("tcp")),
        )


def _tcp(raw: Any) -> TcpSpan | None:
    """What TCP told the client, or None when absent or damaged."""
    if not isinstance(raw, Mapping):
        return None
    try:
        return TcpSpan.of(raw.get("sending"), raw.get("waiting"), raw.get("unsent_at_sent"))
    except (TypeError, ValueError):
        return None
