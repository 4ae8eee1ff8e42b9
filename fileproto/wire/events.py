"""Events a RequestParser returns; the driver reacts to each in turn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Dialect = Literal["json", "text"]
Command = Literal["LIST", "GET", "UPLOAD", "DELETE"]

#: Command names accepted on the wire (case-insensitive) and the command each means.
COMMAND_ALIASES: dict[str, Command] = {
    "LIST": "LIST",
    "GET": "GET",
    "DOWNLOAD": "GET",
    "UPLOAD": "UPLOAD",
    "PUT": "UPLOAD",
    "POST": "UPLOAD",
    "DELETE": "DELETE",
}


def canonical_command(word: str) -> Command | None:
    return COMMAND_ALIASES.get(word.upper())


class NeedData:
    """Sentinel: feed more bytes (or b"" at end of stream) before asking again."""

    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA = NeedData()


@dataclass(frozen=True, slots=True)
class RequestStarted:
    """A request carrying a payload has begun; what is known of it so far.

    In the JSON dialect keys may come in any order, so ``command`` may still be None
    here; EndOfRequest always has the final word.
    """

    command: Command | None
    name: str | None
    dialect: Dialect


@dataclass(frozen=True, slots=True)
class Data:
    """A piece of the decoded payload."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Request:
    command: Command
    name: str | None
    dialect: Dialect
    has_payload: bool


@dataclass(frozen=True, slots=True)
class EndOfRequest:
    """The request is complete and well formed."""

    request: Request


@dataclass(frozen=True, slots=True)
class RequestError:
    """The request is bad. Answer it with ``message``.

    If ``fatal`` the framing is lost (or the peer left) and the connection must close;
    otherwise the next request can follow. Which errors are fatal, and why, is written
    down once, in ``fileproto.wire.readers.Rejected``.
    """

    message: str
    fatal: bool = False


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer closed the connection between requests."""


Event = RequestStarted | Data | EndOfRequest | RequestError | Closed | NeedData
