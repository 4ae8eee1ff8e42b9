"""What a finding is, and the topics in the order the report prints them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    topic: str
    text: str


TOPICS: tuple[tuple[str, str], ...] = (
    ("noise", "How differences are decided"),
    ("scaling", "Time per client as clients grow"),
    ("workers", "Adding server workers"),
    ("models", "The models compared, per operation and size"),
    ("queued", "Queued or served"),
    ("client side", "From the client's side"),
    ("failures", "Failed clients"),
    ("slow clients", "Slow clients"),
    ("responsiveness", "Responsiveness under load"),
)
