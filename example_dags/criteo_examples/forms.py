"""Trigger-form pieces the example DAGs share. Unlike the package's root, this module imports Airflow."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, task

from criteo_examples import SEGMENT_NAMES, SEGMENTS


def segment_multi_select(default: list[str], *, title: str, description: str, known_only: bool) -> Param:
    """A multi-select of segment names; ``known_only=False`` also accepts names no segment has (any more)."""
    items = {"type": "string", "enum": SEGMENT_NAMES} if known_only else {"type": "string", "minLength": 1}
    return Param(
        default,
        type="array",
        items=items,
        examples=SEGMENT_NAMES,  # what the UI offers in the multi-select
        values_display={name: f"{name}: {segment.description}" for name, segment in SEGMENTS.items()},
        uniqueItems=True,
        minItems=1,
        title=title,
        description=description,
    )


@task
def chosen(param: str, params: dict[str, Any]) -> list[str]:
    """The names chosen in the multi-select ``param`` of the trigger form (its default on other runs)."""
    return list(params[param])
