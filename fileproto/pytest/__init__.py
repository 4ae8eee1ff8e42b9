"""The fileproto pytest plugin, in pytest-benchmark's layout.

- :mod:`.plugin`: the ``pytest11`` entry point (named ``fileproto``): options, markers,
  hooks; it imports the fixtures so pytest finds them;
- :mod:`.settings`: the command-line options and the ``Options`` they make;
- :mod:`.servers`: servers under test (ours in their own processes, or the user's);
- :mod:`.fixtures`: servers, clients, test files and the limit, as fixtures;
- :mod:`.matrix`: the stress matrix as parametrized pytest-benchmark benchmarks;
- :mod:`.slowclients`: the slow-client matrix (marker ``slowclients``), the same way;
- :mod:`.recording`: the terminal summary, the report files, and the benchmark JSON
  under pytest-xdist.
"""
