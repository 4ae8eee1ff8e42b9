"""What the schedule's tests share: a connection as the run queue sees it."""

from __future__ import annotations

from dataclasses import dataclass, field

from fileproto.server.policy import Service


@dataclass(eq=False)
class Conn:
    """A connection as the run queue sees it."""

    name: str
    served: int = 0
    service: Service = field(default_factory=Service)
    short: bool = False
    #: The size of the file its GET asks for (None: not a GET).
    answer_size: int | None = None
