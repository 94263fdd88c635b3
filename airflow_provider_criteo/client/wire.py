"""Wire encoding of identifiers.

Digests as the JSON array of their lower-case hex forms, built from the bytes.
"""

from __future__ import annotations

import binascii
from typing import TYPE_CHECKING

import numpy as np

from airflow_provider_criteo.identifiers.values import DIGEST_DTYPE, DIGEST_SIZE

if TYPE_CHECKING:
    from collections.abc import Iterator


def hex_json_array(digests: np.ndarray) -> bytes:
    """The JSON array of the digests as lower-case hex strings, encoded straight from the bytes.

    Exactly ``json.dumps(list(hex_identifiers(digests)), separators=(",", ":")).encode()``, without a
    Python string per identifier: 50,000 identifiers take a few milliseconds.
    """
    count = len(digests)
    if not count:
        return b"[]"
    raw = np.ascontiguousarray(digests, dtype=DIGEST_DTYPE).tobytes()
    hexed = np.frombuffer(binascii.hexlify(raw), dtype=np.uint8).reshape(count, 2 * DIGEST_SIZE)
    # Each item is '"' + 64 hex digits + '"' followed by ',' (by ']' for the last one).
    items = np.empty((count, 2 * DIGEST_SIZE + 3), dtype=np.uint8)
    items[:, 0] = items[:, -2] = ord('"')
    items[:, -1] = ord(",")
    items[-1, -1] = ord("]")
    items[:, 1:-2] = hexed
    return b"[" + items.tobytes()


def hex_identifiers(digests: np.ndarray) -> Iterator[str]:
    """Yield each digest of an array (32-byte SHA-256, 16-byte MD5) as the lower-case hex Criteo expects.

    From the array's bytes, not its items: numpy would drop a digest's trailing zero bytes.
    """
    raw = digests.tobytes()
    width = digests.dtype.itemsize
    for start in range(0, len(raw), width):
        yield raw[start : start + width].hex()
