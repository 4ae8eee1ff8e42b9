"""The classroom servers of tests/peers/ (written from the classic exercise, their
mistakes kept), started and stopped like ours."""

from __future__ import annotations

import sys
from pathlib import Path

from fileproto.pytest.process import ServerProcess

PEERS = Path(__file__).resolve().parent.parent / "peers"
DIALECTS = ("json", "text")


class ClassroomServer(ServerProcess):
    """A classroom server script (a pool of 5 threads, each reading its connection to
    the end before answering), started and stopped like ours."""

    def __init__(self, dialect: str, root: Path) -> None:
        super().__init__(f"classroom-{dialect}", 1, root, log_path=root.parent / f"{dialect}.log")
        self.script = PEERS / f"classroom_{dialect}_server.py"

    @property
    def command(self) -> list[str]:
        return [sys.executable, str(self.script), "--host", self.host, "--port", "0",
                "--root", str(self.root)]  # fmt: skip
