"""Python entry point for those who prefer it to prefect.yaml: serve the restore flow.

    python -m deployments.deploy            # serves `restore` from this process (Ctrl-C stops)

Needs a Prefect API (``prefect server start`` and ``PREFECT_API_URL``). Dask workers of the
flow's cluster inherit ``PREFECT_API_URL`` from this process's environment.
"""

from __future__ import annotations

from flows.restore import restore


def main() -> None:
    restore.serve(name="restore", tags=["inpaint"], description="Restore a folder or bucket prefix.")


if __name__ == "__main__":
    main()
