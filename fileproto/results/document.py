"""The benchmark JSON file: pytest-benchmark's format, with the figures in extra_info.

``pytest --benchmark-json`` writes it (pytest-benchmark itself; the plugin under
pytest-xdist, where pytest-benchmark is off), and so does ``fileproto stress --json``.
``fileproto report`` and ``pytest-benchmark compare`` read it. Matrix cases are the
benchmarks whose ``extra_info`` has an ``operation``; reference cases (``"reference":
"limit"``) are kept apart.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fileproto.results.record import LoadResult
from fileproto.results.stats import Stats

Document = Mapping[str, Any]
Source = str | os.PathLike[str] | Document

#: Top-level key under which a matrix run keeps the limit figures it measured.
LIMIT_KEY = "fileproto_limit"
#: Top-level keys of the comparisons a run states (fileproto.cases.comparisons) and of how
#: they were decided (docs/statistics.md).
VERDICTS_KEY = "fileproto_verdicts"
STATISTICS_KEY = "fileproto_statistics"


# -- writing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkEntry:
    """One benchmark as pytest-benchmark saves it (``Metadata.as_dict``)."""

    name: str
    fullname: str
    extra_info: Mapping[str, Any]
    #: Seconds per round, as timed.
    durations: Sequence[float]
    group: str | None = None
    params: Mapping[str, Any] | None = None
    param: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "name": self.name,
            "fullname": self.fullname,
            "params": dict(self.params) if self.params is not None else None,
            "param": self.param,
            "extra_info": dict(self.extra_info),
            "options": dict(self.options),
            "stats": Stats(self.durations).as_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BenchmarkEntry:
        """The inverse of :meth:`as_dict` (what travels from an xdist worker)."""
        return cls(
            name=data["name"],
            fullname=data["fullname"],
            extra_info=data["extra_info"],
            durations=data["stats"]["data"],
            group=data.get("group"),
            params=data.get("params"),
            param=data.get("param"),
            options=data.get("options") or {},
        )


def machine_info() -> dict[str, Any]:
    """pytest-benchmark's machine_info fields that need no extra package (it adds a
    detailed ``cpu`` from py-cpuinfo; here ``cpu`` has the count only)."""
    uname = platform.uname()
    return {
        "node": uname.node,
        "processor": uname.processor,
        "machine": uname.machine,
        "python_compiler": platform.python_compiler(),
        "python_implementation": platform.python_implementation(),
        "python_implementation_version": platform.python_version(),
        "python_version": platform.python_version(),
        "python_build": list(platform.python_build()),
        "release": uname.release,
        "system": uname.system,
        "cpu": {"count": os.cpu_count()},
    }


def benchmark_document(
    entries: Iterable[BenchmarkEntry],
    *,
    machine: Mapping[str, Any] | None = None,
    commit: Mapping[str, Any] | None = None,
    version: str,
    **extra: Any,
) -> dict[str, Any]:
    """A whole benchmark JSON document; ``extra`` adds top-level keys (e.g. LIMIT_KEY)."""
    return {
        "machine_info": dict(machine if machine is not None else machine_info()),
        "commit_info": dict(commit or {}),
        "benchmarks": [entry.as_dict() for entry in entries],
        "datetime": datetime.datetime.now(datetime.UTC).isoformat(),
        "version": version,
        **extra,
    }


def write_document(document: Document, target: str | os.PathLike[str] | IO[bytes]) -> None:
    """Write as pytest-benchmark does (4-space indent, ASCII); ``target`` is a path or a
    binary file (pytest-benchmark 4 opens ``--benchmark-json`` itself)."""
    data = (json.dumps(document, indent=4, ensure_ascii=True) + "\n").encode()
    if isinstance(target, str | os.PathLike):
        Path(target).write_bytes(data)
    else:
        target.write(data)
        target.flush()


# -- reading ------------------------------------------------------------------------------


def load_document(source: Source) -> Document:
    """Read a benchmark JSON file (or accept an already-parsed dict) and check its shape.

    Raises OSError if the file cannot be read, ValueError if it is not a benchmark JSON.
    """
    if isinstance(source, Mapping):
        document: Any = source
        where = "benchmark data"
    else:
        where = os.fspath(source)
        raw = Path(source).read_bytes()
        try:
            document = json.loads(raw)  # detects UTF-8/16/32 like any JSON reader should
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{where} is not valid JSON: {exc}") from None
    if not isinstance(document, Mapping) or not isinstance(document.get("benchmarks"), list):
        raise ValueError(f"{where} is not a benchmark JSON: no 'benchmarks' list at the top")
    return document


def _benchmarks(document: Document) -> Iterable[tuple[str, Mapping[str, Any]]]:
    """(name, extra_info) of every benchmark; entries without extra_info yield {}."""
    for index, bench in enumerate(document["benchmarks"]):
        if not isinstance(bench, Mapping):
            raise ValueError(f"benchmarks[{index}] is not an object")
        name = str(bench.get("name") or bench.get("fullname") or f"benchmarks[{index}]")
        info = bench.get("extra_info")
        yield name, info if isinstance(info, Mapping) else {}


def load_results(source: Source) -> list[LoadResult]:
    """The matrix cases (benchmarks whose extra_info has an "operation"), in file order."""
    document = load_document(source)
    return [
        LoadResult.from_extra_info(info, name)
        for name, info in _benchmarks(document)
        if "operation" in info
    ]


def load_references(source: Source) -> list[dict[str, Any]]:
    """The reference cases (extra_info with a "reference" key, e.g. the loopback limit),
    as copies of their extra_info with the benchmark's ``name`` added."""
    document = load_document(source)
    found = [{"name": name, **info} for name, info in _benchmarks(document) if "reference" in info]
    # A matrix run records the limit it measured alongside, under its own key.
    extra = document.get(LIMIT_KEY, [])
    if isinstance(extra, list):
        for info in extra:
            if isinstance(info, dict):
                found.append({"name": f"limit[{info.get('size_mib')}MiB]", **info})
    return found
