"""Choice of the Dask cluster behind a flow: a LocalCluster by default, an existing one by address.

Configuration, in order: the function's arguments, then the environment
(``INPAINT_DASK_ADDRESS``, ``INPAINT_DASK_WORKERS``), then one single-threaded worker per core.
"""

from __future__ import annotations

import contextlib
import os

from prefect_dask import DaskTaskRunner


class WorkerAwareDaskTaskRunner(DaskTaskRunner):
    """A DaskTaskRunner whose LocalCluster workers report to the same Prefect API as the flow.

    Worker processes inherit only the environment; when the flow runs against a temporary local
    server (no ``PREFECT_API_URL`` set), its URL is put into the environment before the workers
    are spawned, so their task runs reach the flow's server instead of a server of their own.
    """

    def __enter__(self):
        if not os.environ.get("PREFECT_API_URL"):
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                url = str(client.api_url)
            if url.startswith("http") and "ephemeral-prefect" not in url:
                os.environ["PREFECT_API_URL"] = url.rstrip("/")
        return super().__enter__()


def make_task_runner(address: str | None = None, n_workers: int | None = None) -> DaskTaskRunner:
    address = address or os.environ.get("INPAINT_DASK_ADDRESS") or None
    if address:
        return WorkerAwareDaskTaskRunner(address=address)
    n = n_workers or int(os.environ.get("INPAINT_DASK_WORKERS", "0")) or (os.cpu_count() or 1)
    # One thread per worker process: OpenCV, NumPy and the encoders hold the GIL between calls,
    # so processes scale and threads do not.
    # Workers import the pipeline while they start, not inside the first shard.
    return WorkerAwareDaskTaskRunner(cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                                     "preload": ["flows.worker_setup"]})


def cluster_has_gpu(task_runner) -> bool:
    """Whether any worker of the runner's cluster declares the ``GPU`` resource."""
    client = getattr(task_runner, "client", None)
    if client is None:
        return False
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    return any(w.get("resources", {}).get("GPU", 0) > 0 for w in workers.values())


@contextlib.contextmanager
def api_for_workers():
    """Make sure Dask worker processes report to the same Prefect API as this process.

    Workers are separate processes that inherit only the environment. Without ``PREFECT_API_URL``
    each would start a temporary server of its own (seconds of CPU each, and its task runs would
    not show in the UI). With no API configured, start the local temporary server here and hand
    its URL to the workers.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = PREFECT_API_URL.value()
    server = None
    if not url:
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()
        url = server.api_url
    old = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url
    try:
        with temporary_settings({PREFECT_API_URL: url}):
            yield url
    finally:
        if old is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = old
