"""The load generator: N client workers do one operation at once, timed and verified.

One round: every worker connects and moves one file (UPLOAD or DOWNLOAD) after all of
them are prepared; the round ends when the last one finishes. Workers are threads
(:mod:`.threads`) or processes (:mod:`.processes`). Every transfer is streamed and
checked: a download against the original as it arrives, an upload by what the server
stored (:func:`verify`). A round's figures become a :class:`fileproto.results.LoadResult`.

The ``fileproto stress`` command is built from :mod:`.plan`, :mod:`.runner`,
:mod:`.display`, :mod:`.interrupts` and :mod:`.summary` (see ``fileproto.cli.stress``).
"""

from fileproto.stress.load import (
    PreparedLoad,
    Surroundings,
    UploadCheck,
    download_check,
    run_load,
    verify,
)
from fileproto.stress.outcome import ClientOutcome, RoundOutcome, merge_rounds
from fileproto.stress.spec import METHODS, OPERATIONS, LoadSpec, Method, Operation, method_for

__all__ = [
    "METHODS",
    "OPERATIONS",
    "ClientOutcome",
    "LoadSpec",
    "Method",
    "Operation",
    "PreparedLoad",
    "RoundOutcome",
    "Surroundings",
    "UploadCheck",
    "download_check",
    "merge_rounds",
    "method_for",
    "run_load",
    "verify",
]
