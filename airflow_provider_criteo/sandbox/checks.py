"""Checks of the arguments the control surface takes (settings, faults, flags), with its messages."""

from __future__ import annotations

import math
from typing import Any


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an ``int`` and not a ``bool`` (JSON and Python both let a bool pass as one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def boolean(name: str, value: Any) -> bool:
    """``value``, refused unless it is a boolean."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a boolean")
    return value


def non_negative_number(name: str, value: Any) -> float:
    """``value`` as a float, refused unless it is a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{name} must be a number")
    if value < 0 or math.isnan(value) or math.isinf(value):
        raise ValueError(f"{name} must be a finite number >= 0")
    return float(value)


def positive_number(name: str, value: Any) -> float:
    """``value`` as a float, refused unless it is a finite number > 0."""
    number = non_negative_number(name, value)
    if number == 0:
        raise ValueError(f"{name} must be positive")
    return number
