"""Exceptions a client user sees."""

from __future__ import annotations


class FileprotoError(Exception):
    """Base of everything the client raises on purpose."""


class ServerError(FileprotoError):
    """The server answered ERROR; ``message`` is its explanation."""

    def __init__(self, message: str, command: str = "") -> None:
        self.message = message
        self.command = command
        super().__init__(f"{command}: {message}" if command else message)


class ProtocolViolation(FileprotoError):
    """The server's answer is not valid protocol (or it closed mid-response)."""
