"""Prefect tasks: thin wrappers around :mod:`inpaint_core` (no logic of their own)."""

from .restore import (finish_shard_task, inpaint_shard_task, plan_shard_task, prepare_shard_task,
                      restore_shard_task, worker_name)

__all__ = ["prepare_shard_task", "inpaint_shard_task", "finish_shard_task", "restore_shard_task",
           "plan_shard_task", "worker_name"]
