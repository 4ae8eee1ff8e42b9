"""A small classic-style file server (text dialect only: ``COMMAND name payload``, JSON
answers ending in CRLF CRLF) that is correct, and can be given one defect a classroom
server has, for pinning the verdicts of ``fileproto check`` (tests/test_check_profiles.py).

    python tests/peers/defective_server.py --port 0 --root DIR [--defect NAME]

Without ``--defect`` it keeps every rule of docs/protocol.md its dialect allows. The
defects (``DEFECTS``), each on its own:

  missing-fields   UPLOAD and DELETE answer only {"status": "OK"} (no data, data_namafile)
  glob-list        LIST shows only names matching glob('*.*'): none without a dot, none
                   starting with one
  unsorted-list    LIST in reverse order
  strict-padding   an UPLOAD payload whose final padding is missing is refused
  traversal        names are joined to the root unchecked: ``../x`` is written outside it
  mangled-names    request bytes that are not UTF-8 are dropped, not refused: the name
                   ``\\xc3(x`` is stored as ``(x``
  blocking         one thread, listen(1): clients are served one after another
  read-only        every UPLOAD is answered ERROR (what depends on storing a file cannot
                   be checked: BLOCKED)

Written for the tests from those descriptions; not a server to use. It keeps whole
requests in memory (up to MAX_REQUEST), as the classroom servers do.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import glob
import json
import os
import re
import signal
import socket
import sys
import threading
import unicodedata
import uuid
from pathlib import Path
from typing import Any

TERMINATOR = b"\r\n\r\n"
#: The longest header (the request without an UPLOAD payload) before an ERROR.
MAX_HEADER = 64 * 1024
MAX_REQUEST = 64 << 20
IDLE_TIMEOUT = 30.0
DEFECTS = (
    "missing-fields",
    "glob-list",
    "unsorted-list",
    "strict-padding",
    "traversal",
    "mangled-names",
    "blocking",
    "read-only",
)
#: The temporary files of uploads in flight, inside the root but never listed.
SPOOL = ".uploads-in-flight"

_WS = re.compile(rb"[ \t\r\n]+")
UPLOAD_HEAD = re.compile(rb"[ \t\r\n]*upload[ \t\r\n]+[^ \t\r\n]+( |\r\n)", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")

Reply = dict[str, Any]


class Refused(Exception):
    """The request is answered ERROR with this message."""


class FileServer:
    def __init__(self, root: Path, defect: str | None) -> None:
        self.root = root.resolve()
        self.defect = defect
        self.spool = self.root / SPOOL
        self.spool.mkdir(parents=True, exist_ok=True)

    # -- names and contents --------------------------------------------------------------

    def path(self, raw: str) -> tuple[str, str]:
        """(the name, its path) for a client-supplied name (docs/protocol.md section 6)."""
        if self.defect == "traversal":
            return raw, os.path.join(self.root, raw)
        name = raw.replace("\\", "/").rsplit("/", 1)[-1]
        if name in ("", ".", ".."):
            raise Refused(f"not a file name: {raw!r}")
        if len(name.encode("utf-8")) > 255:
            raise Refused("a name is at most 255 bytes of UTF-8")
        if any(unicodedata.category(c) == "Cc" for c in name):
            raise Refused(f"a control character in the name {raw!r}")
        return name, str(self.root / name)

    def decode(self, payload: str) -> bytes:
        if not _BASE64.fullmatch(payload):
            raise Refused("invalid base64: a byte outside the alphabet, or '=' inside")
        core = payload.rstrip("=")
        padding = len(payload) - len(core)
        if len(core) % 4 == 1 or (padding and len(payload) % 4) or (padding and not len(core) % 4):
            raise Refused("invalid base64: wrong length or padding")
        if self.defect == "strict-padding" and len(payload) % 4:
            raise Refused("Incorrect padding")
        try:
            return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Refused(f"invalid base64: {exc}") from None

    # -- commands ------------------------------------------------------------------------

    def do_list(self) -> Reply:
        if self.defect == "glob-list":
            names = glob.glob("*.*", root_dir=self.root)
        else:
            names = os.listdir(self.root)
        files = [n for n in names if (self.root / n).is_file()]
        return {"status": "OK", "data": sorted(files, reverse=self.defect == "unsorted-list")}

    def do_get(self, raw: str) -> Reply:
        name, path = self.path(raw)
        try:
            with open(path, "rb") as file:
                content = file.read()
        except OSError:
            raise Refused(f"file not found: {name}") from None
        return {
            "status": "OK",
            "data_namafile": name,
            "data_file": base64.b64encode(content).decode(),
        }

    def do_upload(self, raw: str, payload: str) -> Reply:
        name, path = self.path(raw)
        content = self.decode(payload)
        if self.defect == "read-only":
            raise Refused("this server is read-only")
        # Written aside, then renamed over the name: readers see the old or the new file.
        spool = self.spool / f"{uuid.uuid4().hex}.part"
        try:
            spool.write_bytes(content)
            os.replace(spool, path)
        except OSError as exc:
            spool.unlink(missing_ok=True)
            raise Refused(f"cannot store {name}: {exc.strerror}") from None
        if self.defect == "missing-fields":
            return {"status": "OK"}
        return {"status": "OK", "data_namafile": name, "data": f"{name} stored"}

    def do_delete(self, raw: str) -> Reply:
        name, path = self.path(raw)
        if not os.path.isfile(path):
            raise Refused(f"file not found: {name}")
        os.remove(path)
        if self.defect == "missing-fields":
            return {"status": "OK"}
        return {"status": "OK", "data_namafile": name, "data": f"{name} deleted"}

    def answer(self, request: bytes) -> Reply:
        try:
            return self._answer(request)
        except Refused as exc:
            return {"status": "ERROR", "data": str(exc)}

    def _answer(self, request: bytes) -> Reply:
        command_bytes, _, rest = _split(request)
        command = self._text(command_bytes).upper()
        if command == "LIST":
            if rest.strip(b" \t\r\n"):
                raise Refused("LIST takes no parameters")
            return self.do_list()
        if command not in ("GET", "DELETE", "UPLOAD"):
            raise Refused(f"unknown command {command}")
        if command == "UPLOAD":
            name_bytes, separator, payload = _split(rest, separators=(b" ", b"\r\n"))
            if not name_bytes or not separator:
                raise Refused("UPLOAD needs a name and a payload")
            return self.do_upload(self._text(name_bytes), self._text(payload))
        name_bytes, _, extra = _split(rest)
        if not name_bytes:
            raise Refused(f"{command} needs a name")
        if extra.strip(b" \t\r\n"):
            raise Refused(f"{command} takes one name")
        if command == "GET":
            return self.do_get(self._text(name_bytes))
        return self.do_delete(self._text(name_bytes))

    def _text(self, data: bytes) -> str:
        if self.defect == "mangled-names":
            return data.decode("utf-8", errors="ignore")
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused("the request is not valid UTF-8") from None

    # -- connections ---------------------------------------------------------------------

    def serve_connection(self, conn: socket.socket) -> None:
        conn.settimeout(IDLE_TIMEOUT)
        buffer = b""
        try:
            while True:
                buffer = buffer.lstrip(b" \t\r\n")  # whitespace before a request is skipped
                end = buffer.find(TERMINATOR)
                if end < 0:
                    limit = MAX_REQUEST if UPLOAD_HEAD.match(buffer) else MAX_HEADER
                    if len(buffer) > limit:
                        conn.sendall(_encode({"status": "ERROR", "data": "request too long"}))
                        return
                    chunk = conn.recv(1 << 16)
                    if not chunk:
                        return
                    buffer += chunk
                    continue
                request, buffer = buffer[:end], buffer[end + len(TERMINATOR) :]
                conn.sendall(_encode(self.answer(request)))
        except OSError:
            return
        finally:
            conn.close()


def _split(data: bytes, separators: tuple[bytes, ...] = ()) -> tuple[bytes, bytes, bytes]:
    """(the first word, what follows it, the rest): after the word, either a run of
    whitespace or (with ``separators``) exactly one of them."""
    data = data.lstrip(b" \t\r\n")
    match = _WS.search(data)
    if match is None:
        return data, b"", b""
    word = data[: match.start()]
    if separators:
        for separator in separators:
            if data.startswith(separator, match.start()):
                return word, separator, data[match.start() + len(separator) :]
        return word, b"", b""
    return word, match.group(), data[match.end() :]


def _encode(reply: Reply) -> bytes:
    return json.dumps(reply).encode("utf-8") + TERMINATOR


def main() -> int:
    parser = argparse.ArgumentParser(description="a classic-style file server, maybe defective")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=45000)
    parser.add_argument("--root", default="./files")
    parser.add_argument("--defect", choices=DEFECTS, default=None)
    args = parser.parse_args()
    server = FileServer(Path(args.root), args.defect)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((args.host, args.port))
    listener.listen(1 if args.defect == "blocking" else 64)
    listener.settimeout(0.2)
    host, port = listener.getsockname()[:2]
    print(f"listening on {host}:{port}", flush=True)
    while not stop.is_set():
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:
            if stop.is_set():
                break
            continue
        conn.settimeout(None)
        if args.defect == "blocking":
            server.serve_connection(conn)  # the next client waits in the listen queue
        else:
            threading.Thread(target=server.serve_connection, args=(conn,), daemon=True).start()
    listener.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
