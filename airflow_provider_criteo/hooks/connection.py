"""The Criteo connection type: its defaults and how an Airflow connection maps onto settings.

The same connection can come from the UI form, ``AIRFLOW_CONN_<ID>`` as a URI or JSON, or a secrets
backend; extras therefore arrive as JSON values or as URI strings, and are parsed strictly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_criteo.defaults import DEFAULT_API_VERSION, DEFAULT_HOST
from airflow_provider_criteo.exceptions import CriteoConfigurationError

if TYPE_CHECKING:
    from airflow.sdk import Connection

_API_VERSION = re.compile(r"^\d{4}-\d{2}$")
_ADVERTISER_ID = re.compile(r"^\d{1,20}$")
_TRUE = frozenset({"true", "1", "yes", "on", "y", "t"})
_FALSE = frozenset({"false", "0", "no", "off", "n", "f", ""})


@dataclass(frozen=True, repr=False)
class CriteoConnectionConfig:
    """Settings of one Criteo connection: credentials, endpoint, advertiser and consent."""

    conn_id: str
    client_id: str
    client_secret: str
    base_url: str
    api_version: str
    advertiser_id: str | None
    data_transfer_consent: bool
    ca_bundle: str | None = None

    def __repr__(self) -> str:
        return (
            f"CriteoConnectionConfig(conn_id={self.conn_id!r}, client_id={self.client_id!r}, "
            f"client_secret='***', base_url={self.base_url!r}, api_version={self.api_version!r}, "
            f"advertiser_id={self.advertiser_id!r}, data_transfer_consent={self.data_transfer_consent}, "
            f"ca_bundle={self.ca_bundle!r})"
        )

    @classmethod
    def from_connection(cls, conn: Connection) -> CriteoConnectionConfig:
        """Read and validate an Airflow connection of type ``criteo``."""
        extra = conn.extra_dejson
        if not conn.login:
            raise CriteoConfigurationError(
                f"Criteo connection {conn.conn_id!r} has no client id: set its Login (Client ID) field."
            )
        if not conn.password:
            raise CriteoConfigurationError(
                f"Criteo connection {conn.conn_id!r} has no client secret: set its Password "
                "(Client Secret) field."
            )
        return cls(
            conn_id=conn.conn_id,
            client_id=conn.login,
            client_secret=conn.password,
            base_url=base_url(conn.conn_id, conn.host, conn.port),
            api_version=api_version(conn.conn_id, extra.get("api_version")),
            advertiser_id=advertiser_id(conn.conn_id, extra.get("advertiser_id")),
            data_transfer_consent=to_bool(
                conn.conn_id, "data_transfer_consent", extra.get("data_transfer_consent")
            ),
            ca_bundle=extra.get("ca_bundle") or None,
        )


def base_url(conn_id: str, host: str | None, port: int | None) -> str:
    """Build the API root from the connection's host (with or without scheme) and port."""
    if not host:
        return DEFAULT_HOST
    url = host if "://" in host else f"https://{host}"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CriteoConfigurationError(
            f"Criteo connection {conn_id!r} has host {host!r}: use a URL such as {DEFAULT_HOST}."
        )
    if port and parts.port is None:
        url = f"{parts.scheme}://{parts.netloc}:{port}{parts.path}"
    return url.rstrip("/")


def api_version(conn_id: str, value: Any) -> str:
    """Validate the ``api_version`` extra (``YYYY-MM``), defaulting to the current stable version."""
    if value in (None, ""):
        return DEFAULT_API_VERSION
    text = str(value).strip()
    if not _API_VERSION.match(text):
        raise CriteoConfigurationError(
            f"Criteo connection {conn_id!r} has api_version {text!r}: use a version such as "
            f"{DEFAULT_API_VERSION!r}."
        )
    return text


def advertiser_id(conn_id: str, value: Any) -> str | None:
    """Validate an advertiser id: Criteo's ids are numeric, sent as strings."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if not _ADVERTISER_ID.match(text):
        raise CriteoConfigurationError(
            f"Criteo connection {conn_id!r} has advertiser_id {text!r}: Criteo advertiser ids are numeric."
        )
    return text


def to_bool(conn_id: str, field: str, value: Any) -> bool:
    """Read a boolean extra given as JSON (``true``) or as a URI string (``"true"``, ``"1"``)."""
    if isinstance(value, bool):
        return value
    text = "" if value is None else str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise CriteoConfigurationError(f"Criteo connection {conn_id!r} has {field}={value!r}: use true or false.")
