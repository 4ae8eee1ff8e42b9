"""How the report orders and names cases: server kinds in the registry's order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fileproto.results import EXTERNAL, LoadResult
from fileproto.server.registry import KINDS

_OPERATION_ORDER = ("UPLOAD", "DOWNLOAD")
#: Titles of what is not a registered kind (the registry's labels name the others).
_TITLES = {EXTERNAL: "external server"}


def kind_order() -> tuple[str, ...]:
    """The registry's kinds, then a server we did not start."""
    return (*KINDS, EXTERNAL)


def kind_label(kind: str) -> str:
    """Section title of a server kind: "thread pool", "process pool", ..."""
    known = KINDS.get(kind)
    return known.label if known is not None else _TITLES.get(kind, kind)


def model_name(kind: str, dispatch: str | None) -> str:
    """A model as the report names it: "thread pool (ready)", "asyncio event loops (loop)"."""
    return kind_label(kind) + (f" ({dispatch})" if dispatch else "")


def kinds_not_run(results: Iterable[LoadResult]) -> list[str]:
    """The labels of the registry's kinds with no case among ``results``; none when no
    kind of ours ran (a server we did not start)."""
    ran = {r.server_kind for r in results}
    if not ran & set(KINDS):
        return []
    return [kind.label for name, kind in KINDS.items() if name not in ran]


def not_run_text(labels: Sequence[str]) -> str:
    """The kinds that did not run and the option that adds them; "" if every one ran."""
    if not labels:
        return ""
    return (
        f"Not run: {' and '.join(labels)} (add {'it' if len(labels) == 1 else 'them'} with "
        f"--fileproto-kinds {','.join(KINDS)})."
    )


def kinds_note(results: Iterable[LoadResult]) -> str | None:
    """Which models ran (each with its count of cases), and which registry kinds did
    not, with the option that adds them; None for a run of a server we did not start."""
    ordered = sort_results(results)
    counts: dict[tuple[str, str | None], int] = {}
    for result in ordered:
        key = (result.server_kind, result.dispatch)
        counts[key] = counts.get(key, 0) + 1
    if not any(kind != EXTERNAL for kind, _ in counts):
        return None
    models = ", ".join(
        f"{model_name(kind, dispatch)} in {n} case{'' if n == 1 else 's'}"
        for (kind, dispatch), n in counts.items()
    )
    missing = not_run_text(kinds_not_run(ordered))
    return f"Models in this run: {models}." + (f" {missing}" if missing else "")


def rank(value: str, order: Sequence[str]) -> tuple[int, str]:
    # Known values in their fixed order, anything unexpected after them, alphabetically.
    return (order.index(value), "") if value in order else (len(order), value)


def operation_rank(operation: str) -> tuple[int, str]:
    return rank(operation, _OPERATION_ORDER)


def server_workers_key(value: int | str) -> tuple[int, int]:
    return (1, 0) if isinstance(value, str) else (0, value)


def size_text(size_mib: int | float) -> str:
    return f"{size_mib:g}" if isinstance(size_mib, float) else str(size_mib)


def sort_results(results: Iterable[LoadResult]) -> list[LoadResult]:
    """Order by server kind, operation (UPLOAD first), size, client then server workers."""
    kinds = kind_order()
    return sorted(
        results,
        key=lambda c: (
            rank(c.server_kind, kinds),
            operation_rank(c.operation),
            c.size_mib,
            c.client_workers,
            server_workers_key(c.server_workers),
        ),
    )


def sections(results: Iterable[LoadResult]) -> list[tuple[str, list[LoadResult]]]:
    """Sorted cases split per server kind, keeping the sort order of the kinds."""
    found: dict[str, list[LoadResult]] = {}
    for result in sort_results(results):
        found.setdefault(result.server_kind, []).append(result)
    return list(found.items())
