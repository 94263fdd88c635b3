"""One call to the emulator and its answer, as every layer passes them on: ``Call`` and ``Outcome``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from fastapi.responses import Response

from airflow_provider_criteo.sandbox.minimal import minimal_error
from airflow_provider_criteo.sandbox.problems import ApiProblem, validation_error

JSON_MEDIA_TYPE = "application/json"
_UNPARSED = object()


@dataclass
class Call:
    """One incoming request, as the handlers see it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    trace_id: str
    _parsed: Any = field(default=_UNPARSED, repr=False)

    @property
    def media_type(self) -> str:
        """The request's content type without parameters, lower-cased (empty when absent)."""
        return self.headers.get("content-type", "").partition(";")[0].strip().lower()

    def json(self) -> Any:
        """The JSON body, parsed once; 415 for another content type, 400 if absent or malformed."""
        if self._parsed is _UNPARSED:
            media_type = self.media_type
            if media_type != JSON_MEDIA_TYPE:
                raise ApiProblem(
                    415,
                    "validation",
                    "unsupported-media-type",
                    "Unsupported media type",
                    f"Send the body as {JSON_MEDIA_TYPE}, not {media_type or 'no content type'}.",
                )
            if not self.body.strip():
                raise validation_error("/", "A request body is required.", code="required-field")
            try:
                self._parsed = json.loads(self.body)
            except ValueError:
                raise validation_error("/", "The request body is not valid JSON.") from None
        return self._parsed

    def journal_body(self) -> Any:
        """The body for the journal: parsed JSON when it is, else its text, ``None`` when empty."""
        if self._parsed is not _UNPARSED:
            return self._parsed
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return self.body.decode("utf-8", errors="replace")


@dataclass
class Outcome:
    """What to answer: status, JSON body, headers, and the caller's client id when known."""

    status: int
    body: Any
    headers: dict[str, str]
    client_id: str | None = None


def problem_outcome(
    failure: ApiProblem, call: Call, headers: dict[str, str], *, minimal: bool = False
) -> Outcome:
    """The envelope answer for a failed API call (schema-minimal when asked)."""
    envelope = failure.to_envelope(call.trace_id, call.path)
    return Outcome(
        failure.status, minimal_error(envelope) if minimal else envelope, {**headers, **failure.headers}
    )


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """``body`` as compact UTF-8 JSON, the way the emulator sends every JSON answer."""
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(content, status, headers, media_type=JSON_MEDIA_TYPE)
