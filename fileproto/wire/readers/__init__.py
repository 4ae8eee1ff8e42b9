"""The request parser's readers, one per dialect and phase (after h11's ``_readers``).

A reader is a small callable object that reads one phase of a request from the
``ReceiveBuffer``: ``IdleReader`` (between requests, dialect detection),
``JsonEnvelopeReader`` and ``JsonEndReader`` (the JSON envelope and what follows it),
``TextHeadReader`` and ``TextPayloadReader`` (the text dialect), ``SkipReader`` (the
rest of a refused request) and ``ClosedReader``. ``RequestParser`` only dispatches to
the current one; a reader's state is all there is, so the parser pickles.
"""

from fileproto.wire.readers.base import (
    Next,
    ParserState,
    Reader,
    ReceiveBuffer,
    Rejected,
    RequestEnd,
    Step,
)
from fileproto.wire.readers.envelope import JsonEndReader, JsonEnvelopeReader
from fileproto.wire.readers.idle import IdleReader
from fileproto.wire.readers.skip import ClosedReader, SkipReader
from fileproto.wire.readers.text import TextHeadReader, TextPayloadReader

__all__ = [
    "ClosedReader",
    "IdleReader",
    "JsonEndReader",
    "JsonEnvelopeReader",
    "Next",
    "ParserState",
    "Reader",
    "ReceiveBuffer",
    "Rejected",
    "RequestEnd",
    "SkipReader",
    "Step",
    "TextHeadReader",
    "TextPayloadReader",
]
