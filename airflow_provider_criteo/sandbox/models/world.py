"""``SandboxState``: everything the emulator knows, behind one re-entrant lock, and every change to it."""

from __future__ import annotations

import secrets
import threading
import time
import urllib.parse
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from airflow_provider_criteo.sandbox.auth import (
    ALL_SCOPES,
    OAuthError,
    bearer_token,
    presented_token,
    unauthorized,
)
from airflow_provider_criteo.sandbox.models.apps import (
    DEFAULT_ADVERTISER_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Consents,
    SandboxApp,
    Token,
)
from airflow_provider_criteo.sandbox.models.persistence import (
    STATE_FILE_FORMAT,
    app_from_record,
    app_record,
    check_format,
    read_json,
    segment_from_record,
    segment_record,
    write_json,
)
from airflow_provider_criteo.sandbox.models.segments import AudienceSegments
from airflow_provider_criteo.sandbox.models.traffic import Traffic

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping

    from airflow_provider_criteo.sandbox.models.segments import Segment
    from airflow_provider_criteo.sandbox.settings import Settings


#: Criteo takes up to 30 redirect URIs per authorization-code app.
MAX_REDIRECT_URIS = 30


def _is_redirect_uri(uri: object) -> bool:
    """Whether ``uri`` is an absolute HTTPS URL with a host and no fragment (Criteo requires HTTPS;
    RFC 6749 3.1.2 forbids a fragment, where the code would never reach the app)."""
    if not isinstance(uri, str):
        raise TypeError(f"a redirect URI is a string, not {uri!r}")
    parsed = urllib.parse.urlsplit(uri)
    return parsed.scheme == "https" and bool(parsed.hostname) and not parsed.fragment


