"""Where mirror state lives, and how its files are written and read.

Criteo cannot list an audience's members, so a mirror export diffs the segment against the member
list its last successful run committed. Per (advertiser, audience, identifier type, hashing) a folder
holds:

- ``v00000001.snap`` ...: immutable, versioned snapshots of sorted keys (32-byte digests, or the values
  of a type sent as it is), created exclusively so that two runs cannot commit one version;
- ``intent-*.snap``: what a run may add or remove, written before its first request;
- ``fence-*.json``: the leases runs took, numbered (the fencing tokens), and what the newest one knows
  of the list (its committed version, its pending intents);
- ``lock``: the lease as versions 0.1 and earlier kept it, written too so that they keep out.

How runs take turns and which file means what is :mod:`airflow_provider_criteo.sync.protocol`; this
module only stores. Files are compact binary (a JSON header, then raw keys, then the SHA-256 of
every byte before it): any damaged byte is a :class:`SnapshotCorruptError`, never an empty
audience. Files are private to the worker's user (0600, folders 0700), and a temporary file a failed
write leaves is removed, by the write itself or by the next run. The location is any
``ObjectStoragePath`` (a local folder by default; ``s3://`` or ``gs://`` when workers are distributed).
On a local or network filesystem, exclusive creation and renames are atomic; object stores write whole
objects atomically, but their exclusive creation is check-then-write.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from airflow.sdk import ObjectStoragePath

from airflow_provider_criteo.exceptions import CriteoConfigurationError, SnapshotCorruptError
from airflow_provider_criteo.identifiers.values import DIGEST_DTYPE, DIGEST_SIZE
from airflow_provider_criteo.segments.key_files import KeyFile, chunks, open_private
from airflow_provider_criteo.sync.executors import remote_executors

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping, Sequence

    from airflow_provider_criteo.segments.key_files import Keys, Spilling

#: Format 1: a JSON header with the keys' checksum, then the keys. Still read, never written.
MAGIC = b"CRITEOSNAP\n"
#: Format 2: the same header and keys, then the SHA-256 of every byte before it: nothing escapes it.
MAGIC_2 = b"CRITEOSNAP2\n"
CHECKSUM_SIZE = 32
#: Bytes read at a time when a large state file is checked or copied.
BLOCK = 4 * 2**20
FILE_MODE = 0o600
FOLDER_MODE = 0o700
TEMP_SUFFIX = ".tmp"
#: A temporary file older than this was left by a killed write (a live one takes milliseconds to seconds).
TEMP_MAX_AGE = 600.0
#: What a damaged or missing piece of state allows a person to do safely: one run that starts over.
SAFE_REPAIR = (
    "Do not delete it: the next run would trust older state and leave people in the audience. Run the "
    "export once with sync_mode='replace', which wipes the audience and adds the segment, exact."
)


@dataclass(frozen=True)
class SnapshotKey:
    """Which member list: one audience, one identifier type, one hashing."""

    advertiser_id: str
    audience_id: str
    identifier_type: str = "email"
    hashing: str = "sha256"

    @property
    def parts(self) -> tuple[str, ...]:
        """Folder names under the store's root."""
        return (
            f"advertiser={self.advertiser_id}",
            f"audience={self.audience_id}",
            f"{self.identifier_type}-{self.hashing}",
        )


@dataclass(frozen=True)
class Snapshot:
    """A committed member set: sorted, distinct keys (digests, or the values of a type sent as it is).

    ``encoding`` is what the keys are, as the committing run recorded it (None in files written before
    encodings were recorded): a run never diffs against keys of another encoding as if they were its own.
    """

    version: int
    digests: Keys
    encoding: str | None = None
    #: When it was committed (Unix seconds), as the file records it.
    committed_at: float | None = None
    #: How many of its members Criteo counted invalid when they were added (None: not known).
    refused: int | None = None
    #: The intents its commit retired (their files are deleted after the commit).
    retired: tuple[str, ...] = ()


@dataclass(frozen=True)
class Intent:
    """What one run may have changed at Criteo before committing."""

    name: str
    adds: Keys
    removes: Keys


def empty_digests(dtype: np.dtype[Any] | str = DIGEST_DTYPE) -> np.ndarray:
    """An empty key array: of digests by default."""
    return np.empty(0, dtype=dtype)


def encode(sections: dict[str, np.ndarray], **meta: Any) -> bytes:
    """Serialise named key arrays of one width with a header and a checksum of the whole file."""
    return b"".join(encoded(sections, **meta))


