"""Numbers read from stored JSON, where a bool is an int but never a number."""

from __future__ import annotations


def is_number(value: object) -> bool:
    """An int or a float, not a bool (JSON's true is Python's 1)."""
    return isinstance(value, int | float) and not isinstance(value, bool)
