"""``--fileproto-schedule``: what the plugin starts a server with and what it records
with each case, so that a run says which schedule its pools ran (docs/architecture.md,
"Scheduling"): the chosen one, else the servers' default; none where no run queue
decides."""

from __future__ import annotations

import pytest

from fileproto.cases.classic import MatrixCase
from fileproto.pytest.classic import classic_load
from fileproto.pytest.settings import Options
from fileproto.server.policy import DEFAULT_SCHEDULE

pytestmark = pytest.mark.smoke


def options(schedule: str | None) -> Options:
    return Options(None, "json", 1, None, ("thread",), None, False, schedule=schedule)


def test_a_pool_records_the_schedule_it_ran_the_default_when_none_was_chosen() -> None:
    case = MatrixCase("thread", "UPLOAD", 10, 5, 1)
    plain = classic_load(case, options(None))
    assert (plain.server_args, plain.schedule) == ((), DEFAULT_SCHEDULE)
    chosen = classic_load(MatrixCase("process", "DOWNLOAD", 10, 5, 1), options("fifo"))
    assert (chosen.server_args, chosen.schedule) == (("--schedule", "fifo"), "fifo")


def test_no_schedule_where_no_run_queue_decides() -> None:
    chosen = options("rr")
    loop = classic_load(MatrixCase("asyncio", "UPLOAD", 10, 5, 1), chosen)
    assert (loop.server_args, loop.schedule) == ((), None)
    assert chosen.schedule_of("thread", "accept") is None
    assert chosen.schedule_of("perconn", "ready") is None
    assert chosen.schedule_of("someone-else", "ready") is None
