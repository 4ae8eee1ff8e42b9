"""Headless Chromium driven over the DevTools protocol on a pipe: load a page, see what a
reader would see, and hear what its console said.

``--remote-debugging-pipe`` makes Chromium read protocol messages from its fd 3 and write
them to its fd 4, each a JSON object ended by a NUL byte; no port, no websocket. Debian's
``chromium`` package provides the browser; without it, :func:`chromium` is None.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

#: Flags that keep a headless browser quiet and local (no updates, sync or network
#: chatter of its own).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
TIMEOUT = 60.0
_LAUNCHER = """
import fcntl, os, sys
ends = [fcntl.fcntl(int(fd), fcntl.F_DUPFD, 10) for fd in sys.argv[1:3]]
for target, fd in zip((3, 4), ends):
    os.dup2(fd, target)
os.execv(sys.argv[3], sys.argv[3:])
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@dataclass
class PageLoad:
    """What loading a page gave: the value of an expression evaluated after the load,
    console errors and exceptions, and requests to anything but file: and data: URLs."""

    value: Any
    errors: list[str] = field(default_factory=list)
    remote_requests: list[str] = field(default_factory=list)


class Browser:
    def __init__(self, executable: str) -> None:
        self._profile = tempfile.TemporaryDirectory(prefix="fileproto-chromium-")
        # Chromium's own messages, for the error when it dies.
        self._log = open(Path(self._profile.name) / "stderr.log", "w+b")  # noqa: SIM115
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        command = [executable, *FLAGS, f"--user-data-dir={self._profile.name}",
                   "--remote-debugging-pipe", "about:blank"]  # fmt: skip
        # A small launcher puts the two pipe ends at fds 3 and 4, where Chromium expects
        # them (moved above 9 first, so that neither end is overwritten by the other).
        self._process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(to_browser_r), str(from_browser_w), *command],
            pass_fds=(to_browser_r, from_browser_w),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self._events: list[dict[str, Any]] = []

    def log(self) -> str:
        """The end of what Chromium wrote to its stderr."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")[-3000:]

    def __enter__(self) -> Browser:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        with contextlib.suppress(OSError, TimeoutError, RuntimeError):
            self.call("Browser.close", timeout=5.0)
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._log.close()
        self._profile.cleanup()

    # -- the protocol -----------------------------------------------------------------

    def _send(self, method: str, params: dict[str, Any], session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        while data:
            try:
                data = data[os.write(self._to_browser, data) :]
            except BrokenPipeError:
                raise RuntimeError(f"Chromium is gone: {self.log()}") from None
        return self._next_id

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer in time")
            ready, _, _ = select.select([self._from_browser], [], [], left)
            if ready:
                chunk = os.read(self._from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError(f"Chromium closed its DevTools pipe: {self.log()}")
                self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(
        self, method: str, params: dict[str, Any] | None = None, *, session: str | None = None,
        timeout: float = TIMEOUT,
    ) -> dict[str, Any]:  # fmt: skip
        """Send a command and wait for its result; events that arrive meanwhile are kept."""
        wanted = self._send(method, params or {}, session)
        deadline = time.monotonic() + timeout
        while True:
            message = self._receive(deadline)
            if message.get("id") == wanted:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self._events.append(message)

    def wait_event(self, method: str, timeout: float = TIMEOUT) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self._events):
            if event["method"] == method:
                return self._events.pop(i)
        while True:
            message = self._receive(deadline)
            if message.get("method") == method:
                return message
            if "method" in message:
                self._events.append(message)

    # -- what a test asks ---------------------------------------------------------------

    def load(self, url: str, expression: str, viewport: tuple[int, int] | None = None) -> PageLoad:
        """Open ``url`` in a new tab (a window of ``viewport`` CSS pixels, width and
        height, if given), wait for its load event, evaluate ``expression``."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        if viewport is not None:
            width, height = viewport
            self.call(
                "Emulation.setDeviceMetricsOverride",
                {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
                session=session,
            )
        self._events.clear()
        self.call("Page.navigate", {"url": url}, session=session)
        self.wait_event("Page.loadEventFired")
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            session=session,
        )
        # Anything the page logs right after its load event still counts.
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline:
            try:
                message = self._receive(deadline)
            except TimeoutError:
                break
            if "method" in message:
                self._events.append(message)
        load = PageLoad(result.get("result", {}).get("value"))
        for event in self._events:
            method, params = event["method"], event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                load.errors.append(json.dumps(params.get("args")))
            elif method == "Runtime.exceptionThrown":
                load.errors.append(json.dumps(params.get("exceptionDetails")))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                load.errors.append(params["entry"].get("text", ""))
            elif method == "Network.requestWillBeSent":
                url_sent = params.get("request", {}).get("url", "")
                if not url_sent.startswith(("file:", "data:", "about:")):
                    load.remote_requests.append(url_sent)
        return load
