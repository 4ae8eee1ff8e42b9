"""``fileproto stress``: status lines and the progress bar, on stderr."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from fileproto.units import MIB


def rate(value: float) -> str:
    return f"{value / MIB:,.1f} MiB/s"


class Display:
    """Status lines and, when stderr is a terminal and rich is installed, a progress bar of
    the bytes moved by all clients together."""

    def __init__(self, stream: TextIO, bar: bool, quiet: bool) -> None:
        self.stream = stream
        self.quiet = quiet
        self._progress: Any = None
        self._console: Any = None
        if bar:
            try:
                from rich.console import Console
                from rich.progress import (
                    BarColumn,
                    DownloadColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                )
            except ImportError:  # the 'progress' extra is not installed
                return
            self._console = Console(file=stream)
            self._progress = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                DownloadColumn(binary_units=True),
                TextColumn("{task.fields[rate]}", style="progress.data.speed"),
                TimeElapsedColumn(),
                console=self._console,
                transient=True,
            )

    def __enter__(self) -> Display:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def status(self, text: str) -> None:
        if self.quiet:
            return
        if self._console is not None:
            self._console.print(text, markup=False, highlight=False)
        else:
            print(text, file=self.stream, flush=True)

    @contextlib.contextmanager
    def bytes_bar(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """Yields ``set(bytes_so_far)``; the bar disappears when the block ends."""
        if self._progress is None:
            yield lambda _done: None
            return
        progress = self._progress
        task = progress.add_task(description, total=total, rate="")

        def show(done: int) -> None:
            progress.update(task, completed=done)
            speed = next((t.speed for t in progress.tasks if t.id == task), None)
            if speed:
                progress.update(task, rate=rate(speed))

        try:
            yield show
        finally:
            self._progress.remove_task(task)
