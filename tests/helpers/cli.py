"""The command line run in this process: ``fileproto.cli.main`` with its output caught.

The same parser and the same code as ``python -m fileproto``, without starting an
interpreter and importing matplotlib again for every call. Tests of the entry point
itself (tests/test_servers.py) start the real one.
"""

from __future__ import annotations

import contextlib
import io
import subprocess
from pathlib import Path

from fileproto.cli import main


def run_cli(*args: object, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``fileproto ARGS...`` (in ``cwd`` if given): its exit status, stdout and stderr,
    as subprocess.run gives them."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    where = contextlib.chdir(cwd) if cwd is not None else contextlib.nullcontext()
    with where, contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse: --help, usage errors
            code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 2
    return subprocess.CompletedProcess(["fileproto", *argv], code, out.getvalue(), err.getvalue())
