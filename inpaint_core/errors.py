"""Typed exceptions of the library. Every per-image failure is one of these, so a pipeline can
turn it into a readable manifest row (``status='failed'``, ``error=str(exc)``) and go on."""


class InpaintError(Exception):
    """Base class of every error the library raises on purpose."""


class DecodeError(InpaintError):
    """The bytes are not a decodable image (empty, truncated, not an image at all)."""


class UnsupportedImageError(InpaintError):
    """A valid image the pipeline refuses on purpose (e.g. float samples, an animation)."""


class ImageTooLargeError(InpaintError):
    """The image has more pixels than the configured limit (decompression-bomb guard)."""


class MaskError(InpaintError):
    """A mask that cannot be used with its image (wrong size, undecodable, bad list entry)."""


class UnsafeKeyError(InpaintError):
    """An object key that would resolve outside its root (``..``, absolute paths)."""


class SourceChangedError(InpaintError):
    """The source object changed between two reads of the same run."""


class UnknownMethodError(InpaintError, KeyError):
    """No inpainter is registered under that name."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else ""


class CheckpointError(InpaintError):
    """Weights that cannot be used: missing, pickled (refused unread), corrupt, or not matching the model."""


class StorageError(InpaintError):
    """Reading or writing an object failed. The message names the URL and never a credential."""

    def __init__(self, message: str, url: str | None = None, transient: bool = False):
        super().__init__(message)
        self.url, self.transient = url, transient


class StorageUnavailableError(StorageError):
    """A transient failure (connection refused, timeout, throttling, 5xx) outlasted every retry."""


class StoragePermanentError(StorageError):
    """A failure that retrying cannot fix (missing bucket, access denied, bad request)."""


class StorageNotFoundError(StoragePermanentError, FileNotFoundError):
    """The object or bucket does not exist (still a ``FileNotFoundError`` for callers that catch one)."""


class StorageAccessError(StoragePermanentError, PermissionError):
    """Access denied, or credentials refused (still a ``PermissionError``)."""
