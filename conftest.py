"""Root conftest: one bytecode cache for the test processes, hypothesis profiles, and
assertion rewriting for the shared test helpers. Fixtures come from the fileproto plugin.

The default tier (``-m smoke``) runs the smoke corner of the matrix as a test, not as a
benchmark: see ``pytest_configure`` below.

Profiles: ``default``; ``ci`` when the CI environment variable is set (as on CI
services); ``HYPOTHESIS_PROFILE=<name>`` picks one explicitly. Every profile draws fresh
random examples on each run (no derandomize) and has no deadline: these machines are
shared, and a slow example is not a failure.
"""

import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from fileproto.pytest.refine import REFINER

# The suite starts hundreds of Python processes (servers, inner pytest sessions, command
# runs), each of which would compile the package, and pytest rewrite its asserts, anew
# where bytecode writing is off (PYTHONDONTWRITEBYTECODE): they share one cache, kept
# outside the source tree as that setting wants. Set before the xdist workers and every
# other child start, which inherit it.
if sys.dont_write_bytecode:
    BYTECODE = str(Path(__file__).resolve().parent / ".pycache")
    sys.dont_write_bytecode = False
    sys.pycache_prefix = BYTECODE
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    os.environ["PYTHONPYCACHEPREFIX"] = BYTECODE

# Inner pytest sessions (the plugin's own tests) run through pytester.
pytest_plugins = ["pytester"]

# Before any test module imports them: plain asserts in the helpers report their values.
pytest.register_assert_rewrite("tests.helpers")

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "ci",
    deadline=None,
    max_examples=60,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default")
)


@pytest.fixture
def run_pytest(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., subprocess.CompletedProcess[str]]:
    """``run_pytest(*args, timeout=300)``: an inner session of this repository's tests
    through pytester (tests/helpers/inner.py)."""
    from tests.helpers.inner import inner_pytest

    return functools.partial(inner_pytest, pytester, monkeypatch)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    """In the default tier the matrix's loads still add rounds where a comparison is open
    (the refiner runs on real servers), within ``--fileproto-budget`` times their own
    time, but without the floor of 10 s per load that lets a benchmark's small loads
    decide (docs/statistics.md): there its four loads would spend 40 s deciding which
    of two 10 MiB cases is faster, which no test asserts. Given ``--fileproto-budget``,
    the plugin's rules hold unchanged."""
    refiner = config.stash.get(REFINER, None)
    given = any(str(arg).startswith("--fileproto-budget") for arg in config.invocation_params.args)
    if refiner is not None and config.getoption("markexpr") == "smoke" and not given:
        refiner.floor_s = 0.0
