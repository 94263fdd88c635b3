"""LiveRamp IdentityLink ids (RampIDs): printable ASCII sent as it is (case kept), up to 128 characters."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from airflow_provider_criteo.identifiers.values import (
    CONTROL_CHARACTERS,
    PreparedChunk,
    Rejection,
    hex_digest_algorithm,
    prepare_each,
    trimmed,
)
from airflow_provider_criteo.segments.member_sets import (
    KeyCodec,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

#: RampIDs are 70 characters; longer values are refused rather than kept in wider snapshots.
MAX_IDENTITY_LINK_LENGTH = 128


_PRINTABLE_ASCII = re.compile(r"[\x21-\x7e]+")


def prepare_identity_link(value: object) -> tuple[str | None, Rejection | None]:
    """An IdentityLink id, trimmed and otherwise as it is, or the reason it is rejected."""
    text, rejection = trimmed(value)
    if text is None:
        return None, rejection
    if len(text) > MAX_IDENTITY_LINK_LENGTH:
        return None, Rejection.TOO_LONG
    if CONTROL_CHARACTERS.search(text):
        return None, Rejection.CONTROL_CHARACTERS
    if any(c.isspace() for c in text):
        return None, Rejection.WHITESPACE
    if hex_digest_algorithm(text.lower()):
        return None, Rejection.UNSUPPORTED_HASH
    return (text, None) if _PRINTABLE_ASCII.fullmatch(text) else (None, Rejection.INVALID_FORMAT)


IDENTITY_LINK_CODEC = KeyCodec.text(MAX_IDENTITY_LINK_LENGTH)


def prepare_identity_links(values: Sequence[object]) -> PreparedChunk:
    """Prepare a chunk of IdentityLink ids."""
    return prepare_each(prepare_identity_link, values)
