"""Inner pytest sessions of this repository's tests, through ``pytester``.

Each runs in a process of its own (servers, signals and the plugin's registry stay out
of the outer session), from the repository's root so that ``pytest.ini`` and
``conftest.py`` apply, with a ``--basetemp`` under the outer test's own folder.
"""

from __future__ import annotations

import os
import pwd
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent

#: What the ``run_pytest`` fixture (conftest.py) gives: ``inner_pytest`` bound to a test.
RunPytest = Callable[..., subprocess.CompletedProcess[str]]


def inner_pytest(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    timeout: float = 300,
    xdist: bool = False,
) -> subprocess.CompletedProcess[str]:
    """``pytest ARGS...`` in the repository (``-p no:xdist`` unless ``xdist``): exit
    status, stdout, stderr."""
    monkeypatch.chdir(REPO)
    # An outer xdist worker's identity is not the inner session's.
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(name)
    # pytester gives the inner session a HOME of its own; keep matplotlib's font cache
    # (importing matplotlib here would not do: pytester forgets what a test imported).
    if "MPLCONFIGDIR" not in os.environ:
        cache = os.environ.get("XDG_CACHE_HOME") or str(
            Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache"
        )
        monkeypatch.setenv("MPLCONFIGDIR", str(Path(cache) / "matplotlib"))
    plugins = () if xdist else ("-p", "no:xdist")
    result = pytester.runpytest_subprocess(*plugins, *args, timeout=timeout)
    return subprocess.CompletedProcess(
        ["pytest", *args], int(result.ret), result.stdout.str(), result.stderr.str()
    )
