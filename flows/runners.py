"""Choice of the Dask cluster behind a flow: a LocalCluster by default, an existing one by address.

Configuration, in order: the function's arguments, then the environment
(``INPAINT_DASK_ADDRESS``, ``INPAINT_DASK_WORKERS``), then one single-threaded worker per core.
"""

from __future__ import annotations

import os

from prefect_dask import DaskTaskRunner


def make_task_runner(address: str | None = None, n_workers: int | None = None) -> DaskTaskRunner:
    address = address or os.environ.get("INPAINT_DASK_ADDRESS") or None
    if address:
        return DaskTaskRunner(address=address)
    n = n_workers or int(os.environ.get("INPAINT_DASK_WORKERS", "0")) or (os.cpu_count() or 1)
    # One thread per worker process: OpenCV, NumPy and the encoders hold the GIL between calls,
    # so processes scale and threads do not.
    return DaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


def cluster_has_gpu(task_runner) -> bool:
    """Whether any worker of the runner's cluster declares the ``GPU`` resource."""
    client = getattr(task_runner, "client", None)
    if client is None:
        return False
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return any(w.get("resources", {}).get("GPU", 0) > 0 for w in workers.values())
