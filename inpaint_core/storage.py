"""Storage through fsspec URLs: plain paths, ``file://``, ``s3://`` (s3fs), ``memory://``.

Keys are always POSIX paths relative to a root. They are checked before use so that a key
from a listing or a list file can never resolve outside its root (``..``, absolute paths).
Writes are atomic: a reader never sees a partial object (temp file + rename on local disks;
S3 PUTs are atomic by themselves).

Failures are classified once, here. Transient ones (connection refused or reset, timeouts,
throttling, 5xx) are retried with exponential backoff and jitter, on top of the retries of
botocore and s3fs, which get sane defaults (:data:`S3_DEFAULTS`: connect and read timeouts,
standard retry mode). Permanent ones (missing bucket or object, access denied) are not retried.
Whatever is left is raised as a :class:`~inpaint_core.errors.StorageError` whose message names the
URL and the operation, never a credential.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
import posixpath
import random
import re
import signal
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import fsspec
from fsspec.implementations.local import LocalFileSystem

from .redact import redact as _redact
from .errors import (StorageAccessError, StorageError, StorageNotFoundError, StoragePermanentError,
                     StorageUnavailableError, UnsafeKeyError)

__all__ = ["Location", "RetryPolicy", "S3_DEFAULTS", "check_source_and_dest", "is_transient", "location_of", "read_uri",
           "object_version", "redact", "safe_key", "sha256_hex", "storage_options_from_env"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: s3fs/botocore settings applied under the caller's own options (theirs win, key by key).
#: botocore retries connection errors, timeouts, throttling and 5xx itself (standard mode: exponential
#: backoff with jitter, 3 attempts); s3fs retries timeouts, truncated bodies and SlowDown once more
#: (its default of 5 would multiply every other layer); :class:`RetryPolicy` is the outer layer, with
#: waits long enough to ride out a server restart. Worst case 3 x 2 x 6 requests for one operation.
S3_DEFAULTS: dict[str, Any] = {
    "config_kwargs": {"connect_timeout": 5, "read_timeout": 30,
                      "retries": {"total_max_attempts": 3, "mode": "standard"}},
}
S3FS_RETRIES = 2  # s3fs takes it as an attribute, not an option


@dataclass(frozen=True)
class RetryPolicy:
    """Outer retry loop around every read and write: ``attempts`` tries in all, waits growing from
    ``base_s`` and doubling up to ``max_s``, each drawn between half and all of that (jitter keeps
    many workers from retrying in step). Environment: ``INPAINT_STORAGE_ATTEMPTS``,
    ``INPAINT_STORAGE_BACKOFF_S``, ``INPAINT_STORAGE_BACKOFF_MAX_S`` (workers inherit it).
    """

    attempts: int = 6
    base_s: float = 0.25
    max_s: float = 8.0

    @classmethod
    def from_env(cls) -> "RetryPolicy":
        env = os.environ
        return cls(attempts=max(1, int(env.get("INPAINT_STORAGE_ATTEMPTS", cls.attempts))),
                   base_s=float(env.get("INPAINT_STORAGE_BACKOFF_S", cls.base_s)),
                   max_s=float(env.get("INPAINT_STORAGE_BACKOFF_MAX_S", cls.max_s)))

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (0-based)."""
        cap = min(self.max_s, self.base_s * (2 ** attempt))
        return cap / 2 + random.uniform(0, cap / 2)


_TRANSIENT_ERRNOS = {errno.EBUSY, errno.EAGAIN, errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED,
                     errno.ETIMEDOUT, errno.EPIPE, getattr(errno, "EREMOTEIO", errno.EIO)}
_TRANSIENT_CODES = {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "RequestTimeoutException",
                    "InternalError", "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests"}


def _client_error_status(exc: BaseException) -> tuple[int | None, str | None]:
    """HTTP status and error code of a botocore ``ClientError`` in ``exc`` or its causes."""
    seen = 0
    while exc is not None and seen < 8:
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and "Error" in response:
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            return status, response["Error"].get("Code")
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return None, None


def is_transient(exc: BaseException) -> bool:
    """Whether retrying ``exc`` can help: connection trouble, timeouts, throttling and 5xx do;
    a missing bucket or object, access denied or any other 4xx do not."""
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError,
                        FileExistsError, StoragePermanentError)):
        return False
    status, code = _client_error_status(exc)
    if status is not None or code is not None:
        return code in _TRANSIENT_CODES or (status is not None and (status >= 500 or status in (408, 429)))
    if isinstance(exc, (ConnectionError, TimeoutError, socket.timeout, asyncio.TimeoutError)):
        return True
    names = {c.__name__ for c in type(exc).__mro__}
    # botocore: EndpointConnectionError, ConnectTimeoutError (ConnectionError), ReadTimeoutError,
    # ConnectionClosedError (HTTPClientError), truncated bodies; aiohttp: ClientConnectionError & co.
    if names & {"HTTPClientError", "ConnectionError", "IncompleteRead", "ResponseStreamingError",
                "ClientConnectionError", "ClientPayloadError", "ServerDisconnectedError", "FSTimeoutError"}:
        return True
    return isinstance(exc, OSError) and exc.errno in _TRANSIENT_ERRNOS


