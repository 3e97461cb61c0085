"""Python entry point creating the same deployments as ``deployments/prefect.yaml``.

    python -m deployments.deploy                  # all five deployments, configured from the environment
    python -m deployments.deploy --only bucket-restore --only watch-incoming

Needs a Prefect API (``PREFECT_API_URL``; ``inpaint serve`` starts one). The work pool is created
(process type) when it does not exist. Configuration, all optional (``INPAINT_*`` variables):

=============================  ==============================================================
``INPAINT_WATCH_PREFIX``        the watched folder or bucket prefix (default ``./serve-data/incoming``)
``INPAINT_DEST``                where restored images, manifests and the watermark go (``./serve-data/restored``)
``INPAINT_NIGHTLY_SOURCE``      what ``nightly-restore`` restores (default: the watched prefix)
``INPAINT_METHOD``              inpainting method of both restore deployments (``telea``)
``INPAINT_TIMEZONE``            time zone of the cron schedules (``Europe/Berlin``)
``INPAINT_NIGHTLY_CRON``        ``0 2 * * *``; ``INPAINT_EVALUATE_CRON``: ``0 4 * * 0`` (Sunday 04:00)
``INPAINT_WATCH_INTERVAL``      seconds between watcher polls (30)
``INPAINT_DEBOUNCE_SECONDS``    quiet time after the last landed event before ``bucket-restore`` runs (60, >= 10)
``INPAINT_SETTLE_SECONDS``      objects younger than this wait for the next poll (10)
``INPAINT_BENCHMARK_IMAGES``    evaluation images (``../shared/data/bsds500/val``), ``INPAINT_BENCHMARK_MASKS``
                                its masks index; ``INPAINT_BENCHMARK_LIMIT`` first N images; ``INPAINT_EVAL_DEST``
``INPAINT_FID_WEIGHTS``         the weekly evaluation's FID Inception file; ``INPAINT_LPIPS_BACKBONE`` and
                                ``INPAINT_LPIPS_LIN`` its LPIPS files (unset: FID/LPIPS not computed)
``INPAINT_STORAGE_OPTIONS``     fsspec options as JSON, e.g. ``{"endpoint_url": "http://minio:9000"}``;
                                no credentials (refused: deployment parameters are stored in clear)
``INPAINT_WORK_POOL``           work pool name (``inpaint-process``)
``INPAINT_TRAIN_DATA``          ``train-model``'s default training data, comma-separated folders or URLs
                                (``../shared/data/imagenette/train,../shared/data/bsds500/train``)
``INPAINT_TRAIN_DEST``          where its runs go; ``{model}`` becomes the model's name
                                (``./serve-data/training/{model}``)
``INPAINT_TRAIN_WORK_POOL``     the work pool of ``train-model``, e.g. one served on a GPU machine
                                (default: ``INPAINT_WORK_POOL``)
=============================  ==============================================================
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
NAMES = ("nightly-restore", "bucket-restore", "evaluate-weekly", "watch-incoming", "train-model")


def _env(name: str, default: str) -> str:
    return os.environ.get(name) or default


@dataclass
class DeployConfig:
    """What the deployments restore, when, and where they run. Defaults: a local folder on this machine."""

    watch_prefix: str = field(default_factory=lambda: _env("INPAINT_WATCH_PREFIX", str(REPO / "serve-data" / "incoming")))
    dest: str = field(default_factory=lambda: _env("INPAINT_DEST", str(REPO / "serve-data" / "restored")))
    nightly_source: str | None = field(default_factory=lambda: os.environ.get("INPAINT_NIGHTLY_SOURCE") or None)
    method: str = field(default_factory=lambda: _env("INPAINT_METHOD", "telea"))
    timezone: str = field(default_factory=lambda: _env("INPAINT_TIMEZONE", "Europe/Berlin"))
    nightly_cron: str = field(default_factory=lambda: _env("INPAINT_NIGHTLY_CRON", "0 2 * * *"))
    evaluate_cron: str = field(default_factory=lambda: _env("INPAINT_EVALUATE_CRON", "0 4 * * 0"))
    watch_interval_s: float = field(default_factory=lambda: float(_env("INPAINT_WATCH_INTERVAL", "30")))
    debounce_s: float = field(default_factory=lambda: float(_env("INPAINT_DEBOUNCE_SECONDS", "60")))
    settle_s: float = field(default_factory=lambda: float(_env("INPAINT_SETTLE_SECONDS", "10")))
    benchmark_images: str = field(default_factory=lambda: _env(
        "INPAINT_BENCHMARK_IMAGES", str(REPO.parent / "shared" / "data" / "bsds500" / "val")))
    benchmark_masks: str = field(default_factory=lambda: _env(
        "INPAINT_BENCHMARK_MASKS", str(REPO.parent / "shared" / "data" / "masks" / "nvidia_irregular" / "index.csv")))
    benchmark_limit: int | None = field(default_factory=lambda: int(os.environ["INPAINT_BENCHMARK_LIMIT"])
                                        if os.environ.get("INPAINT_BENCHMARK_LIMIT") else None)
    eval_dest: str = field(default_factory=lambda: _env("INPAINT_EVAL_DEST", str(REPO / "serve-data" / "evaluation")))
    fid_weights: str | None = field(default_factory=lambda: os.environ.get("INPAINT_FID_WEIGHTS") or None)
    lpips_backbone: str | None = field(default_factory=lambda: os.environ.get("INPAINT_LPIPS_BACKBONE") or None)
    lpips_lin: str | None = field(default_factory=lambda: os.environ.get("INPAINT_LPIPS_LIN") or None)
    storage_options: dict[str, Any] = field(default_factory=lambda: json.loads(_env("INPAINT_STORAGE_OPTIONS", "{}")))
    work_pool: str = field(default_factory=lambda: _env("INPAINT_WORK_POOL", "inpaint-process"))
    train_data: list[str] = field(default_factory=lambda: [p for p in _env("INPAINT_TRAIN_DATA", ",".join(
        str(REPO.parent / "shared" / "data" / d / "train") for d in ("imagenette", "bsds500"))).split(",") if p])
    train_dest: str = field(default_factory=lambda: _env("INPAINT_TRAIN_DEST",
                                                         str(REPO / "serve-data" / "training" / "{model}")))
    train_work_pool: str = field(default_factory=lambda: os.environ.get("INPAINT_TRAIN_WORK_POOL", ""))
    job_env: dict[str, str] = field(default_factory=dict)  # extra environment of the flow-run processes

    def prefix_uri(self) -> str:
        """The watched prefix as the watcher names it in its events (``file:///...``, ``s3://...``)."""
        from inpaint_core.storage import Location

        return Location(self.watch_prefix, self.storage_options).uri()


def bucket_trigger(cfg: DeployConfig):
    """The debounced trigger of ``bucket-restore``.

    Proactive, with the same event as ``after`` and ``expect`` and a threshold of 1: each landed
    event (re)opens a window of ``debounce_s`` seconds, and the trigger fires when a window
    closes with no further landed event. A burst of uploads, reported over several polls or as
    one S3 notification per object, becomes one run, ``debounce_s`` after the last upload.
    """
    from prefect.events import DeploymentEventTrigger
    from prefect.events.schemas.automations import Posture

    from flows.watch import EVENT

    return DeploymentEventTrigger(
        name="bucket-restore: objects landed (debounced)",
        description=f"{EVENT} under {cfg.prefix_uri()}, then {cfg.debounce_s:g} s without another",
        posture=Posture.Proactive, after={EVENT}, expect={EVENT}, threshold=1,
        within=timedelta(seconds=max(10.0, cfg.debounce_s)),
        match={"prefect.resource.id": f"inpaint.prefix.{cfg.prefix_uri()}"},
        for_each={"prefect.resource.id"},
        parameters={"triggered_by": "{{ event.event }} {{ event.id }} ({{ event.payload.count }} new, "
                                    "last at {{ event.occurred }})"},
    )


def build_deployments(cfg: DeployConfig | None = None, names: tuple[str, ...] = NAMES) -> list:
    """The project's deployments as :class:`prefect.deployments.runner.RunnerDeployment` objects."""
    from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
    from prefect.deployments.runner import EntrypointType
    from prefect.schedules import Cron, Interval

    from flows.bucket import bucket_restore
    from flows.credentials import check_no_credentials
    from flows.evaluate import evaluate
    from flows.restore import restore
    from flows.train import train
    from flows.watch import watch

    cfg = cfg or DeployConfig()
    check_no_credentials(cfg.storage_options, "INPAINT_STORAGE_OPTIONS (the deployments' storage_options)")
    opts = cfg.storage_options or None
    job = {"working_dir": str(REPO), **({"env": cfg.job_env} if cfg.job_env else {})}
    common = dict(work_pool_name=cfg.work_pool, job_variables=job, entrypoint_type=EntrypointType.MODULE_PATH)
    made = {
        "nightly-restore": lambda: restore.to_deployment(
            "nightly-restore", schedules=[Cron(cfg.nightly_cron, timezone=cfg.timezone)], concurrency_limit=1,
            parameters={"source": cfg.nightly_source or cfg.watch_prefix, "dest": cfg.dest, "method": cfg.method,
                        "storage_options": opts},
            description="Restore everything under the source every night (up-to-date images are skipped).",
            tags=["inpaint", "nightly"], **common),
        "bucket-restore": lambda: bucket_restore.to_deployment(
            "bucket-restore", triggers=[bucket_trigger(cfg)], concurrency_limit=1,
            parameters={"source": cfg.watch_prefix, "dest": cfg.dest, "method": cfg.method,
                        "settle_seconds": cfg.settle_s, "storage_options": opts},
            description="Restore the objects that landed under the watched prefix (started by events).",
            tags=["inpaint", "bucket"], **common),
        "evaluate-weekly": lambda: evaluate.to_deployment(
            "evaluate-weekly", schedules=[Cron(cfg.evaluate_cron, timezone=cfg.timezone)], concurrency_limit=1,
            parameters={"methods": [], "images": cfg.benchmark_images, "masks_index": cfg.benchmark_masks,
                        "dest": cfg.eval_dest, "limit": cfg.benchmark_limit, "storage_options": opts,
                        "fid_weights": cfg.fid_weights, "lpips_backbone": cfg.lpips_backbone,
                        "lpips_lin": cfg.lpips_lin},
            description="The evaluation protocol on the configured benchmark, every week.",
            tags=["inpaint", "evaluation"], **common),
        "watch-incoming": lambda: watch.to_deployment(
            "watch-incoming", schedules=[Interval(timedelta(seconds=cfg.watch_interval_s))],
            # a poll that finds the previous one still running is dropped, not queued behind it
            concurrency_limit=ConcurrencyLimitConfig(limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
            parameters={"prefix": cfg.watch_prefix, "dest": cfg.dest, "settle_seconds": cfg.settle_s,
                        "storage_options": opts},
            description="Poll the watched prefix; emit inpaint.object.landed for new objects.",
            tags=["inpaint", "watcher"], **common),
        "train-model": lambda: train.to_deployment(
            "train-model", concurrency_limit=1,
            parameters={"model": "context_encoder", "data": cfg.train_data, "dest": cfg.train_dest,
                        "storage_options": opts},
            description="Train a learned model on demand: Run with model, data, dest, steps, ... (docs/operations.md); "
                        "a run resumes when its destination holds one.",
            tags=["inpaint", "training"],
            **{**common, "work_pool_name": cfg.train_work_pool or cfg.work_pool}),
    }
    unknown = set(names) - set(made)
    if unknown:
        raise ValueError(f"unknown deployment(s) {sorted(unknown)}; known: {', '.join(NAMES)}")
    return [made[n]() for n in names]


def ensure_work_pool(name: str, pool_type: str = "process") -> None:
    """Create the work pool if it does not exist (an existing one is left as it is)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            try:
                client.create_work_pool(WorkPoolCreate(name=name, type=pool_type))
            except ObjectAlreadyExists:
                pass


def deploy_all(cfg: DeployConfig | None = None, names: tuple[str, ...] = NAMES) -> list:
    """Create (or update) the deployments and their work pools; returns the deployment ids."""
    from prefect import deploy

    cfg = cfg or DeployConfig()
    by_pool: dict[str, list] = {}
    for d in build_deployments(cfg, names):
        by_pool.setdefault(d.work_pool_name, []).append(d)
    ids = []
    for pool, deployments in by_pool.items():  # deploy() puts all it is given on one pool
        ensure_work_pool(pool)
        ids += deploy(*deployments, work_pool_name=pool, build=False, push=False,
                      print_next_steps_message=False, ignore_warnings=True)
    return ids


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--only", action="append", choices=NAMES, help="deploy only this one (repeatable)")
    args = p.parse_args(argv)
    ids = deploy_all(names=tuple(args.only or NAMES))
    print(f"{len(ids)} deployment(s) created or updated: {', '.join(args.only or NAMES)}")


if __name__ == "__main__":
    main()
