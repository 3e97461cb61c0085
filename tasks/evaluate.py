"""Evaluation as Prefect tasks: one task run per method (cases are read on the worker)."""

from __future__ import annotations

from prefect import task

from inpaint_core.evaluation import evaluate_method, protocol_cases, reference_features


@task(name="evaluate-method", task_run_name="evaluate {method}")
def evaluate_method_task(method: str, images: str, masks_index: str, size: int, limit: int | None,
                         bins: list[str] | None, checkpoint: str | None, options: dict,
                         storage_options: dict, perceptual: dict | None = None, ref_features=None,
                         label: str | None = None) -> dict:
    """``{"rows": per-case rows, "sets": per-bin FID rows, "left_out": unreadable files}``;
    ``perceptual`` holds the :class:`~inpaint_core.perceptual.PerceptualScorer` arguments (weight
    files), if any; ``label``: the name of the method in the rows (``spline[tension=auto]``), when not
    its own."""
    from inpaint_core.perceptual import PerceptualScorer
    from inpaint_core.pipeline import RestoreConfig, get_inpainter

    inpainter = get_inpainter(RestoreConfig(method=method, checkpoint=checkpoint, method_options=options))
    scorer = PerceptualScorer(**perceptual, storage_options=storage_options) if perceptual else None
    left_out: list[dict] = []
    cases = list(protocol_cases(images, masks_index, size=size, bins=bins, limit=limit,
                                storage_options=storage_options, left_out=left_out))
    rows, sets = evaluate_method(inpainter, cases, perceptual=scorer, ref_features=ref_features)
    for r in (*rows, *sets) if label else ():
        r["method"] = label
    return {"rows": rows, "sets": sets, "left_out": left_out}


@task(name="reference-features", task_run_name="FID features of the originals")
def reference_features_task(images: str, masks_index: str, size: int, limit: int | None, bins: list[str] | None,
                            storage_options: dict, perceptual: dict):
    """The originals' FID features, once for every method of the evaluation (an array, case order)."""
    from inpaint_core.perceptual import PerceptualScorer

    scorer = PerceptualScorer(fid_weights=perceptual["fid_weights"], storage_options=storage_options)
    cases = list(protocol_cases(images, masks_index, size=size, bins=bins, limit=limit,
                                storage_options=storage_options))
    return reference_features(cases, scorer)
