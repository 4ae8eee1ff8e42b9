"""What a load is: N client workers, one operation, one test file, against one server."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from fileproto.load.testfiles import TestFile
from fileproto.server.registry import KINDS, ClientMethod
from fileproto.wire.events import Dialect

Operation = Literal["UPLOAD", "DOWNLOAD"]
#: Client workers as threads in one process, or as processes.
Method = ClientMethod
OPERATIONS: tuple[Operation, ...] = ("UPLOAD", "DOWNLOAD")
METHODS: tuple[Method, ...] = ("thread", "process")


def method_for(kind: str) -> Method:
    """How client workers run against a server kind: the registry says; threads for a
    kind it does not know (someone else's server)."""
    known = KINDS.get(kind)
    return known.default_method if known is not None else "thread"


@dataclass(frozen=True)
class LoadSpec:
    host: str
    port: int
    operation: Operation
    clients: int
    source: TestFile
    method: Method = "thread"
    dialect: Dialect = "json"
    #: Seconds a client may wait on the network at once (connect, send, receive).
    timeout: float = 300.0
    #: DOWNLOAD: the name on the server. UPLOAD: worker i stores "<name>-c<i>".
    remote_name: str = "stress.bin"
    #: Each client's link rate in bytes/s, both directions (None: as fast as it goes).
    rate: float | None = None
    #: Seconds after the go when a client still running is stopped and counted as a
    #: "deadline" failure (None: clients run until done or ``timeout``).
    deadline: float | None = None

    def upload_name(self, index: int) -> str:
        stem, dot, ext = self.remote_name.rpartition(".")
        return f"{stem}-c{index}.{ext}" if dot else f"{self.remote_name}-c{index}"

    def client_name(self, index: int) -> str:
        """The name client ``index`` moves: its own upload, or the shared download."""
        return self.upload_name(index) if self.operation == "UPLOAD" else self.remote_name
