"""The emulator's tunable behaviour (``Settings``) and the checks a change of it passes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.checks import boolean, is_integer, non_negative_number, positive_number

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


@dataclass(frozen=True)
class Settings:
    """Tunable behaviour of the emulator.

    :param schema_minimal: answer only what Criteo's OpenAPI guarantees: optional fields left out,
        nullable ones null, no search ``meta``, per-item failures in ``warnings``, ``traceIdentifier``
        for ``traceId`` (see :mod:`airflow_provider_criteo.sandbox.minimal`).
    :param pending_statistics: answer contact-list statistics as Criteo does before it has matched a
        list: every count null.
    """

    token_lifetime: float = 900.0
    latency: float = 0.0
    rate_limit_per_minute: int = 250
    record_bodies: bool = True
    schema_minimal: bool = False
    pending_statistics: bool = False

    def updated(self, changes: Mapping[str, Any]) -> Settings:
        """A copy with ``changes`` checked and applied, in order; a ``None`` value keeps a setting."""
        checked = {name: _CHECKS[name](name, value) for name, value in changes.items() if value is not None}
        return replace(self, **checked)


def _rate_limit(name: str, value: Any) -> int:
    if not is_integer(value):
        raise TypeError(f"{name} must be an integer")
    if value < 1:
        raise ValueError(f"{name} must be at least 1")
    return int(value)


#: How each setting's new value is checked (and normalised).
_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "token_lifetime": positive_number,
    "latency": non_negative_number,
    "rate_limit_per_minute": _rate_limit,
    "record_bodies": boolean,
    "schema_minimal": boolean,
    "pending_statistics": boolean,
}
