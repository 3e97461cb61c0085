"""Storage through fsspec URLs: plain paths, ``file://``, ``s3://`` (s3fs), ``memory://``.

Keys are always POSIX paths relative to a root. They are checked before use so that a key
from a listing or a list file can never resolve outside its root (``..``, absolute paths).
Writes are atomic: a reader never sees a partial object (temp file + rename on local disks;
S3 PUTs are atomic by themselves).
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import uuid
from dataclasses import dataclass, field
from typing import Any

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .errors import UnsafeKeyError

__all__ = ["Location", "check_source_and_dest", "read_uri", "safe_key", "sha256_hex", "storage_options_from_env"]


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def safe_key(key: str) -> str:
    """Normalise a relative object key and refuse one that escapes its root.

    >>> safe_key("a/b/../c.png")
    'a/c.png'
    """
    if not isinstance(key, str) or not key:
        raise UnsafeKeyError(f"empty object key: {key!r}")
    if "\x00" in key or "\\" in key:
        raise UnsafeKeyError(f"object key has a NUL or backslash: {key!r}")
    if key.startswith("/"):
        raise UnsafeKeyError(f"object key is absolute: {key!r}")
    parts = key.split("/")
    if ".." in parts:
        raise UnsafeKeyError(f"object key contains '..': {key!r}")
    norm = posixpath.normpath(key)
    if norm in (".", "") or norm.startswith("../"):
        raise UnsafeKeyError(f"object key resolves outside its root: {key!r}")
    return norm


def storage_options_from_env(protocol: str) -> dict[str, Any]:
    """Options read from the usual environment, e.g. ``AWS_ENDPOINT_URL`` for MinIO or moto."""
    if protocol in ("s3", "s3a"):
        endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
        return {"endpoint_url": endpoint} if endpoint else {}
    return {}


@dataclass
class Location:
    """A root URL and the filesystem that serves it.

    Picklable (fsspec filesystems are), so it travels to Dask workers as a small argument.
    """

    url: str
    storage_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.url = self.url.rstrip("/") or "/"
        protocol = fsspec.utils.get_protocol(self.url)
        opts = {**storage_options_from_env(protocol), **(self.storage_options or {})}
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **opts)
        self.root = self.root.rstrip("/")
        if self.is_local:  # "a/b/.." and "a" are one folder: compare and join normalised paths
            self.root = posixpath.normpath(self.root)

    # --- paths ---------------------------------------------------------------------------
    @property
    def is_local(self) -> bool:
        return isinstance(self.fs, LocalFileSystem)

    def path(self, key: str) -> str:
        """Filesystem path of a relative key (checked with :func:`safe_key`)."""
        return f"{self.root}/{safe_key(key)}"

    def uri(self, key: str | None = None) -> str:
        """Full URI (with protocol) of a key, or of the root."""
        p = self.root if key is None else self.path(key)
        return self.fs.unstrip_protocol(p)

    def key_of(self, path: str) -> str:
        """Relative key of a filesystem path under this root."""
        path = self.fs._strip_protocol(path)
        prefix = self.root + "/"
        if not path.startswith(prefix):
            raise UnsafeKeyError(f"{path!r} is not under {self.root!r}")
        return path[len(prefix):]

    def child(self, key: str) -> "Location":
        return Location(self.uri(key), dict(self.storage_options))

    def contains(self, other: "Location") -> bool:
        """True when ``other`` is this location or lies under it (same filesystem)."""
        if type(self.fs) is not type(other.fs):
            return False
        return other.root == self.root or other.root.startswith(self.root + "/")

    # --- I/O -----------------------------------------------------------------------------
    def read(self, key: str) -> bytes:
        return self.fs.cat_file(self.path(key))

    def exists(self, key: str) -> bool:
        return self.fs.exists(self.path(key))

    def write_atomic(self, key: str, data: bytes) -> str:
        """Write ``data`` under ``key`` so that readers see all of it or nothing; returns the URI."""
        path = self.path(key)
        if self.is_local:
            directory = posixpath.dirname(path)
            os.makedirs(directory, exist_ok=True)
            tmp = f"{directory}/.tmp-{uuid.uuid4().hex}-{posixpath.basename(path)}"
            try:
                with open(tmp, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            finally:
                if os.path.exists(tmp):
                    os.unlink(tmp)
        else:
            # One PUT: object stores make the object visible only once it is complete.
            self.fs.pipe_file(path, data)
        return self.fs.unstrip_protocol(path)

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self.storage_options = state["storage_options"]
        self.__post_init__()


def read_uri(uri: str, storage_options: dict[str, Any] | None = None) -> bytes:
    """Read a whole object given by its full URI (or plain path)."""
    parent, _, name = uri.rstrip("/").rpartition("/")
    return Location(parent or "/", storage_options or {}).read(name)


def check_source_and_dest(source: Location, dest: Location) -> None:
    """Refuse a destination that is the source or contains it.

    The destination may live under the source (it is then left out of discovery), but never the
    reverse: outputs would land among the inputs.
    """
    if dest.contains(source):
        raise UnsafeKeyError(f"destination {dest.uri()} contains the source {source.uri()}: "
                             "outputs are never written among inputs")
