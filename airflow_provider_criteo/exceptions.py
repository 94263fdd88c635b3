"""Every error the provider raises, in one place.

All of them derive from :class:`CriteoError` (an ``AirflowException``), so a DAG author can catch
the whole family, and each API failure names what a person needs to act on it: the endpoint, the
HTTP status, Criteo's error code and the trace id to quote to Criteo support.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException


class CriteoError(AirflowException):
    """Base class of every error raised by the Criteo provider."""


class CriteoConfigurationError(CriteoError):
    """The connection or the task is configured in a way that cannot work; nothing was sent."""


class CriteoApiError(CriteoError):
    """Criteo answered an API call with an error.

    :param method: HTTP method of the failed call.
    :param endpoint: path of the failed call, without host (e.g. ``/2026-07/marketing-solutions/me``).
    :param status: HTTP status code.
    :param code: Criteo's kebab-case error code (or the OAuth ``error``), when the body carried one.
    :param trace_id: Criteo's trace id of the failed call, when the body carried one.
    :param detail: Criteo's human-readable explanation, when the body carried one.
    :param hint: what to do about it, when it is a configuration problem.
    :param codes: the codes of every problem the answer carried (``code`` is the first one's).
    """

    def __init__(
        self,
        *,
        method: str,
        endpoint: str,
        status: int | None,
        code: str | None = None,
        trace_id: str | None = None,
        detail: str | None = None,
        hint: str | None = None,
        codes: tuple[str, ...] = (),
    ) -> None:
        self.method = method
        self.endpoint = endpoint
        self.status = status
        self.code = code
        self.trace_id = trace_id
        self.detail = detail
        self.hint = hint
        self.codes = codes or ((code,) if code else ())
        super().__init__(self._message())

    def _message(self) -> str:
        parts = [f"Criteo API {self.method} {self.endpoint} failed"]
        parts.append(f"status={self.status}" if self.status is not None else "no response")
        if self.code:
            parts.append(f"code={self.code}")
        if self.trace_id:
            parts.append(f"traceId={self.trace_id}")
        message = ": ".join([parts[0], ", ".join(parts[1:])])
        if self.detail:
            message += f" ({self.detail})"
        if self.hint:
            message += f". {self.hint}"
        return message


class CriteoAuthenticationError(CriteoApiError):
    """The client id / secret were refused, or a token was still refused after one refresh (401)."""


class CriteoPermissionError(CriteoApiError):
    """The app may not act for this advertiser or lacks the Audience scope (403)."""


class CriteoNotFoundError(CriteoApiError):
    """The audience segment (or another resource) does not exist (404)."""


class CriteoValidationError(CriteoApiError):
    """Criteo refused the request body: schema, limits or content type (400, 413, 415)."""


class CriteoVersionGoneError(CriteoApiError):
    """The configured API version is no longer served by Criteo (410)."""


class CriteoRateLimitError(CriteoApiError):
    """Criteo kept answering 429 until the retry budget or deadline ran out."""


class CriteoServerError(CriteoApiError):
    """Criteo kept failing with 5xx or the connection kept failing until the retries ran out."""


class CriteoResponseError(CriteoApiError):
    """Criteo answered something that is not the documented response (bad JSON, missing fields)."""


class UndecodableTextError(CriteoError):
    """SQLite holds TEXT that is not UTF-8 (no value is quoted); the reading retries, counting it not_text."""


class CriteoStateError(CriteoError):
    """The mirror-sync snapshot store refused or could not serve a request."""


class SnapshotCorruptError(CriteoStateError):
    """A committed snapshot cannot be read; it is never taken for an empty audience."""


class SnapshotConflictError(CriteoStateError):
    """Another run committed a snapshot of the same audience first (compare-and-swap failed)."""


class AudienceLockedError(CriteoStateError):
    """Another export of the same audience is running; this one sent nothing."""


class LeaseLostError(CriteoStateError):
    """A run lost its lease on an audience (taken over, lapsed, or not renewable): it stopped sending."""


class LargeRemovalError(CriteoError):
    """The segment came back empty or shrank too much: refused before anything was sent."""
