"""The route table of Criteo's API paths, the versions served, and how a call finds its route."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox import responses
from airflow_provider_criteo.sandbox.problems import ApiProblem

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_criteo.sandbox.calls import Call
    from airflow_provider_criteo.sandbox.models import SandboxApp, SandboxState

SERVED_VERSIONS = ("2026-01", "2026-07", "2027-01")
#: Served versions on their way out (emulator choice, after criteo-api.md: 2026-01 is supported until
#: February 2027): answers carry RFC 9745 ``Deprecation``, RFC 8594 ``Sunset`` and a warning.
DEPRECATED_VERSIONS = {"2026-01": (1785542400, "Mon, 01 Feb 2027 00:00:00 GMT")}
_VERSION = re.compile(r"[0-9]{4}-(?:0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Route:
    """An emulated endpoint: method, path pattern after the version, handler."""

    method: str
    pattern: re.Pattern[str]
    handler: Callable[[SandboxState, SandboxApp, Call, dict[str, int]], dict[str, Any]]


_SEGMENT = r"marketing-solutions/audience-segments/(?P<segment_id>[^/]+)/contact-list"
ROUTES = (
    Route("GET", re.compile(r"advertisers/me"), responses.advertisers_me),
    Route("GET", re.compile(r"marketing-solutions/me"), responses.application_me),
    Route("POST", re.compile(r"marketing-solutions/audience-segments/search"), responses.search_segments),
    Route("POST", re.compile(r"marketing-solutions/audience-segments/create"), responses.create_segments),
    Route("PATCH", re.compile(r"marketing-solutions/audience-segments"), responses.update_segments),
    Route("POST", re.compile(r"marketing-solutions/audience-segments/delete"), responses.delete_segments),
    Route("PATCH", re.compile(_SEGMENT), responses.amend_contact_list),
    Route("DELETE", re.compile(_SEGMENT), responses.wipe_contact_list),
    Route("GET", re.compile(_SEGMENT + "/statistics"), responses.contact_list_statistics),
)


def api_version(path: str) -> str:
    """The first segment of a ``/{version}/...`` path."""
    return path.lstrip("/").partition("/")[0]


def resolve(method: str, path: str) -> tuple[Route, dict[str, str]]:
    """The route of a call and its raw path parameters: 404 unknown, 405 wrong method, 410 version gone."""
    version, _, rest = path.lstrip("/").partition("/")
    if not _VERSION.fullmatch(version):
        raise _not_found(path)
    if version not in SERVED_VERSIONS:
        raise ApiProblem(
            410,
            "deprecation",
            "api-version-decommissioned",
            "API version gone",
            f"API version {version} is not served; use one of {', '.join(SERVED_VERSIONS)}.",
        )
    allowed = []
    for route in ROUTES:
        match = route.pattern.fullmatch(rest)
        if match is None:
            continue
        if route.method == method:
            return route, match.groupdict()
        allowed.append(route.method)
    if allowed:
        raise ApiProblem(
            405,
            "validation",
            "method-not-allowed",
            "Method not allowed",
            f"{method} is not allowed here.",
            headers={"allow": ", ".join(allowed)},
        )
    raise _not_found(path)


def _not_found(path: str) -> ApiProblem:
    return ApiProblem(404, "validation", "not-found", "Not found", f"No endpoint at {path}.")
