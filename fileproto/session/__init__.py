"""The server side of the protocol as one object per connection (h11's shape).

A ``ServerSession`` is fed received bytes and the time, and says what to do next:
send these bytes, wait for more until this deadline, or close. Every decision about
what to answer, every deadline and every refusal lives here; the servers in
``fileproto/server/`` are drivers that move bytes between a socket and a session. The session
does no network I/O and reads no clock; disk goes through the ``FileStore`` it is
given. See docs/architecture.md.
"""

from fileproto.session.actions import (
    LINGER,
    Action,
    Close,
    Polled,
    Receive,
    Send,
    State,
    Work,
)
from fileproto.session.deadlines import Deadlines, Limits, first_deadline
from fileproto.session.responder import DESCRIPTORS
from fileproto.session.session import ServerSession, Trace, busy_message

__all__ = [
    "DESCRIPTORS",
    "LINGER",
    "Action",
    "Close",
    "Deadlines",
    "Limits",
    "Polled",
    "Receive",
    "Send",
    "ServerSession",
    "State",
    "Trace",
    "Work",
    "busy_message",
    "first_deadline",
]
