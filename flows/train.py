"""The ``train`` flow: train any registered model on any folder or bucket, resumably.

Progress (with an ETA), the latest losses and a link to the newest sample grid show in the
Prefect UI as artifacts; everything durable (checkpoints with model cards, Parquet log, samples)
goes to the destination URL. Running the flow again with the same destination resumes.
"""

from __future__ import annotations

import time
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import (create_markdown_artifact, create_progress_artifact, create_table_artifact,
                               update_progress_artifact)
from pydantic import SecretStr

from inpaint_core.redact import install_log_redaction
from inpaint_core.training.trainer import TrainConfig, Trainer

from .credentials import flow_storage_options, hide_credentials


def _eta(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def eta_text(per_step: float, steps_left: int, time_left: float | None = None) -> str:
    """A training run's ETA: the steps left at the pace so far, or the end of its time limit
    (``max_minutes``) when that comes first, with about how many more steps it will make."""
    by_steps = per_step * steps_left
    if time_left is not None and time_left < by_steps:
        more = int(max(time_left, 0.0) / per_step) if per_step > 0 else 0
        return f"{_eta(max(time_left, 0.0))} (time limit; about {more} more steps)"
    return _eta(by_steps)


def _percent(step: int, steps: int, elapsed: float, max_minutes: float | None) -> float:
    """How far a training run is towards its end: its steps, or its time limit when that is further."""
    pct = 100.0 * step / steps
    if max_minutes:
        pct = max(pct, min(100.0, 100.0 * elapsed / (max_minutes * 60)))
    return pct


def model_dest(dest: str, model: str) -> str:
    """``dest`` with ``{model}`` replaced by the model's name (one deployment destination for every model)."""
    return dest.replace("{model}", model)


def _flow_run_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters
    return f"train {p.get('model', '?')} -> {model_dest(str(p.get('dest', '?')), str(p.get('model', '?')))}"


@flow(name="train", flow_run_name=_flow_run_name, log_prints=False)
def train(
    model: str,
    data: list[str],
    dest: str,
    steps: int = 1000,
    batch_size: int = 8,
    crop: int = 128,
    lr: float = 2e-4,
    lr_d: float | None = None,
    seed: int = 0,
    device: str = "auto",
    model_options: dict[str, Any] | None = None,
    recipe_options: dict[str, Any] | None = None,
    masks: dict[str, float] | None = None,
    hole_range: list[float] | None = None,
    image_side: int | None = None,
    checkpoint_every: int = 500,
    log_every: int = 25,
    num_workers: int = 2,
    fp16_weights: bool = False,
    max_minutes: float | None = None,
    storage_options: dict[str, Any] | None = None,
    init_from: str | None = None,
    storage_secrets: SecretStr | None = None,
) -> dict[str, Any]:
    """Train ``model`` on the images under ``data`` into ``dest`` (resuming from ``dest`` if it holds a run;
    ``{model}`` in ``dest`` is replaced by the model's name).

    Credentials go in ``storage_secrets`` (:mod:`flows.credentials`; ``run_train`` moves them there).
    """
    logger = get_run_logger()
    install_log_redaction()
    dest = model_dest(dest, model)
    cfg = TrainConfig(model=model, data=list(data), dest=dest, steps=steps, batch_size=batch_size, crop=crop, lr=lr,
                      lr_d=lr_d, seed=seed, device=device, model_config=model_options or {},
                      recipe_options=recipe_options or {}, masks=masks,
                      hole_range=list(hole_range) if hole_range else None, image_side=image_side,
                      checkpoint_every=checkpoint_every,
                      log_every=log_every, num_workers=num_workers, fp16_weights=fp16_weights,
                      max_minutes=max_minutes, storage_options=flow_storage_options(storage_options, storage_secrets),
                      init_from=init_from)
    trainer = Trainer(cfg)
    slug = model.replace("_", "-")  # artifact keys: lowercase letters, digits and dashes
    start_step, t0 = trainer.step, time.perf_counter()
    logger.info("training %s on %s -> %s: step %d of %d on %s (%d generator parameters)", model, data, dest,
                trainer.step, steps, trainer.device, sum(p.numel() for p in trainer.generator.parameters()))
    if trainer.init_report and start_step == 0:
        r = trainer.init_report
        logger.info("started from %s: %d of %d generator tensors", r["uri"], r["tensors"], r["of"])
    progress = create_progress_artifact(100.0 * trainer.step / steps, key=f"train-{slug}-progress",
                                        description=f"training {model}")

    deadline = t0 + max_minutes * 60 if max_minutes else None  # a moment before the Trainer's own

    def on_log(row: dict[str, Any]) -> None:
        done = row["step"] - start_step
        per_step = (time.perf_counter() - t0) / max(done, 1)
        losses = ", ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in ("step", "images_seen", "wall_seconds"))
        time_left = deadline - time.perf_counter() if deadline is not None else None
        eta = eta_text(per_step, steps - row["step"], time_left)
        logger.info("step %d/%d (%d images): %s; ETA %s", row["step"], steps, row["images_seen"], losses, eta)
        update_progress_artifact(progress, _percent(row["step"], steps, time.perf_counter() - t0, max_minutes),
                                 description=f"training {model}: step {row['step']} of {steps}, ETA {eta}")

    def on_unreadable(new: dict[str, str]) -> None:  # in the run's log, as they are met
        shown = "; ".join(f"{url}: {why}" for url, why in list(new.items())[:5])
        more = f"; and {len(new) - 5} more" if len(new) > 5 else ""
        logger.warning("%d training image(s) cannot be read; other images take their place (%d so far, listed "
                       "in the card): %s%s", len(new), len(trainer.unreadable), shown, more)

    def on_checkpoint(saved: dict[str, Any]) -> None:  # losses and the newest samples, while it runs
        card = trainer.card()
        create_table_artifact([dict(r) for r in trainer.recent_log[-10:]] or [{"step": trainer.step}],
                              key=f"train-{slug}-losses", description=f"{model}: latest losses")
        create_markdown_artifact(
            f"# {model}: step {saved['step']} of {steps}\n\n"
            f"- checkpoint: `{saved['checkpoint']}`\n- newest sample grid (masked input | output | target): "
            f"`{saved['samples']}`\n"
            f"- images seen: {card['images_seen']}, wall time {card['wall_seconds']:.0f} s on {card['hardware']}\n"
            f"- recipe: {card['recipe']['name']} ({card['recipe']['notes']})\n"
            + (f"- unreadable training images (others took their place): {len(trainer.unreadable)}, e.g. "
               f"`{card['unreadable_images']['examples'][0]}`\n" if trainer.unreadable else ""),
            key=f"train-{slug}-summary", description=f"{model}: training summary")

    result = trainer.run(on_log, on_checkpoint, on_unreadable)
    if result["checkpoint"] is None:  # the destination was already at `steps`
        create_markdown_artifact(f"# {model}: already at step {trainer.step} of {steps}; nothing to train\n",
                                 key=f"train-{slug}-summary", description=f"{model}: training summary")
    if trainer.step >= steps:
        pct, text = 100.0, f"training {model}: done, {steps} steps"
    elif deadline is not None and time.perf_counter() >= deadline:
        pct, text = 100.0, f"training {model}: done at its {max_minutes:g}-minute limit, step {trainer.step} of {steps}"
    else:
        pct, text = 100.0 * trainer.step / steps, f"training {model}: step {trainer.step} of {steps}, stopped"
    update_progress_artifact(progress, pct, description=text)
    card = trainer.card()
    return {**result, "card": card}


def run_train(**kwargs: Any) -> dict[str, Any]:
    """Run :func:`train` with the credentials of ``storage_options`` passed hidden (the CLI's entry point)."""
    return train(**hide_credentials(kwargs))
