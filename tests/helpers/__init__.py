"""What the test files share: waiting on conditions, names, raw requests, server facts.

``from tests.helpers import wait_for, unique, RawConnection`` and so on; the submodules
group them (waiting, names, wire, servers).
"""

from tests.helpers.names import (
    fit_name,
    json_names,
    name_characters,
    text_names,
    unique,
)
from tests.helpers.servers import (
    log_of,
    no_temp_files,
    peer_name,
    pool_workers,
    root_snapshot,
    sha,
    skip_if_external,
    skip_if_target,
    temp_files,
)
from tests.helpers.waiting import WAIT_TIMEOUT, WaitTimeout, wait_for
from tests.helpers.wire import (
    IO_TIMEOUT,
    LIST_REQUEST,
    MAX_RESPONSE,
    MIB,
    TERMINATOR,
    RawConnection,
    ServerClosed,
    assert_error,
    json_request,
    read_response,
    request,
    text_request,
    upload_prefix,
    upload_suffix,
)

__all__ = [
    "IO_TIMEOUT",
    "LIST_REQUEST",
    "MAX_RESPONSE",
    "MIB",
    "TERMINATOR",
    "WAIT_TIMEOUT",
    "RawConnection",
    "ServerClosed",
    "WaitTimeout",
    "assert_error",
    "fit_name",
    "json_names",
    "json_request",
    "log_of",
    "name_characters",
    "no_temp_files",
    "peer_name",
    "pool_workers",
    "read_response",
    "request",
    "root_snapshot",
    "sha",
    "skip_if_external",
    "skip_if_target",
    "temp_files",
    "text_names",
    "text_request",
    "unique",
    "upload_prefix",
    "upload_suffix",
    "wait_for",
]
