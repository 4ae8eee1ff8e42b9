"""A Locust User over the fileproto client, for load spread over many machines.

Install with ``pip install "fileproto[locust]"``. ``FileprotoUser.client`` wraps
:class:`fileproto.client.Client` and reports every LIST, GET, UPLOAD and DELETE to
Locust's request event (request type = the command; response length = file bytes; an
exception for an error answer, a reset, a timeout or bytes that do not verify), so
Locust's web UI, CSV stats and distributed mode work unchanged::

    from fileproto.locust import FileprotoUser, MIB

    class Files(FileprotoUser):
        operations = {"LIST": 1, "GET": 6, "UPLOAD": 2, "DELETE": 1}
        file_size = 10 * MIB

    $ locust -f locustfile.py --host 127.0.0.1:45000        # or fileproto://HOST:PORT

Importing this module imports ``locust``, which monkey-patches the process with gevent:
import it from locustfiles (Locust's own processes), not from a program that relies on
real threads.

Everything streams, as everywhere in fileproto: uploads are read from a payload file on
disk (:mod:`fileproto.load.payload`: made once per process, the same bytes on every
machine for a given size) and
downloads are hashed as they arrive, so a User holds no file in memory. Under Locust's
gevent monkey-patching the client's sockets are cooperative: a transfer in one User
never stalls the others.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, TypeVar

from locust import User, task
from locust.exception import LocustError

from fileproto.client import Client, Source, Transfer, parse_address
from fileproto.errors import FileprotoError
from fileproto.load.payload import payload_file, payload_sha256, verify_payload, write_payload
from fileproto.load.testfiles import TestFile
from fileproto.units import MIB
from fileproto.wire.events import Dialect

__all__ = [
    "COMMANDS",
    "MIB",
    "FileprotoClient",
    "FileprotoUser",
    "VerificationError",
    "payload_file",
    "payload_sha256",
    "verify_payload",
    "write_payload",
]

COMMANDS = ("LIST", "GET", "UPLOAD", "DELETE")
_T = TypeVar("_T")


class VerificationError(FileprotoError):
    """The bytes that moved are not the bytes expected (size or sha256 differ)."""


# -- the client -----------------------------------------------------------------------------


class FileprotoClient:
    """A fileproto client that reports each request to Locust's ``request`` event.

    Every method fires exactly one event and never raises for a failed request: an error
    answer, a reset, a timeout, a protocol violation or bytes that do not verify are
    reported as the event's ``exception``, and the method returns None (``delete``:
    False). Locust's name of a request is ``label``, or the file name when it is None.
    """

    def __init__(
        self,
        address: str,
        request_event: Any,
        *,
        dialect: Dialect = "json",
        timeout: float = 60.0,
        context: Callable[[], dict[str, Any]] | None = None,
        rate: float | None = None,
    ) -> None:
        """``rate``: the link's bytes/s, both directions (None: as fast as it goes)."""
        host, port = parse_address(address)
        self.address = address
        self.request_event = request_event
        self.context = context
        self._client = Client(
            host,
            port,
            dialect=dialect,
            timeout=timeout,
            connect_timeout=min(timeout, 10.0),
            rate=rate,
        )

    @property
    def raw(self) -> Client:
        """The wrapped client (requests through it are not reported)."""
        return self._client

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> FileprotoClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the commands ----------------------------------------------------------------------

    def list(self, *, label: str | None = None) -> list[str] | None:
        return self._request("LIST", label or "LIST", self._client.list, lambda _names: 0)

    def get(
        self, name: str, *, expected: TestFile | None = None, label: str | None = None
    ) -> Transfer | None:
        """Download ``name`` into a hash only (nothing kept); verified against
        ``expected`` (size and sha256) when given."""

        def call() -> Transfer:
            done = self._client.get(name, None)
            _check(done, expected)
            return done

        return self._request("GET", label or name, call, lambda done: done.size)

    def upload(
        self,
        source: Source,
        name: str,
        *,
        expected: TestFile | None = None,
        label: str | None = None,
    ) -> Transfer | None:
        """Upload ``source`` (a path or a binary file, streamed) as ``name``; what was sent
        is checked against ``expected`` when given."""

        def call() -> Transfer:
            done = self._client.upload(source, name)
            _check(done, expected)
            return done

        return self._request("UPLOAD", label or name, call, lambda done: done.size)

    def delete(self, name: str, *, label: str | None = None) -> bool:
        return (
            self._request(
                "DELETE", label or name, lambda: self._client.delete(name), lambda _name: 0
            )
            is not None
        )

    # -- reporting -------------------------------------------------------------------------

    def _request(
        self, command: str, label: str, call: Callable[[], _T], length: Callable[[_T], int]
    ) -> _T | None:
        start = time.perf_counter()
        try:
            result = call()
        except Exception as exc:  # every failure is reported; GreenletExit passes through
            self._fire(command, label, start, 0, exc)
            return None
        self._fire(command, label, start, length(result), None)
        return result

    def _fire(
        self, command: str, label: str, start: float, length: int, exception: BaseException | None
    ) -> None:
        self.request_event.fire(
            request_type=command,
            name=label,
            response_time=(time.perf_counter() - start) * 1000.0,
            response_length=length,
            exception=exception,
            context=self.context() if self.context is not None else {},
        )


