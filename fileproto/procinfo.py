"""Process facts: resident memory, peak memory, process trees, the open-files limit. The
one module that asks.

psutil answers what it can (a process tree, whether a process still runs, current
resident memory). Two Linux facts it does not give stay here, each behind a function:

- the peak resident memory (``VmHWM`` in /proc/PID/status): psutil 7 has no peak RSS on
  Linux (``memory_info`` and ``memory_full_info`` give the current figures only);
- restarting that peak (writing 5 to /proc/PID/clear_refs), so a reused process reports
  each case's own peak.

psutil is imported inside the functions that use it: the load generator's client
processes report their peak through this module, and importing psutil would add about
3 MiB to each one's resident memory, the very figure they report.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psutil


log = logging.getLogger("fileproto")


def raise_open_files_limit() -> int:
    """Lift the soft limit on open files to the hard one (every connection is a file: a
    server holding thousands, a load generator opening them); returns the limit in force.
    A limit that cannot be raised is logged, not fatal: the caller still runs, with less."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError) as exc:
            log.warning("could not raise the open-files limit from %d: %s", soft, exc)
    return soft


def peak_rss(pid: int) -> int:
    """Peak resident memory (VmHWM) of one process in bytes; 0 if it is gone or the
    system has no /proc."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def reset_peak_rss(pid: int | None = None) -> None:
    """Restart the peak-memory count of ``pid`` (default: this process); Linux only,
    silently nothing elsewhere or without permission."""
    target = "self" if pid is None else str(pid)
    with contextlib.suppress(OSError), open(f"/proc/{target}/clear_refs", "w") as f:
        f.write("5")


def _process(pid: int) -> psutil.Process | None:
    import psutil

    try:
        return psutil.Process(pid)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (for memory figures and clean-up); [] if it is
    gone."""
    import psutil

    process = _process(pid)
    if process is None:
        return []
    try:
        children = process.children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        children = []
    return [pid, *(child.pid for child in children)]


def rss(pid: int) -> int:
    """Current resident memory of one process in bytes; 0 if it is gone."""
    import psutil

    process = _process(pid)
    if process is None:
        return 0
    try:
        return int(process.memory_info().rss)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0


def alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie has ended (only its parent's wait is missing)."""
    import psutil

    process = _process(pid)
    if process is None:
        return False
    try:
        return process.status() not in (psutil.STATUS_ZOMBIE, psutil.STATUS_DEAD)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def still_running(pids: list[int]) -> list[int]:
    """Those of ``pids`` that still run."""
    return [pid for pid in pids if alive(pid)]


def forkserver_children(pid: int | None = None) -> list[int]:
    """The processes forked by the multiprocessing forkserver(s) that ``pid`` (default:
    this process) started: a load generator's client processes. Reads the process table,
    no multiprocessing object, so a signal handler may call it."""
    import psutil

    process = _process(os.getpid() if pid is None else pid)
    if process is None:
        return []
    found: list[int] = []
    try:
        children = process.children()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return []
    for child in children:
        try:
            if not any("multiprocessing.forkserver" in part for part in child.cmdline()):
                continue
            found += [grandchild.pid for grandchild in child.children()]
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def wait_gone(pids: list[int], timeout: float) -> list[int]:
    """Wait until none of ``pids`` runs (zombies count as ended: only their parent's wait
    is missing); returns those still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    left = still_running(pids)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = still_running(left)
    return left