_SECRET_OPTION = re.compile(r"(secret|token|password|passwd|key|credential)", re.I)


def redact(text: str, storage_options: dict[str, Any] | None = None) -> str:
    """``text`` without credentials: :func:`inpaint_core.redact.redact` (environment credentials,
    ``user:password@`` in URLs, key shapes), plus any value of a secret-looking option, however short."""
    text = _redact(text, storage_options=storage_options)
    for value in _secret_values(storage_options or {}):
        text = text.replace(value, "***")
    return text


def _secret_values(options: dict[str, Any]) -> list[str]:
    out = []
    for k, v in options.items():
        if isinstance(v, dict):
            out += _secret_values(v)
        elif isinstance(v, str) and len(v) >= 4 and _SECRET_OPTION.search(str(k)):
            out.append(v)
    return out


def _storage_error(op: str, url: str, exc: BaseException, attempts: int,
                   storage_options: dict[str, Any]) -> StorageError:
    status, code = _client_error_status(exc)
    detail = redact(f"{type(exc).__name__}: {exc}", storage_options)
    if isinstance(exc, PermissionError) or code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch",
                                                    "ExpiredToken", "AllAccessDisabled"):
        cls, what = StorageAccessError, "access denied (check the credentials and the bucket policy)"
    elif isinstance(exc, FileNotFoundError) or code in ("NoSuchBucket", "NoSuchKey", "404"):
        cls, what = StorageNotFoundError, "not found (no such bucket, folder or object)"
    elif is_transient(exc):
        cls, what = StorageUnavailableError, f"storage unavailable after {attempts} attempt(s)"
    else:
        cls, what = StoragePermanentError, "failed"
    return cls(f"{op} {redact(url, storage_options)}: {what} [{detail}]", url=url,
               transient=cls is StorageUnavailableError)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# What a listing or a HEAD says changes whenever an object's bytes are replaced: an object store's
# ETag (S3, Azure) or generation (GCS), else the modification time; a local file adds its inode,
# which an atomic replace (write to a temporary name, rename) always changes.
_VERSION_FIELDS = ("ETag", "etag", "generation", "md5Hash", "mtime", "LastModified", "last_modified")


def object_version(info: dict[str, Any]) -> str | None:
    """A short text that changes when the object described by ``info`` (an fsspec listing entry
    or ``info()`` answer) is replaced: its size and the store's change tag. ``None`` when the
    store gives no tag (then whoever compares must read and hash the bytes)."""
    for name in _VERSION_FIELDS:
        tag = info.get(name)
        if tag is not None and tag != "":
            if info.get("ino"):
                tag = f"{tag!r}/{info['ino']}"
            return f"{int(info.get('size') or 0)}:{name}={str(tag).strip(chr(34))}"
    return None


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