def _check(done: Transfer, expected: TestFile | None) -> None:
    if expected is None:
        return
    if done.size != expected.size or done.sha256 != expected.sha256:
        raise VerificationError(
            f"{done.name}: {done.size} bytes with sha256 {done.sha256[:12]}..., expected "
            f"{expected.size} bytes with sha256 {expected.sha256[:12]}..."
        )


# -- the User -------------------------------------------------------------------------------

_user_serials = itertools.count(1)


def _size_text(size: int) -> str:
    if size % MIB == 0:
        return f"{size // MIB} MiB"
    if size % 1024 == 0:
        return f"{size // 1024} KiB"
    return f"{size} B"


class FileprotoUser(User):
    """A Locust user that runs a weighted mix of fileproto commands.

    Override the class attributes in a subclass (see ``examples/locustfile.py``). Each
    task iteration runs one command picked by ``operations``' weights:

    - UPLOAD stores the payload (``file_size`` bytes) under a name of this user's own,
      ``<file_prefix>-<host>-<pid>-u<N>-<i>.bin`` with i cycling below ``max_files``;
    - GET downloads one of this user's files and verifies it byte for byte (sha256);
    - DELETE removes one of this user's files, never its newest;
    - LIST lists the server's files.

    GET with nothing of this user's stored yet, and DELETE with fewer than two, upload a
    file first. So a user that ever stored a file keeps at least one; they are left on
    the server when the test ends unless ``cleanup`` is true.
    """

    abstract = True
    #: Relative weights of the commands.
    operations: ClassVar[Mapping[str, int]] = {"LIST": 1, "GET": 4, "UPLOAD": 2, "DELETE": 1}
    #: Size of the uploaded files, in bytes.
    file_size: ClassVar[int] = 1 * MIB
    #: Request dialect: "json" or "text".
    dialect: ClassVar[Dialect] = "json"
    #: Longest wait on the network at once, in seconds.
    timeout: ClassVar[float] = 60.0
    #: How many files one user keeps on the server at most.
    max_files: ClassVar[int] = 3
    #: Start of the names of the files users store.
    file_prefix: ClassVar[str] = "locust"
    #: Delete this user's files when it stops.
    cleanup: ClassVar[bool] = False
    #: Each user's link rate in bytes/s, both directions, as a client on a slower link
    #: would have (None: as fast as the machine goes).
    rate: ClassVar[float | None] = None

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        if not self.host:
            raise LocustError(
                "fileproto needs the server's address: --host HOST:PORT "
                "(or fileproto://HOST:PORT), or set host on the User class"
            )
        unknown = set(self.operations) - set(COMMANDS)
        if unknown or not any(w > 0 for w in self.operations.values()):
            raise LocustError(
                f"{type(self).__name__}.operations must weigh some of "
                f"{', '.join(COMMANDS)}; got {dict(self.operations)}"
            )
        self.client = FileprotoClient(
            self.host,
            environment.events.request,
            dialect=self.dialect,
            timeout=self.timeout,
            context=self.context,
            rate=self.rate,
        )
        self.serial = next(_user_serials)
        #: Names this user stored, oldest first.
        self.files: list[str] = []
        self._uploads = itertools.count()
        self._label = _size_text(self.file_size)
        self._payload: TestFile | None = None

    @property
    def payload(self) -> TestFile:
        if self._payload is None:
            self._payload = payload_file(self.file_size)
        return self._payload

    def on_start(self) -> None:
        self.payload  # noqa: B018 - make the payload file before the first request

    def on_stop(self) -> None:
        try:
            if self.cleanup:
                for name in list(self.files):
                    self.do_delete(name)
        finally:
            self.client.close()

    def file_name(self, index: int) -> str:
        host = socket.gethostname().replace("/", "_") or "host"
        return f"{self.file_prefix}-{host}-{os.getpid()}-u{self.serial}-{index}.bin"

    @task
    def run_operation(self) -> None:
        commands = [c for c in COMMANDS if self.operations.get(c, 0) > 0]
        weights = [self.operations[c] for c in commands]
        command = random.choices(commands, weights)[0]
        if command == "LIST":
            self.do_list()
        elif command == "GET":
            self.do_get()
        elif command == "UPLOAD":
            self.do_upload()
        else:
            self.do_delete()

    # the commands, callable from a subclass's own tasks -----------------------------------

    def do_list(self) -> list[str] | None:
        return self.client.list(label="files")

    def do_upload(self) -> str | None:
        """Upload the payload under one of this user's names; the name, or None."""
        name = self.file_name(next(self._uploads) % max(1, self.max_files))
        payload = self.payload
        if self.client.upload(payload.path, name, expected=payload, label=self._label) is None:
            return None
        if name in self.files:
            self.files.remove(name)
        self.files.append(name)
        return name

    def do_get(self, name: str | None = None) -> Transfer | None:
        if name is None:
            name = random.choice(self.files) if self.files else self.do_upload()
            if name is None:
                return None
        return self.client.get(name, expected=self.payload, label=self._label)

    def do_delete(self, name: str | None = None) -> bool:
        """Delete ``name``, or one of this user's files but never its newest: with fewer
        than two stored, upload one first (so a GET always has something to fetch)."""
        if name is None:
            if len(self.files) < 2:
                self.do_upload()
            if len(self.files) < 2:
                return False
            name = random.choice(self.files[:-1])
        with contextlib.suppress(ValueError):
            self.files.remove(name)
        return self.client.delete(name, label=self._label)
