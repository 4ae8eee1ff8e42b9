"""What a case measured, in one record, and the pytest-benchmark JSON that carries it.

- :mod:`.record`: :class:`LoadResult`, a case's figures, and its conversion to and from
  a benchmark's ``extra_info`` (re-exported here);
- :mod:`.felt`: what clients felt (latency percentiles, background connections), the
  record's nested fields;
- :mod:`.timeline`: each request's and probe's phases, and our server's trace events,
  read from its trace file (docs/trace.md);
- :mod:`.stats`: the statistics of the timed rounds, computed as pytest-benchmark does;
- :mod:`.document`: the benchmark JSON file, written (stress CLI, the plugin under
  pytest-xdist) and read (the report).

The stress CLI, the pytest plugin and the report all go through these. Only the record
is imported here: the load generator's client processes import it, and ``statistics``
(with ``decimal`` and ``fractions``) would add 0.7 MiB to each one's memory figure.
"""

from fileproto.results.record import EXTERNAL, LoadResult, size_mib_of

__all__ = ["EXTERNAL", "LoadResult", "size_mib_of"]
