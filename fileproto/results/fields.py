"""Readers of a record's fields as a results JSON holds them: each checks the type and
says which field is wrong, so a damaged or hand-edited file fails with a clear message."""

from __future__ import annotations

from typing import Any

#: The server-workers value (and kind) of a server we did not start.
EXTERNAL = "external"


def int_field(value: Any) -> int:
    # bool is an int subclass; a JSON true where a count belongs is a producer bug.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected an integer, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"expected an integer, got {value!r}")
    return int(value)


def float_field(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {value!r}")
    return float(value)


def float_list(value: Any) -> list[float]:
    if not isinstance(value, list):
        raise TypeError(f"expected a list of numbers, got {value!r}")
    return [float_field(v) for v in value]


def size_field(value: Any) -> int | float:
    number = float_field(value)
    return int(number) if number.is_integer() else number


def str_field(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {value!r}")
    return value


def bool_field(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"expected true or false, got {value!r}")
    return value


def server_workers_field(value: Any) -> int | str:
    return EXTERNAL if value == EXTERNAL else int_field(value)
