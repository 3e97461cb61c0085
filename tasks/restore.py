"""The restore stages as Prefect tasks, one task run per shard (never per image).

A task run costs about 75 ms of scheduler and API time here (measured with the ephemeral server
and a 2-worker LocalCluster), so stages are grouped the way the data path is: prepare (CPU),
inpaint (the only stage that asks for a GPU), finish (CPU). Without GPU workers the three run as
one task, which saves two task runs and the transfer of the windows between workers.
"""

from __future__ import annotations

import os
import socket

from prefect import task

from inpaint_core.errors import StoragePermanentError

from inpaint_core.pipeline import (finish_shard, inpaint_shard, plan_shard, prepare_shard, restore_shard,
                                   write_shard_manifest)


def retry_unless_permanent(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry a shard (a lost worker, a storage outage past the
    storage layer's own retries), but not a permanent storage error (missing bucket, access
    denied), which would fail the same way again."""
    data = state.data
    if isinstance(data, BaseException):
        return not isinstance(data, StoragePermanentError)
    try:
        state.result(raise_on_failure=True)
    except StoragePermanentError:
        return False
    except BaseException:
        return True
    return True


_SHARD_RETRIES = {"retries": 1, "retry_condition_fn": retry_unless_permanent}


def worker_name() -> str:
    """The Dask worker address when running on one, else ``host:pid``."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return f"{socket.gethostname()}:{os.getpid()}"


@task(name="restore-shard", task_run_name="restore shard {shard}", **_SHARD_RETRIES)
def restore_shard_task(items, config, source, dest, run_id: str, shard: int, index=None) -> dict:
    return restore_shard(items, config, source, dest, run_id, shard, worker_name(), index)


@task(name="prepare-shard", task_run_name="prepare shard {shard}", **_SHARD_RETRIES)
def prepare_shard_task(items, config, source, dest, run_id: str, shard: int, index=None):
    # Full frames stay here; only the windows around holes travel to the inpainting worker.
    return [w.without_frames() for w in prepare_shard(items, config, source, dest, run_id, shard, index)]


@task(name="inpaint-shard", task_run_name="inpaint shard {shard}", **_SHARD_RETRIES)
def inpaint_shard_task(works, config, shard: int):
    return inpaint_shard(works, config, worker_name())


@task(name="finish-shard", task_run_name="finish shard {shard}", **_SHARD_RETRIES)
def finish_shard_task(works, config, source, dest, run_id: str, shard: int) -> dict:
    rows = finish_shard(works, config, source, dest, worker_name())
    return write_shard_manifest(rows, works, dest, run_id, shard)


@task(name="plan-shard", task_run_name="plan shard {shard}", **_SHARD_RETRIES)
def plan_shard_task(items, config, source, dest, shard: int, index=None) -> dict:
    """``--dry-run``: what the shard would do, reading no image."""
    return plan_shard(items, config, source, dest, shard, index)
