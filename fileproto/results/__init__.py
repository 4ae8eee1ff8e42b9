"""What a case measured, in one record, and the pytest-benchmark JSON that carries it.

- :mod:`.record`: :class:`LoadResult`, a case's figures, and its conversion to and from
  a benchmark's ``extra_info``;
- :mod:`.stats`: the statistics of the timed rounds, computed as pytest-benchmark does;
- :mod:`.document`: the benchmark JSON file, written (stress CLI, the plugin under
  pytest-xdist) and read (the report).

The stress CLI, the pytest plugin and the report all go through these.
"""

from fileproto.results.document import (
    LIMIT_KEY,
    BenchmarkEntry,
    Document,
    Source,
    benchmark_document,
    load_document,
    load_references,
    load_results,
    machine_info,
)
from fileproto.results.record import EXTERNAL, LoadResult, size_mib_of
from fileproto.results.stats import Stats

__all__ = [
    "EXTERNAL",
    "LIMIT_KEY",
    "BenchmarkEntry",
    "Document",
    "LoadResult",
    "Source",
    "Stats",
    "benchmark_document",
    "load_document",
    "load_references",
    "load_results",
    "machine_info",
    "size_mib_of",
]
