"""Process facts from Linux's /proc: a process tree and peak resident memory.

Kept apart from server_process so the load generator's client processes can report
their memory without importing subprocess and ctypes.
"""

from __future__ import annotations

import os


def proc_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux /proc), for memory figures and clean-up."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def peak_rss(pid: int) -> int:
    """VmHWM of one process in bytes (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0
