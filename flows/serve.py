"""``inpaint serve`` / ``make serve``: the whole operated system on one machine, to watch in the Prefect UI.

Starts (or reuses) a Prefect server, creates the process work pool, deploys the five deployments
(``deployments/deploy.py``), starts a worker, and leaves the watcher deployment polling a local
folder (by default) or a bucket prefix. Copy images into the watched folder and a ``bucket-restore``
run appears in the UI a little after the copy ends.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _healthy(api_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def _stop(proc: subprocess.Popen | None, name: str) -> None:
    if proc is None or proc.poll() is not None:
        return
    print(f"stopping the {name} ...", flush=True)
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)


def start_server(host: str, port: int, timeout: float = 180.0) -> tuple[str, subprocess.Popen | None]:
    """``PREFECT_API_URL`` when set (nothing started), else a ``prefect server start`` subprocess."""
    api = os.environ.get("PREFECT_API_URL")
    if api:
        if not _healthy(api):
            raise RuntimeError(f"PREFECT_API_URL={api} does not answer (is the server up?)")
        return api, None
    api = f"http://{host}:{port}/api"
    if _healthy(api):  # a server of an earlier `inpaint serve` still running
        return api, None
    print(f"starting a Prefect server on http://{host}:{port} (logs: prefect-server.log) ...", flush=True)
    log = open(REPO / "prefect-server.log", "ab")
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + timeout
    while not _healthy(api):
        if proc.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with {proc.returncode}; see prefect-server.log")
        if time.time() > deadline:
            _stop(proc, "Prefect server")
            raise RuntimeError(f"the Prefect server did not answer within {timeout:.0f} s; see prefect-server.log")
        time.sleep(1)
    return api, proc


def serve(watch: str | None = None, dest: str | None = None, *, host: str = "127.0.0.1", port: int = 4200,
          pool: str = "inpaint-process", watch_interval: float = 10.0, debounce: float = 15.0,
          settle: float = 5.0, method: str = "telea", storage_options: dict | None = None) -> int:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    watch = watch or os.environ.get("INPAINT_WATCH_PREFIX") or str(REPO / "serve-data" / "incoming")
    dest = dest or os.environ.get("INPAINT_DEST") or str(REPO / "serve-data" / "restored")
    if "://" not in watch or watch.startswith("file://"):
        os.makedirs(watch.removeprefix("file://"), exist_ok=True)

    api, server = start_server(host, port)
    os.environ["PREFECT_API_URL"] = api
    worker = None
    try:
        from prefect.settings import PREFECT_API_URL, temporary_settings

        from deployments.deploy import NAMES, DeployConfig, deploy_all

        cfg = DeployConfig(watch_prefix=watch, dest=dest, method=method, watch_interval_s=watch_interval,
                           debounce_s=debounce, settle_s=settle, work_pool=pool,
                           storage_options=storage_options if storage_options is not None else DeployConfig().storage_options)
        with temporary_settings({PREFECT_API_URL: api}):
            deploy_all(cfg)
        print(f"deployed {', '.join(NAMES)} to work pool {pool!r}", flush=True)
        worker = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool,
                                   "--type", "process"], cwd=REPO, start_new_session=True,
                                  env={**os.environ, "PREFECT_API_URL": api})
        ui = api.removesuffix("/api")
        print(f"""
Prefect UI:        {ui}   (deployments: {ui}/deployments, runs: {ui}/runs)
watched prefix:    {cfg.prefix_uri()}   (polled every {watch_interval:g} s by watch-incoming)
restored into:     {dest}   (images/, manifest/, runs/ with contact sheets)

Copy images (and their <name>_mask.png masks, masks first) into the watched folder, e.g.
    cp my-scans/*.png {watch}/
About {debounce:g} s after the last file lands, ONE bucket-restore run restores all of them;
copy more later and another run restores just those. nightly-restore runs at {cfg.nightly_cron} and
evaluate-weekly at {cfg.evaluate_cron} ({cfg.timezone}); start either now from its deployment page
("Run"). Ctrl-C stops the worker{' and the server' if server else ''}.
""", flush=True)
        while worker.poll() is None and (server is None or server.poll() is None):
            time.sleep(1)
        print("the worker or the server stopped; shutting down", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(worker, "worker")
        _stop(server, "Prefect server")
