"""Sans-I/O protocol core: parsers and encoders that never touch a socket or a file.

Everything here is fed bytes and returns events or bytes, so it can be driven by any
transport and by hypothesis with any chunking.
"""

from fileproto.wire.b64 import Base64Error, Base64StreamDecoder, encode_chunk
from fileproto.wire.events import (
    NEED_DATA,
    Closed,
    Data,
    EndOfRequest,
    NeedData,
    Request,
    RequestError,
    RequestStarted,
)
from fileproto.wire.names import InvalidName, clean_name
from fileproto.wire.request_parser import ParserState, RequestParser
from fileproto.wire.requests import encode_request, iter_upload_request
from fileproto.wire.response_parser import Response, ResponseParser
from fileproto.wire.responses import (
    encode_error,
    encode_ok,
    get_response_prefix,
    get_response_suffix,
)

TERMINATOR = b"\r\n\r\n"

__all__ = [
    "NEED_DATA",
    "TERMINATOR",
    "Base64Error",
    "Base64StreamDecoder",
    "Closed",
    "Data",
    "EndOfRequest",
    "InvalidName",
    "NeedData",
    "ParserState",
    "Request",
    "RequestError",
    "RequestParser",
    "RequestStarted",
    "Response",
    "ResponseParser",
    "clean_name",
    "encode_chunk",
    "encode_error",
    "encode_ok",
    "encode_request",
    "get_response_prefix",
    "get_response_suffix",
    "iter_upload_request",
]
