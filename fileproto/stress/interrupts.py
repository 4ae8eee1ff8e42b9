"""``fileproto stress``: Ctrl-C and SIGTERM during a run."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

from fileproto.procinfo import forkserver_children


class Interrupts:
    """SIGINT/SIGTERM while a case runs cancels the case instead of unwinding through the
    measurement: the workers are stopped and the case ends with what it has. A second
    signal, or one outside a case, raises KeyboardInterrupt; a third exits at once."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.in_case = False
        self.signals = 0
        self.signum = int(signal.SIGINT)
        #: Removed before a forced exit (the third signal).
        self.workdir: Path | None = None
        self._saved: dict[int, Any] = {}

    @property
    def exit_status(self) -> int:
        """As a shell reports a death by the signal: 130 for SIGINT, 143 for SIGTERM."""
        return 128 + self.signum

    @property
    def interrupted(self) -> bool:
        return self.signals > 0

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved[signum] = signal.signal(signum, self._handle)

    def restore(self) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.signum = signum
        self.cancel.set()
        terminate_client_processes()
        if self.signals > 2:
            # The last resort, e.g. client threads stuck on a server that stopped
            # answering: remove our files and leave without waiting for anything.
            if self.workdir is not None:
                shutil.rmtree(self.workdir, ignore_errors=True)
            os.write(2, b"fileproto stress: interrupted three times; quitting at once\n")
            os._exit(128 + signum)
        if not self.in_case or self.signals > 1:
            raise KeyboardInterrupt
        os.write(
            2, b"\nfileproto stress: stopping the clients (interrupt twice more to quit at once)\n"
        )

    @contextlib.contextmanager
    def case(self) -> Iterator[threading.Event]:
        self.in_case = True
        try:
            yield self.cancel
        finally:
            self.in_case = False


def terminate_client_processes() -> None:
    """SIGTERM to this command's client processes: the children of its forkserver (found
    in the process table, not through Process objects: this runs in a signal handler)."""
    for pid in forkserver_children():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGTERM)
