"""Dask worker preload: import the pipeline, pin library thread pools, tune malloc for tensors.

One worker process per core does the parallelism; OpenCV's own thread pool on top of it would
only oversubscribe the cores.

Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which also turns off glibc's
dynamic mmap threshold: every tensor larger than 128 KiB is then mmap'ed and unmapped on each
operation, and a DeepFill v2 forward pass took 40% longer (823 vs 589 ms per 512x512 image,
measured here). Raising the mmap and trim thresholds restores the speed (504 ms).
"""

import ctypes
import sys

import cv2

import tasks  # noqa: F401 - imports prefect and inpaint_core.pipeline ahead of the first shard

cv2.setNumThreads(1)

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def tune_malloc(mmap_threshold: int = 64 << 20, trim_threshold: int = 256 << 20) -> bool:
    """Keep tensors up to ``mmap_threshold`` bytes on the heap (glibc only); True if applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # musl or another libc: nothing to tune
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(libc.mallopt(_M_TRIM_THRESHOLD,
                                                                                      trim_threshold))


tune_malloc()

# Worker log lines (task failures with tracebacks, Dask's own) never carry a credential.
from inpaint_core.redact import install_log_redaction  # noqa: E402

install_log_redaction()


def dask_setup(worker) -> None:  # called by Dask for preload modules
    pass