class SandboxState(Traffic):
    """Everything the emulator knows, guarded by one re-entrant lock (``state.lock``).

    Apps, advertisers and tokens live here; segments in :attr:`audience_segments`; the settings,
    injected faults, journal and rate-limit windows in their own objects, all under the same lock.
    """

    def __init__(
        self,
        client_id: str = DEFAULT_CLIENT_ID,
        client_secret: str = DEFAULT_CLIENT_SECRET,
        advertiser_id: str = DEFAULT_ADVERTISER_ID,
        settings: Settings | None = None,
    ) -> None:
        """A world holding one app (the given credentials and advertiser); ``reset()`` returns to it."""
        super().__init__(threading.RLock(), settings)
        self._default_app = (client_id, client_secret, advertiser_id)
        self.apps: dict[str, SandboxApp] = {}
        self.advertisers: dict[str, str] = {}
        self.audience_segments = AudienceSegments(self.lock)
        self._tokens: dict[str, Token] = {}
        self.consents = Consents()
        self._next_application_id = 1
        self.reset()

    @property
    def segment_store(self) -> dict[int, Segment]:
        """Every audience segment by id."""
        return self.audience_segments.by_id

    # -- control surface -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: only the default app remains, with the initial settings."""
        with self.lock:
            self.apps.clear()
            self.advertisers.clear()
            self.audience_segments.clear()
            self._tokens.clear()
            self.consents.clear()
            self.reset_traffic()
            self._next_application_id = 1
            client_id, client_secret, advertiser_id = self._default_app
            self.add_app(client_id, client_secret, advertiser_ids=(advertiser_id,))

    def add_app(
        self,
        client_id: str,
        client_secret: str,
        advertiser_ids: Iterable[str] = (DEFAULT_ADVERTISER_ID,),
        consent: bool | None = None,
        scopes: Iterable[str] = ALL_SCOPES,
        redirect_uris: Iterable[str] = (),
    ) -> SandboxApp:
        """Register (or replace) an application allowed to act for ``advertiser_ids``.

        With ``redirect_uris`` it is an authorization-code app: its advertisers' consent is given on
        the consent page (so ``consent`` defaults to false), and Criteo takes at most 30 redirect URIs,
        each HTTPS.
        """
        if isinstance(advertiser_ids, str) or isinstance(scopes, str) or isinstance(redirect_uris, str):
            raise TypeError("advertiser_ids, scopes and redirect_uris must be lists of strings, not a string")
        ids = tuple(str(advertiser_id) for advertiser_id in advertiser_ids)
        if not client_id or not client_secret:
            raise ValueError("client_id and client_secret must not be empty")
        uris = tuple(redirect_uris)
        if len(uris) > MAX_REDIRECT_URIS or not all(_is_redirect_uri(uri) for uri in uris):
            raise ValueError(
                f"Criteo takes at most {MAX_REDIRECT_URIS} redirect URIs, each https://host/... "
                "without a #fragment"
            )
        if consent is None:
            consent = not uris
        with self.lock:
            existing = self.apps.get(client_id)
            if existing is None:
                application_id = self._next_application_id
                self._next_application_id += 1
            else:
                application_id = existing.application_id
            app = SandboxApp(
                client_id, client_secret, ids, bool(consent), frozenset(scopes), application_id, uris
            )
            self.apps[client_id] = app
            self.consents.revoke(client_id)  # a replaced app's codes and refresh tokens are gone
            for advertiser_id in ids:
                self.advertisers.setdefault(advertiser_id, f"Sandbox advertiser {advertiser_id}")
            return app

    def consent_request(self, client_id: str, redirect_uri: str) -> list[tuple[str, str]]:
        """The (id, name) of the advertisers whose consent an authorization-code app asks for.

        :raises ValueError: for an unknown or client-credentials app, or an undeclared redirect URI
            (Criteo blocks the redirection).
        """
        with self.lock:
            app = self.apps.get(client_id)
            if app is None or not app.uses_consent:
                raise ValueError("No authorization-code app has this client_id.")
            if redirect_uri not in app.redirect_uris:
                raise ValueError("The redirect_uri is not declared in the application.")
            return [(a, self.advertisers.get(a, a)) for a in app.advertiser_ids]

    def approve(self, client_id: str, redirect_uri: str) -> str:
        """An administrator approves the consent request of an authorization-code app: its advertisers
        grant it consent, and the code for ``redirect_uri`` is returned.

        :raises ValueError: as :meth:`consent_request`.
        """
        with self.lock:
            self.consent_request(client_id, redirect_uri)
            self.apps[client_id] = replace(self.apps[client_id], consent=True)
            return self.consents.issue_code(client_id, redirect_uri)

    def revoke_consent(self, client_id: str) -> None:
        """The advertisers withdraw the app's consent (in Criteo's consent dashboard): its calls are
        refused with 403 and its refresh tokens with ``invalid_grant``."""
        with self.lock:
            self.apps[client_id] = replace(self.apps[client_id], consent=False)
            self.consents.revoke(client_id)

    def expire_refresh_tokens(self) -> None:
        """Make every refresh token expired."""
        with self.lock:
            self.consents.expire_refresh_tokens()

    def set_read_only(self, segment_id: int | str, read_only: bool = True) -> None:
        """Make a segment's contact list read-only (as one Criteo or a partner maintains), or writable."""
        self.audience_segments.set_read_only(segment_id, read_only)

    def expire_tokens(self) -> None:
        """Make every issued token expired."""
        with self.lock:
            for token in self._tokens.values():
                token.expires_at = 0.0

    def segments(self, advertiser_id: str | None = None) -> list[dict[str, Any]]:
        """Segment resources as the API shows them, by id, optionally for one advertiser."""
        return self.audience_segments.resources(advertiser_id)

    def members(self, segment_id: int | str, identifier_type: str | None = None) -> set[str]:
        """The identifiers a segment holds (all types, or one); ``KeyError`` if it does not exist."""
        return self.audience_segments.members(segment_id, identifier_type)

    # -- persistence -----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Apps, advertisers and segments with their members, JSON-ready (tokens are not kept)."""
        with self.lock:
            return {
                "format": STATE_FILE_FORMAT,
                "next_segment_id": self.audience_segments.next_id,
                "next_application_id": self._next_application_id,
                "advertisers": dict(self.advertisers),
                "apps": [app_record(app) for app in self.apps.values()],
                "segments": [segment_record(segment) for segment in self.segment_store.values()],
            }

    def load_dict(self, data: Mapping[str, Any]) -> None:
        """Replace apps, advertisers and segments with a :meth:`to_dict` snapshot."""
        check_format(data)
        with self.lock:
            self.apps = {app["client_id"]: app_from_record(app) for app in data["apps"]}
            self.advertisers = dict(data["advertisers"])
            segments = {segment["id"]: segment_from_record(segment) for segment in data["segments"]}
            self.audience_segments.load(segments, data["next_segment_id"])
            self._next_application_id = data["next_application_id"]
            self._tokens.clear()
            self.consents.clear()
            self.clear_rates()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_dict` to ``path`` as JSON, atomically."""
        write_json(path, self.to_dict())

    def load(self, path: str | os.PathLike[str]) -> None:
        """Load a state file written by :meth:`save`."""
        self.load_dict(read_json(path))

    # -- used by the API handlers ----------------------------------------------------------------

    def grant(self, fields: Mapping[str, str]) -> tuple[str, float, str | None]:
        """Answer a token request (:func:`~..auth.token_form`'s fields): a new access token, its lifetime
        and, for an authorization-code app, its new refresh token (``None`` for client credentials).

        :raises OAuthError: ``invalid_client`` for bad credentials; ``unauthorized_client`` for a grant
            the app does not use, ``invalid_grant`` for a bad code or refresh token or a withdrawn
            consent (emulator choices).
        """
        with self.lock:
            client_id, secret = fields["client_id"], fields["client_secret"]
            app = self.apps.get(client_id)
            if app is None or not secrets.compare_digest(app.client_secret, secret):
                raise OAuthError(401, "invalid_client", "Unknown client id or wrong client secret.")
            grant_type = fields["grant_type"]
            if (grant_type == "client_credentials") == app.uses_consent:
                flow = "the authorization code flow" if app.uses_consent else "client credentials"
                raise OAuthError(400, "unauthorized_client", f"This application uses {flow}.")
            refresh_token = None
            if grant_type == "authorization_code":
                refresh_token = self.consents.redeem_code(client_id, fields["code"], fields["redirect_uri"])
            elif grant_type == "refresh_token":
                if not app.consent:
                    raise OAuthError(400, "invalid_grant", "The advertisers withdrew this app's consent.")
                refresh_token = self.consents.rotate(client_id, fields["refresh_token"])
            issued = self.issue_token(client_id, secret)
            assert issued is not None  # the credentials were checked under the same lock
            return (*issued, refresh_token)

    def issue_token(self, client_id: str, client_secret: str) -> tuple[str, float] | None:
        """A new access token and its lifetime for valid credentials, else ``None``."""
        with self.lock:
            app = self.apps.get(client_id)
            if app is None or not secrets.compare_digest(app.client_secret, client_secret):
                return None
            token = secrets.token_urlsafe(32)
            lifetime = self.settings.token_lifetime
            self._tokens[token] = Token(client_id, time.time() + lifetime)
            return token, lifetime

    def client_of(self, authorization: str | None) -> str | None:
        """The client id of the token an ``Authorization`` header presents, expired or not."""
        token = presented_token(authorization)
        with self.lock:
            entry = self._tokens.get(token) if token else None
            return entry.client_id if entry else None

    def authenticate(self, authorization: str | None) -> SandboxApp:
        """The app behind an ``Authorization`` header, or the 401 Criteo answers."""
        token = bearer_token(authorization)
        with self.lock:
            entry = self._tokens.get(token)
            app = self.apps.get(entry.client_id) if entry else None
            if entry is None or app is None:
                raise unauthorized("authorization-token-invalid", "The bearer token is not valid.")
            if entry.expires_at <= time.time():
                raise unauthorized("authorization-token-expired", "The bearer token has expired.")
            return app

    def advertiser_names(self, app: SandboxApp) -> list[tuple[str, str]]:
        """The (id, name) of each advertiser that granted ``app`` consent."""
        with self.lock:
            advertiser_ids = app.advertiser_ids if app.consent else ()
            return [(advertiser_id, self.advertisers[advertiser_id]) for advertiser_id in advertiser_ids]

    def new_segment(self, advertiser_id: str, name: str, description: str | None) -> Segment:
        """Create a contact-list segment (the caller checked the name)."""
        return self.audience_segments.new(advertiser_id, name, description)

    def segment_named(self, advertiser_id: str, name: str) -> Segment | None:
        """The advertiser's segment called ``name``, if any."""
        return self.audience_segments.named(advertiser_id, name)
