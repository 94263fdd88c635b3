"""Criteo API applications (client-credentials and authorization-code apps), the advertisers they act
for, their access tokens, and the codes and refresh tokens of authorization-code consent.

What Criteo documents of consent and what it leaves open is in ``docs/criteo-consent.md``, with the
emulator's choices where Criteo says nothing (codes single use for 10 minutes, refresh tokens rotated
at every refresh, ``400 invalid_grant``, ...). Codes and refresh tokens live in memory only, like
access tokens: a state file does not keep them.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from airflow_provider_criteo.sandbox.auth import OAuthError, grants

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_ADVERTISER_ID = "12345"


@dataclass(frozen=True)
class SandboxApp:
    """A Criteo API application and what it may do.

    An authorization-code app has its registered ``redirect_uris``: its advertisers grant consent on
    the consent page (``consent`` is then true) and may withdraw it.
    """

    client_id: str
    client_secret: str
    advertiser_ids: tuple[str, ...]
    consent: bool
    scopes: frozenset[str]
    application_id: int
    redirect_uris: tuple[str, ...] = ()

    @property
    def uses_consent(self) -> bool:
        """Whether it is an authorization-code app."""
        return bool(self.redirect_uris)

    def has_scope(self, scope: str) -> bool:
        """Whether the app holds ``scope``; Audience "Manage" includes "Read"."""
        return grants(self.scopes, scope)

    def may_use(self, advertiser_id: str) -> bool:
        """Whether the app may act for ``advertiser_id`` (listed and consent granted)."""
        return self.consent and advertiser_id in self.advertiser_ids


@dataclass
class Token:
    """An issued access token: whose it is and when it expires (Unix seconds)."""

    client_id: str
    expires_at: float


#: How long an authorization code may be exchanged (emulator choice, as RFC 6749 4.1.2 advises).
CODE_SECONDS = 600.0
#: How long a refresh token lives unused (emulator choice; Criteo does not say).
REFRESH_TOKEN_SECONDS = 180 * 86_400.0


@dataclass
class Grant:
    """A code or a refresh token: whose app it is, where the code was sent, until when it holds."""

    client_id: str
    expires_at: float
    redirect_uri: str | None = None


class Consents:
    """The live authorization codes and refresh tokens (the caller holds the state's lock)."""

    def __init__(self) -> None:
        self._codes: dict[str, Grant] = {}
        self._refresh_tokens: dict[str, Grant] = {}

    def clear(self) -> None:
        """Forget every code and refresh token."""
        self._codes.clear()
        self._refresh_tokens.clear()

    def issue_code(self, client_id: str, redirect_uri: str) -> str:
        """A new code for an approval sent to ``redirect_uri``."""
        code = secrets.token_urlsafe(24)
        self._codes[code] = Grant(client_id, time.time() + CODE_SECONDS, redirect_uri)
        return code

    def redeem_code(self, client_id: str, code: str, redirect_uri: str) -> str:
        """Spend ``code`` (once): a new refresh token, or ``invalid_grant``. Presented by another app or
        with another redirect URI, it is refused and stays the app's (emulator choice)."""
        grant = self._live(self._codes, code, client_id, "The authorization code")
        if grant.redirect_uri != redirect_uri:
            raise _invalid_grant("redirect_uri does not match the one of the authorization request.")
        del self._codes[code]
        return self._new_refresh_token(client_id)

    def rotate(self, client_id: str, refresh_token: str) -> str:
        """Spend ``refresh_token`` for a new one, or ``invalid_grant``."""
        self._live(self._refresh_tokens, refresh_token, client_id, "The refresh token")
        del self._refresh_tokens[refresh_token]
        return self._new_refresh_token(client_id)

    @staticmethod
    def _live(issued: dict[str, Grant], token: str, client_id: str, what: str) -> Grant:
        """The grant of ``token`` if it is ``client_id``'s and unexpired, else ``invalid_grant``."""
        grant = issued.get(token)
        if grant is None or grant.client_id != client_id or grant.expires_at <= time.time():
            raise _invalid_grant(f"{what} is unknown, spent, expired, revoked or not this app's.")
        return grant

    def revoke(self, client_id: str) -> None:
        """The advertiser withdrew its consent: every code and refresh token of the app is dead."""
        for issued in (self._codes, self._refresh_tokens):
            for token in [token for token, grant in issued.items() if grant.client_id == client_id]:
                del issued[token]

    def expire_refresh_tokens(self) -> None:
        """Make every refresh token expired (as months without use would)."""
        for grant in self._refresh_tokens.values():
            grant.expires_at = 0.0

    def _new_refresh_token(self, client_id: str) -> str:
        token = secrets.token_urlsafe(32)
        self._refresh_tokens[token] = Grant(client_id, time.time() + REFRESH_TOKEN_SECONDS)
        return token


def _invalid_grant(description: str) -> OAuthError:
    """RFC 6749's refusal of a grant (Criteo's own answer is not documented)."""
    return OAuthError(400, "invalid_grant", description)