def encoded(sections: Mapping[str, Keys], **meta: Any) -> Iterator[bytes]:
    """The bytes of a state file, part by part: named key sets of one width (in memory or on disk), a
    header, and the checksum of every byte before it, computed as the parts go by.

    Keys are 32-byte digests, or the values of an identifier type sent as it is (its own width).
    """
    widths = {np.dtype(keys.dtype).itemsize for keys in sections.values()}
    if len(widths) != 1:
        raise ValueError(f"the sections of one file hold keys of one width, not {sorted(widths)}")
    counts = {name: len(keys) for name, keys in sections.items()}
    head = json.dumps({"sections": counts, "width": widths.pop(), **meta}, sort_keys=True).encode()
    checksum = hashlib.sha256()
    for part in _parts_of(head, sections.values()):
        checksum.update(part)
        yield part
    yield checksum.digest()


def _parts_of(head: bytes, sections: Iterable[Keys]) -> Iterator[bytes]:
    yield MAGIC_2 + len(head).to_bytes(4, "big") + head
    for keys in sections:
        for part in chunks(keys):
            yield np.ascontiguousarray(part).tobytes()


def decode(data: bytes, where: str, *required: str) -> dict[str, np.ndarray]:
    """Read the key arrays :func:`encode` wrote, refusing anything damaged or lacking a ``required`` one."""
    return decode_with_header(data, where, *required)[0]


