"""A tqdm progress bar fed by the restore flow as shards finish (CLI only)."""

from __future__ import annotations


class ShardProgress:
    """Callable hook for :data:`flows.restore.PROGRESS_HOOKS`.

    Prefect may serialise the flow's context when it submits tasks to Dask; the bar (which wraps
    the terminal's stream) must not travel with it, so a pickled copy is an inert hook.
    """

    def __init__(self, enabled: bool = True):
        self.enabled, self.bar = enabled, None

    def __call__(self, summary: dict) -> None:
        if self.enabled and self.bar is None:  # first shard: after the server's and cluster's start-up lines
            from tqdm import tqdm

            self.bar = tqdm(unit="img", desc="restore", dynamic_ncols=True)
        if self.bar is not None:
            self.bar.update(summary["images"])
            self.bar.set_postfix(ok=summary["ok"], failed=summary["failed"], up_to_date=summary["up_to_date"])

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __reduce__(self):
        return (ShardProgress, (False,))
