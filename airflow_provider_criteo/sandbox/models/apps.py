"""Criteo API applications (client-credentials apps), the advertisers they act for, and their tokens."""

from __future__ import annotations

from dataclasses import dataclass

from airflow_provider_criteo.sandbox.auth import grants

DEFAULT_CLIENT_ID = "sandbox-client-id"
DEFAULT_CLIENT_SECRET = "sandbox-client-secret"
DEFAULT_ADVERTISER_ID = "12345"


@dataclass(frozen=True)
class SandboxApp:
    """A Criteo API application (client-credentials app) and what it may do."""

    client_id: str
    client_secret: str
    advertiser_ids: tuple[str, ...]
    consent: bool
    scopes: frozenset[str]
    application_id: int

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