def decode_with_header(
    data: bytes, where: str, *required: str
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read what :func:`encode` wrote, the key arrays and the header; any damage is a SnapshotCorruptError.

    So is a file whose checksum holds but that lacks a ``required`` section (another kind of state file
    copied over it).
    """
    with _damage_is_corruption(where):
        sections, header = _decode(data)
        _check_required(sections, required)
        return sections, header


@contextlib.contextmanager
def _damage_is_corruption(where: str) -> Iterator[None]:
    """Turn what reading a damaged state file raises into a :class:`SnapshotCorruptError` naming it."""
    try:
        yield
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError) as err:
        raise SnapshotCorruptError(f"State file {where} is damaged ({err}). {SAFE_REPAIR}") from None


def _check_required(sections: Mapping[str, Keys], required: Sequence[str]) -> None:
    """Refuse a file whose checksum holds but that lacks a ``required`` section."""
    missing = [name for name in required if name not in sections]
    if missing:
        raise ValueError(f"no {', '.join(missing)} section")


def _layout(header: dict[str, Any], size: int) -> list[tuple[str, str, int, int]]:
    """Where each section the header names lies in a payload of ``size`` bytes: its name, key dtype,
    offset and count; a header that does not lay out the payload exactly is refused."""
    width = int(header.get("width", DIGEST_SIZE))  # files written before other widths hold digests
    if width < 1:
        raise ValueError(f"key width {width}")
    layout, offset = [], 0
    for name, count in header["sections"].items():
        length = int(count) * width
        if length < 0 or offset + length > size:
            raise ValueError("payload size mismatch")
        layout.append((str(name), f"S{width}", offset, int(count)))
        offset += length
    if offset != size:
        raise ValueError("payload size mismatch")
    return layout


def _decode(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    view = memoryview(data)  # the keys are read in place, not copied
    if data.startswith(MAGIC_2):
        if len(data) < len(MAGIC_2) + 4 + CHECKSUM_SIZE:
            raise ValueError("truncated")
        if hashlib.sha256(view[:-CHECKSUM_SIZE]).digest() != data[-CHECKSUM_SIZE:]:
            raise ValueError("checksum mismatch")
        header, payload = _parts(view[:-CHECKSUM_SIZE], len(MAGIC_2))
    elif data.startswith(MAGIC):
        header, payload = _parts(view, len(MAGIC))
        if header.get("format") != 1 or hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise ValueError("checksum mismatch")
    else:
        raise ValueError("not a snapshot file")
    sections = {
        name: np.frombuffer(payload[offset:], dtype=dtype, count=count)
        for name, dtype, offset, count in _layout(header, len(payload))
    }
    return sections, header


def _parts(view: memoryview, start: int) -> tuple[dict[str, Any], memoryview]:
    """The JSON header after the magic and its length, and the bytes after it."""
    head_size = int.from_bytes(view[start : start + 4], "big")
    header = json.loads(bytes(view[start + 4 : start + 4 + head_size]))
    if not isinstance(header, dict):
        raise ValueError("the header is not an object")
    return header, view[start + 4 + head_size :]


def snapshot_of(sections: Mapping[str, Keys], header: dict[str, Any], version: int) -> Snapshot:
    """A committed snapshot from the sections and the header of its file."""
    encoding, committed_at, refused, retired = (
        header.get("encoding"),
        header.get("committed_at"),
        header.get("refused"),
        header.get("retired"),
    )
    return Snapshot(
        version,
        sections["members"],
        encoding if isinstance(encoding, str) else None,
        float(committed_at) if isinstance(committed_at, int | float) else None,
        refused if isinstance(refused, int) and not isinstance(refused, bool) else None,
        tuple(name for name in retired if isinstance(name, str)) if isinstance(retired, list) else (),
    )


def decode_file(path: str, where: str, *required: str) -> tuple[Mapping[str, Keys], dict[str, Any]]:
    """Check a local state file in one streaming pass, then give its sections as key files in it.

    The same checks as :func:`decode_with_header`, without holding the file in memory: a file too
    large for the memory budget is read back in chunks, where it lies.
    """
    with _damage_is_corruption(where), open(path, "rb") as handle:
        if handle.read(len(MAGIC_2)) != MAGIC_2:
            handle.seek(0)
            return decode_with_header(handle.read(), where, *required)  # format 1: small, older
        size = os.fstat(handle.fileno()).st_size
        if size < len(MAGIC_2) + 4 + CHECKSUM_SIZE:
            raise ValueError("truncated")
        checksum = hashlib.sha256(MAGIC_2)
        left = size - CHECKSUM_SIZE - len(MAGIC_2)
        while left:
            block = handle.read(min(BLOCK, left))
            if not block:
                raise ValueError("truncated")
            checksum.update(block)
            left -= len(block)
        if checksum.digest() != handle.read(CHECKSUM_SIZE):
            raise ValueError("checksum mismatch")
        handle.seek(len(MAGIC_2))
        head_size = int.from_bytes(handle.read(4), "big")
        header = json.loads(handle.read(head_size))
        if not isinstance(header, dict):
            raise ValueError("the header is not an object")
        start = len(MAGIC_2) + 4 + head_size
        sections: dict[str, Keys] = {
            name: KeyFile(path, dtype, count, start + offset)
            for name, dtype, offset, count in _layout(header, size - CHECKSUM_SIZE - start)
        }
        _check_required(sections, required)
        return sections, header


class SnapshotStore:
    """The mirror state of every audience under one root location: paths, and atomic, private file I/O.

    :param location: a local folder or any ``ObjectStoragePath`` URL (``file://``, ``s3://``, ...).
    :param default: the location is the default one under ``$AIRFLOW_HOME`` (no setting chose it).
    :param spilling: where a state file too large for the memory budget is read from in chunks (a
        remote one is copied there first); None reads every file whole.
    """

    def __init__(
        self,
        location: str | os.PathLike[str] | ObjectStoragePath,
        *,
        default: bool = False,
        spilling: Spilling | None = None,
    ) -> None:
        self.root = location if isinstance(location, ObjectStoragePath) else ObjectStoragePath(str(location))
        self.local = self.root.protocol in ("", "file")
        self.default = default
        self.spilling = spilling

    def with_spilling(self, spilling: Spilling | None) -> SnapshotStore:
        """The same store, reading its large files through ``spilling`` (one export's)."""
        return SnapshotStore(self.root, default=self.default, spilling=spilling)

    @classmethod
    def from_config(cls, location: str | None = None) -> SnapshotStore:
        """The store at ``location``, else ``[criteo] snapshot_location``, else under ``$AIRFLOW_HOME``."""
        from airflow.configuration import AIRFLOW_HOME, conf

        location = location or conf.get("criteo", "snapshot_location", fallback=None)
        if not location:
            return cls(os.path.join(AIRFLOW_HOME, "criteo", "snapshots"), default=True)
        return cls(os.path.expanduser(location) if "://" not in location else location)

    def check_shared(self) -> None:
        """Refuse the default location, under each worker's own ``$AIRFLOW_HOME``, when tasks may run on
        other machines (a Celery, Kubernetes or Edge executor): each worker would keep its own state and
        diff against a stale one."""
        if not (self.default and self.local):
            return
        remote = remote_executors()
        if remote:
            raise CriteoConfigurationError(
                f"Mirror state would live under this worker's own $AIRFLOW_HOME ({self.root.path}), while "
                f"the {', '.join(remote)} runs tasks on other machines: each worker would diff against its "
                "own, stale state and leave people in audiences. Nothing was sent. Point [criteo] "
                "snapshot_location (AIRFLOW__CRITEO__SNAPSHOT_LOCATION) at storage every worker reaches: "
                "an s3:// or gs:// URL, or a shared filesystem."
            )

    # ------------------------------------------------------------------------------- paths

    def folder(self, key: SnapshotKey, *, create: bool = True) -> ObjectStoragePath:
        """The folder of one member list (made, private, when ``create``)."""
        folder = self.root.joinpath(*key.parts)
        if create and not folder.exists():
            if self.local:
                _make_private(folder.path)
            else:
                folder.mkdir(parents=True, exist_ok=True)
        return folder

    def names(self, key: SnapshotKey) -> list[str]:
        """The file names in a member list's folder, sorted (none when it does not exist)."""
        folder = self.root.joinpath(*key.parts)
        return sorted(path.name for path in folder.iterdir()) if folder.exists() else []

    @staticmethod
    def versions(names: list[str]) -> list[int]:
        """The committed snapshot versions among a folder's file names, in order."""
        return sorted(
            int(name[1:-5])
            for name in names
            if name.startswith("v") and name.endswith(".snap") and name[1:-5].isdigit()
        )

    @staticmethod
    def version_name(version: int) -> str:
        """The file name of a snapshot version."""
        return f"v{version:08d}.snap"

    @staticmethod
    def new_intent_name() -> str:
        """A fresh intent file name, ordered by time."""
        return f"intent-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.snap"

    @staticmethod
    def intent_names(names: list[str]) -> list[str]:
        """The intent files among a folder's file names."""
        return [name for name in names if name.startswith("intent-") and name.endswith(".snap")]

    # ------------------------------------------------------------------------------- reading

    def read(self, key: SnapshotKey, name: str) -> bytes:
        """A file's bytes."""
        return (self.folder(key, create=False) / name).read_bytes()

    def read_sections(
        self, key: SnapshotKey, name: str, where: str, *required: str
    ) -> tuple[Mapping[str, Keys], dict[str, Any]]:
        """A state file's checked key sets and header: arrays, or past the memory budget key files."""
        path = self.folder(key, create=False) / name
        spilling = self.spilling
        if spilling is None:
            return decode_with_header(path.read_bytes(), where, *required)
        if not self.local:
            return decode_file(_copy_to(path, spilling), where, *required)
        if os.path.getsize(path.path) <= spilling.budget:
            return decode_with_header(path.read_bytes(), where, *required)
        return decode_file(path.path, where, *required)

    def read_snapshot(self, key: SnapshotKey, name: str, where: str, version: int) -> Snapshot:
        """One committed snapshot."""
        return snapshot_of(*self.read_sections(key, name, where, "members"), version)

    def read_intent(self, key: SnapshotKey, name: str) -> Intent:
        """One intent file."""
        where = f"{self.root.joinpath(*key.parts)}/{name}"
        sections = self.read_sections(key, name, where, "adds", "removes")[0]
        return Intent(name, sections["adds"], sections["removes"])

    def has_history(self, key: SnapshotKey) -> bool:
        """Whether a member list was ever committed or has an uncommitted run's intent (no folder made)."""
        names = self.names(key)
        return bool(self.versions(names) or self.intent_names(names))

    def audiences(self, advertiser_id: str) -> list[str]:
        """The ids of the advertiser's audiences that have state here: audiences exports managed."""
        folder = self.root.joinpath(f"advertiser={advertiser_id}")
        if not folder.exists():
            return []
        found = (path.name for path in folder.iterdir())
        return sorted(name.removeprefix("audience=") for name in found if name.startswith("audience="))

    def lists(self, advertiser_id: str, audience_id: str) -> list[SnapshotKey]:
        """The member lists an audience has state for."""
        folder = self.root.joinpath(f"advertiser={advertiser_id}", f"audience={audience_id}")
        if not folder.exists():
            return []
        keys = []
        for path in sorted(folder.iterdir(), key=lambda p: p.name):
            kind, _, hashing = path.name.rpartition("-")
            if kind and hashing:
                keys.append(SnapshotKey(advertiser_id, audience_id, kind, hashing))
        return keys

    # ------------------------------------------------------------------------------- writing

    def create_exclusive(self, key: SnapshotKey, name: str, data: bytes | Iterable[bytes]) -> bool:
        """Create a file with ``data`` unless it exists; atomic on local and network filesystems."""
        path = self.folder(key) / name
        if not self.local:
            if path.exists():
                return False
            _write_remote(path, data)
            return True
        temp = _write_temp(path.path, data)
        try:
            os.link(temp, path.path)
        except FileExistsError:
            return False
        finally:
            os.unlink(temp)
        return True

    def write_atomic(self, key: SnapshotKey, name: str, data: bytes | Iterable[bytes]) -> None:
        """Replace a file with ``data`` so readers see the old or the new content, never a mix."""
        path = self.folder(key) / name
        if not self.local:
            _write_remote(path, data)
            return
        temp = _write_temp(path.path, data)
        try:
            os.replace(temp, path.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    def remove(self, key: SnapshotKey, name: str) -> None:
        """Delete a file (gone already is fine)."""
        (self.folder(key, create=False) / name).unlink(missing_ok=True)

    def make_private(self, key: SnapshotKey) -> None:
        """Make a local list's folders 0700 and files 0600: 0.1 and earlier left them readable to all."""
        if not self.local:
            return
        folder = self.root.joinpath(*key.parts)
        for part in range(len(key.parts)):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.root.joinpath(*key.parts[: part + 1]).path, FOLDER_MODE)
        for name in self.names(key):
            with contextlib.suppress(FileNotFoundError):  # a temporary file renamed meanwhile
                os.chmod((folder / name).path, FILE_MODE)

    def remove_temporary(self, key: SnapshotKey, older_than: float = TEMP_MAX_AGE) -> int:
        """Delete the temporary files killed writes left in a list's folder; return how many.

        Only files older than ``older_than`` seconds: a younger one may be another run's write under way.
        """
        folder = self.root.joinpath(*key.parts)
        now = time.time()
        stale = [
            name
            for name in self.names(key)
            if name.endswith(TEMP_SUFFIX) and now - _modified(folder / name, now) > older_than
        ]
        for name in stale:
            self.remove(key, name)
        return len(stale)

    def delete_audience(self, advertiser_id: str, audience_id: str) -> int:
        """Delete every file of an audience's state; return the number of files removed."""
        folder = self.root.joinpath(f"advertiser={advertiser_id}", f"audience={audience_id}")
        if not folder.exists():
            return 0
        files = [p for p in folder.rglob("*") if p.is_file()]
        for path in files:
            path.unlink()
        with contextlib.suppress(OSError):
            folder.rmdir(recursive=True)
        return len(files)


def _make_private(path: str) -> None:
    """Make a local folder and the missing ones above it, each private (0700): the umask is not asked."""
    parent = os.path.dirname(path)
    if parent != path and not os.path.isdir(parent):
        _make_private(parent)
    with contextlib.suppress(FileExistsError):  # another run made it meanwhile
        os.mkdir(path, FOLDER_MODE)
        os.chmod(path, FOLDER_MODE)


def _modified(path: ObjectStoragePath, default: float) -> float:
    """When a file was last written; ``default`` when it is gone (a write under way renamed it)."""
    try:
        return float(path.stat().st_mtime)
    except FileNotFoundError:
        return default


def _pieces(data: bytes | Iterable[bytes]) -> Iterable[bytes]:
    return [data] if isinstance(data, bytes) else data


def _write_remote(path: ObjectStoragePath, data: bytes | Iterable[bytes]) -> None:
    """Write an object from its parts (an object store makes it visible whole, once closed)."""
    with path.open("wb") as handle:
        for piece in _pieces(data):
            handle.write(piece)


def _copy_to(path: ObjectStoragePath, spilling: Spilling) -> str:
    """Copy a remote state file into the spill folder, block by block; return the copy's path."""
    copy = spilling.folder.new_path("state")
    with path.open("rb") as source, os.fdopen(open_private(copy), "wb") as target:
        while block := source.read(BLOCK):
            target.write(block)
    return copy


def _write_temp(final: str, data: bytes | Iterable[bytes]) -> str:
    """Write ``data`` (bytes, or its parts in order) durably to a private temporary file beside
    ``final``; return its path.

    A write that fails (a full disk) removes its temporary file before raising.
    """
    temp = f"{final}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
    descriptor = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            for piece in _pieces(data):
                handle.write(piece)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return temp
