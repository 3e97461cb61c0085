"""Dask worker preload: import the pipeline and pin library thread pools once per worker process.

One worker process per core does the parallelism; OpenCV's own thread pool on top of it would
only oversubscribe the cores.
"""

import cv2

import tasks  # noqa: F401 - imports prefect and inpaint_core.pipeline ahead of the first shard

cv2.setNumThreads(1)


def dask_setup(worker) -> None:  # called by Dask for preload modules
    pass
