"""Choice of the Dask cluster behind a flow, by configuration only.

In order of precedence (the function's arguments first, then the environment):

1. an existing cluster's scheduler: ``address`` / ``INPAINT_DASK_ADDRESS``;
2. a cluster class by import path, created for the flow run and closed after it:
   ``INPAINT_DASK_CLUSTER`` (e.g. ``dask_kubernetes.operator.KubeCluster``,
   ``dask_jobqueue.SLURMCluster``, ``dask_cuda.LocalCUDACluster``) with its keyword arguments as
   JSON in ``INPAINT_DASK_CLUSTER_KWARGS`` and, for an adaptive cluster, ``INPAINT_DASK_ADAPT_KWARGS``
   (e.g. ``{"minimum": 1, "maximum": 20}``);
3. a LocalCluster of ``n_workers`` / ``INPAINT_DASK_WORKERS`` single-threaded worker processes
   (default: one per core).
"""

from __future__ import annotations

import contextlib
import json
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


def _json_env(name: str) -> dict:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{name} is not valid JSON ({exc}): {raw!r}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a JSON object, got {raw!r}")
    return value


def make_task_runner(address: str | None = None, n_workers: int | None = None,
                     cluster_class: str | None = None, cluster_kwargs: dict | None = None,
                     adapt_kwargs: dict | None = None) -> DaskTaskRunner:
    address = address or os.environ.get("INPAINT_DASK_ADDRESS") or None
    if address:
        return WorkerAwareDaskTaskRunner(address=address)
    cluster_class = cluster_class or os.environ.get("INPAINT_DASK_CLUSTER") or None
    if cluster_class:
        # prefect-dask imports the class here: a missing package (dask-kubernetes, dask-jobqueue)
        # fails when the flow module is loaded, with the import error, not mid-run.
        return WorkerAwareDaskTaskRunner(
            cluster_class=cluster_class,
            cluster_kwargs=cluster_kwargs if cluster_kwargs is not None else _json_env("INPAINT_DASK_CLUSTER_KWARGS"),
            adapt_kwargs=adapt_kwargs if adapt_kwargs is not None else (_json_env("INPAINT_DASK_ADAPT_KWARGS") or None))
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
