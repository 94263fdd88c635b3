"""Mobile advertising ids (IDFA, AAID).

Lower-cased UUIDs sent as they are, kept as their 16 bytes; the all-zero id of a device that limits ad
tracking is refused.
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

from airflow_provider_criteo.identifiers.values import (
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

    import numpy as np


_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


_ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def prepare_madid(value: object) -> tuple[str | None, Rejection | None]:
    """A mobile advertising id as a lower-case UUID with dashes, or the reason it is rejected."""
    text, rejection = trimmed(value)
    if text is None:
        return None, rejection
    text = text.lower()
    if _UUID.fullmatch(text):
        canonical = str(uuid.UUID(hex=text))
        return (None, Rejection.ZERO_AD_ID) if canonical == _ZERO_UUID else (canonical, None)
    if hex_digest_algorithm(text):
        return None, Rejection.UNSUPPORTED_HASH
    return None, Rejection.INVALID_FORMAT


def _uuid_values(keys: np.ndarray) -> list[str]:
    raw = keys.tobytes()  # not the items: numpy would drop trailing zero bytes of a UUID
    return [str(uuid.UUID(bytes=raw[start : start + 16])) for start in range(0, len(raw), 16)]


#: Mobile ad ids kept as their 16 UUID bytes.
MADID_CODEC = KeyCodec(16, lambda value: uuid.UUID(value).bytes, _uuid_values)


def prepare_madids(values: Sequence[object]) -> PreparedChunk:
    """Prepare a chunk of mobile ad ids."""
    return prepare_each(prepare_madid, values)
