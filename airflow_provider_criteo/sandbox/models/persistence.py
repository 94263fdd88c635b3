"""The state file: apps, advertisers and segments with their members as JSON (tokens are not kept)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.models.apps import SandboxApp
from airflow_provider_criteo.sandbox.models.segments import Segment

if TYPE_CHECKING:
    from collections.abc import Mapping

STATE_FILE_FORMAT = 1


def check_format(data: Mapping[str, Any]) -> None:
    """Refuse a snapshot written in another format than this emulator's."""
    if data.get("format") != STATE_FILE_FORMAT:
        raise ValueError(f"unsupported sandbox state format {data.get('format')!r}")


def app_record(app: SandboxApp) -> dict[str, Any]:
    """An app, JSON-ready."""
    return {
        **asdict(app),
        "advertiser_ids": list(app.advertiser_ids),
        "scopes": sorted(app.scopes),
        "redirect_uris": list(app.redirect_uris),
    }


def app_from_record(record: Mapping[str, Any]) -> SandboxApp:
    """The app an :func:`app_record` describes."""
    return SandboxApp(
        record["client_id"],
        record["client_secret"],
        tuple(record["advertiser_ids"]),
        record["consent"],
        frozenset(record["scopes"]),
        record["application_id"],
        tuple(record.get("redirect_uris", ())),  # state files of earlier versions have none
    )


def segment_record(segment: Segment) -> dict[str, Any]:
    """A segment with its members, JSON-ready."""
    return {
        **{key: value for key, value in asdict(segment).items() if key != "members"},
        "members": {kind: sorted(values) for kind, values in segment.members.items()},
    }


def segment_from_record(record: Mapping[str, Any]) -> Segment:
    """The segment a :func:`segment_record` describes."""
    return Segment(
        **{key: value for key, value in record.items() if key != "members"},
        members={kind: set(values) for kind, values in record["members"].items()},
    )


def write_json(path: str | os.PathLike[str], data: Any) -> None:
    """Write ``data`` to ``path`` as JSON, atomically."""
    temporary = f"{os.fspath(path)}.tmp"
    with open(temporary, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    os.replace(temporary, path)


def read_json(path: str | os.PathLike[str]) -> Any:
    """The JSON a :func:`write_json` wrote."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
