"""How the report orders and names cases: server kinds in the registry's order."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fileproto.results import EXTERNAL, LoadResult
from servers.registry import CLASSIC_KINDS, KINDS

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


def kinds_note(results: Iterable[LoadResult]) -> str | None:
    """Which models ran (each with its count of cases), and which registry kinds did
    not, with the option that adds them; None for a run of a server we did not start."""
    counts: dict[tuple[str, str | None], int] = {}
    for result in sort_results(results):
        key = (result.server_kind, result.dispatch)
        counts[key] = counts.get(key, 0) + 1
    ran = [kind for kind, _ in counts if kind != EXTERNAL]
    if not ran:
        return None
    models = ", ".join(
        f"{model_name(kind, dispatch)} in {n} case{'' if n == 1 else 's'}"
        for (kind, dispatch), n in counts.items()
    )
    text = f"Models in this run: {models}."
    missing = [kind for kind in KINDS if kind not in ran]
    if missing:
        # Left out by --fileproto-kinds, or deselected (-k): say what the option does.
        text += (
            f" Not in this run: {', '.join(kind_label(k) for k in missing)}. "
            f"--fileproto-kinds chooses the kinds (default {','.join(CLASSIC_KINDS)}); "
            f"--fileproto-kinds {','.join(KINDS)} runs every one (pytest -m full, or -m "
            "slowclients)."
        )
    return text


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