def _with_defaults(protocol: str, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` over :data:`S3_DEFAULTS` (for S3), merged one level into ``config_kwargs``."""
    if protocol not in ("s3", "s3a"):
        return options
    config = {**S3_DEFAULTS["config_kwargs"], **(options.get("config_kwargs") or {})}
    return {**S3_DEFAULTS, **options, "config_kwargs": config}


def _fault_point(name: str) -> None:
    """Test hook for crash tests: ``INPAINT_FAULT_AT=<substring>`` kills this process group with
    SIGKILL when a point whose name contains it is reached (a power cut at a precise place)."""
    want = os.environ.get("INPAINT_FAULT_AT")
    if want and want in name:
        os.killpg(os.getpgid(0), signal.SIGKILL)


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
        opts = _with_defaults(protocol, {**storage_options_from_env(protocol), **(self.storage_options or {})})
        self.fs, self.root = fsspec.core.url_to_fs(self.url, **opts)
        if protocol in ("s3", "s3a"):
            self.fs.retries = S3FS_RETRIES
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
    def call(self, op: str, key: str | None, fn: Callable[[], T]) -> T:
        """Run ``fn`` (one storage operation on ``key``) under the retry policy.

        Transient failures are retried with backoff; the last failure, or the first permanent
        one, is raised as a :class:`StorageError` naming the operation and the URL.
        """
        policy = RetryPolicy.from_env()
        for attempt in range(policy.attempts):
            try:
                return fn()
            except StorageError:
                raise
            except Exception as exc:  # noqa: BLE001 - classified right here
                url = self.uri(key) if key else self.uri()
                if not is_transient(exc) or attempt + 1 >= policy.attempts:
                    raise _storage_error(op, url, exc, attempt + 1, self.storage_options) from exc
                wait = policy.delay(attempt)
                log.warning("%s %s: %s, retry %d/%d in %.2f s", op, url,
                            redact(f"{type(exc).__name__}: {exc}", self.storage_options), attempt + 1,
                            policy.attempts - 1, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def read(self, key: str) -> bytes:
        path = self.path(key)
        return self.call("read", key, lambda: self.fs.cat_file(path))

    def version(self, key: str) -> str | None:
        """:func:`object_version` of the object under ``key`` (one HEAD on an object store; a
        missing object raises :class:`StorageNotFoundError`)."""
        path = self.path(key)

        def head() -> dict[str, Any]:
            if not self.is_local:
                self.fs.invalidate_cache(path)  # a listing cached earlier in this process is stale
            return self.fs.info(path)

        return object_version(self.call("check", key, head))

    def exists(self, key: str) -> bool:
        path = self.path(key)
        return self.call("check", key, lambda: self.fs.exists(path))

    def check_reachable(self, must_exist: bool = True) -> None:
        """Fail fast, before any work, when this root cannot be used: a missing bucket, access
        denied, a source root that does not exist. ``must_exist=False`` (a destination) checks
        only the bucket; the root itself is created by the first write."""
        if self.is_local:
            if must_exist and not os.path.isdir(self.root):
                raise StorageNotFoundError(f"list {self.uri()}: not found (no such folder)", url=self.uri())
            return
        target = self.root if must_exist else self.root.split("/", 1)[0]

        def probe() -> None:
            if not self.fs.exists(target):  # exists() hides "access denied" on some stores: ask info()
                self.fs.invalidate_cache(target)
                self.fs.info(target)

        self.call("list", None, probe)

    def write_atomic(self, key: str, data: bytes) -> str:
        """Write ``data`` under ``key`` so that readers see all of it or nothing; returns the URI.

        On a disk the bytes go to a hidden temporary name in the same folder (``.<name>.<id>.tmp``:
        no reader pattern such as ``*.parquet`` or ``*.png`` matches it), are flushed to disk and
        renamed over the final name. On an object store one PUT makes the object visible whole.
        """
        return self.write_versioned(key, data)[0]

    def write_versioned(self, key: str, data: bytes) -> tuple[str, str | None]:
        """:meth:`write_atomic`, also returning the :func:`object_version` of what it wrote, as
        the store reported it for this very write (the PUT's ETag; the temporary file's ``fstat``,
        which the rename keeps): no second request, and never a concurrent writer's version.
        ``None`` where the store does not say (a multipart upload, other object stores)."""
        path = self.path(key)
        version = self.call("write", key, lambda: self._write_once(key, path, data))
        return self.fs.unstrip_protocol(path), version

    def _write_once(self, key: str, path: str, data: bytes) -> str | None:
        if not self.is_local:
            _fault_point(f"publish:{key}")
            out = self.fs.pipe_file(path, data)  # one PUT: visible only once complete
            etag = out.get("ETag") if isinstance(out, dict) else None
            return object_version({"ETag": etag, "size": len(data)}) if etag else None
        directory = posixpath.dirname(path)
        os.makedirs(directory, exist_ok=True)
        tmp = f"{directory}/.{posixpath.basename(path)}.{uuid.uuid4().hex[:12]}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                st = os.fstat(fh.fileno())
            _fault_point(f"publish:{key}")
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _fsync_dir(directory)
        return object_version({"mtime": st.st_mtime, "ino": st.st_ino, "size": st.st_size})

    def sweep_temporaries(self, older_than_s: float = 3600.0) -> int:
        """Delete the temporary files that killed writers left under this root on a disk (hidden
        ``.<name>.<12 hex>.tmp``, as :meth:`write_atomic` names them) once they are older than
        ``older_than_s``: younger ones may be a live writer's. Returns how many it deleted; an
        object store has none (a PUT is whole or absent)."""
        if not self.is_local or not os.path.isdir(self.root):
            return 0
        cutoff, removed = time.time() - older_than_s, 0
        for dirpath, _, files in os.walk(self.root):
            for name in files:
                if not _TEMPORARY.match(name):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    if os.lstat(path).st_mtime < cutoff:
                        os.unlink(path)
                        removed += 1
                except FileNotFoundError:  # renamed or removed by its writer meanwhile
                    continue
        return removed

    def __getstate__(self) -> dict[str, Any]:
        return {"url": self.url, "storage_options": self.storage_options}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.url = state["url"]
        self.storage_options = state["storage_options"]
        self.__post_init__()


_TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{12}\.tmp$")


def _fsync_dir(directory: str) -> None:
    """Make a rename durable (POSIX): the folder entry, not just the file, reaches the disk."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def location_of(uri: str, storage_options: dict[str, Any] | None = None) -> tuple[Location, str]:
    """The location of the folder holding the object at ``uri`` (a full URI or plain path), and its name."""
    parent, sep, name = uri.rstrip("/").rpartition("/")
    return Location(parent or ("/" if sep else "."), storage_options or {}), name  # "f.pth": here


def read_uri(uri: str, storage_options: dict[str, Any] | None = None) -> bytes:
    """Read a whole object given by its full URI (or plain path)."""
    loc, name = location_of(uri, storage_options)
    return loc.read(name)


def check_source_and_dest(source: Location, dest: Location) -> None:
    """Refuse a destination that is the source or contains it.

    The destination may live under the source (it is then left out of discovery), but never the
    reverse: outputs would land among the inputs.
    """
    if dest.contains(source):
        raise UnsafeKeyError(f"destination {dest.uri()} contains the source {source.uri()}: "
                             "outputs are never written among inputs")
