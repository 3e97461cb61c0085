"""The training loop: a few steps of each recipe, checkpoints loadable by the inpainter, resume."""

import json

import numpy as np
import pandas as pd
import pytest
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.edges import canny_edges
from inpaint_core.training.recipe import list_recipes
from inpaint_core.training.trainer import TrainConfig, Trainer

from ..collections import png_bytes, write

from inpaint_core.models import get_model_spec
from inpaint_core.training.recipe import get_recipe


def small(model):
    """Narrow widths (the ``width``/``d_width`` convention of every model and recipe) for fast tests."""
    spec = get_model_spec(model)
    config = {k: v for k, v in {"width": 8, "max_channels": 16}.items() if k in spec.default_config}
    if spec.fixed_size:
        config["resolution"] = 32
    options = {"d_width": 8} if "d_width" in get_recipe(model).default_options else {}
    return config, options


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    for i, p in enumerate([skdata.astronaut(), skdata.coffee(), skdata.chelsea(), skdata.rocket()]):
        write(root, f"{i}.png", png_bytes(p[:160, :160]))
    return str(root)


@pytest.mark.parametrize("model", list_recipes())
def test_a_few_steps_write_a_usable_checkpoint_and_resume(model, photos, tmp_path):
    config, options = small(model)
    cfg = TrainConfig(model=model, data=[photos], dest=str(tmp_path / "run"), steps=2, batch_size=2, crop=64,
                      model_config=config, recipe_options=options, checkpoint_every=2,
                      log_every=1, num_workers=0)
    result = Trainer(cfg).run()
    assert result["step"] == 2
    card = json.loads((tmp_path / "run" / f"{model}.json").read_text())
    assert card["steps"] == 2 and card["images_seen"] == 4 and card["training_data"] == [photos]
    assert (tmp_path / "run" / "samples" / "step-000002.png").exists()
    log = pd.read_parquet(tmp_path / "run" / "log")
    assert list(log["step"]) == [1, 2] and np.isfinite(log["g_loss"]).all()

    inp = create_inpainter(model, checkpoint=str(tmp_path / "run" / f"{model}.safetensors"))
    img = skdata.astronaut()[:80, :90]
    mask = np.zeros(img.shape[:2], bool)
    mask[20:40, 30:50] = True
    edges = [canny_edges(img, mask)] if inp.needs_edges else None
    (out,) = inp([img], [mask], edges=edges)
    assert out.shape == img.shape and np.array_equal(out[~mask], img[~mask])

    # Resume: the same destination with more steps continues from step 2.
    again = Trainer(TrainConfig(**{**cfg.__dict__, "steps": 3}))
    assert again.step == 2 and again.images_seen == 4
    assert again.run()["step"] == 3
    assert json.loads((tmp_path / "run" / "state" / "latest.json").read_text())["step"] == 3


def test_unreadable_training_images_are_reported_in_the_card_and_kept_across_a_resume(photos, tmp_path, caplog):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(photos, data)
    (data / "1.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")  # two of the four cannot be read
    (data / "3.png").write_bytes(b"GIF89a")  # a header and nothing else
    before = {p.name: p.read_bytes() for p in data.iterdir()}
    cfg = TrainConfig(model="glcic", data=[str(data)], dest=str(tmp_path / "run"), steps=2, batch_size=2, crop=64,
                      model_config={"width": 4}, recipe_options={"d_width": 4}, checkpoint_every=2, num_workers=0)
    with caplog.at_level("WARNING", logger="inpaint_core.training.trainer"):
        trainer = Trainer(cfg)
        trainer.run()  # one epoch: every image is asked for once
    assert trainer.step == 2
    urls = {(data / "1.png").as_uri(), (data / "3.png").as_uri()}
    assert set(trainer.unreadable) == urls
    assert "header is truncated or corrupt" in trainer.unreadable[(data / "3.png").as_uri()]
    assert sum("cannot be read, another is used" in r.message for r in caplog.records) == 2
    card = json.loads((tmp_path / "run" / "glcic.json").read_text())
    assert card["unreadable_images"]["count"] == 2
    assert {e.split(": ", 1)[0] for e in card["unreadable_images"]["examples"]} == urls
    assert {p.name: p.read_bytes() for p in data.iterdir()} == before  # inputs untouched
    resumed = Trainer(TrainConfig(**{**cfg.__dict__, "steps": 3}))
    assert resumed.unreadable == trainer.unreadable
    seen = []
    resumed.run(on_unreadable=seen.append)
    assert seen == []  # known ones are not reported again
    assert json.loads((tmp_path / "run" / "glcic.json").read_text())["unreadable_images"]["count"] == 2


def test_eta_and_progress_say_when_the_time_limit_ends_the_run_first():
    from flows.train import eta_text

    assert eta_text(0.5, 600) == "5m00s"  # 600 steps at 0.5 s
    assert eta_text(0.5, 600, time_left=1000.0) == "5m00s"  # the steps end first
    assert eta_text(2.0, 1_000_000, time_left=90.0) == "1m30s (time limit; about 45 more steps)"
    assert eta_text(2.0, 10, time_left=-3.0) == "0m00s (time limit; about 0 more steps)"
    from flows.train import _percent

    assert _percent(10, 1_000_000, elapsed=30.0, max_minutes=1.0) == 50.0  # the time limit is nearer
    assert _percent(900, 1000, elapsed=30.0, max_minutes=1.0) == 90.0  # the steps are
    assert _percent(10, 100, elapsed=500.0, max_minutes=None) == 10.0


def test_train_flow_reports_progress_in_prefect(prefect_server, photos, tmp_path):
    from prefect.client.orchestration import get_client

    from flows.train import train

    import shutil

    data = tmp_path / "data"  # one of the four photos broken: the run goes on and says so
    shutil.copytree(photos, data)
    (data / "2.png").write_bytes(b"")
    r = train(model="glcic", data=[str(data)], dest=str(tmp_path / "run"), steps=2, batch_size=2, crop=64,
              model_options={"width": 4}, recipe_options={"d_width": 4}, checkpoint_every=1, log_every=1,
              num_workers=0, hole_range=[0.3, 0.6])
    assert r["step"] == 2 and r["card"]["steps"] == 2
    assert r["card"]["unreadable_images"] == {"count": 1,
                                              "examples": [f"{(data / '2.png').as_uri()}: empty file (0 bytes)"]}
    assert r["card"]["train_config"]["hole_range"] == [0.3, 0.6]  # the card says what the masks were

    with get_client(sync_client=True) as client:
        # the UI's run list says what each run trains, and where
        (run,) = [f for f in client.read_flow_runs() if f.name == f"train glcic -> {tmp_path / 'run'}"]
        every = [a for a in client.read_artifacts() if a.key and a.flow_run_id == run.id]
    by_key = {a.key: a for a in sorted(every, key=lambda a: a.created)}  # the newest version of each
    assert float(by_key["train-glcic-progress"].data) == 100.0
    assert by_key["train-glcic-progress"].description == "training glcic: done, 2 steps"
    assert "step 2 of 2" in by_key["train-glcic-summary"].data
    assert "- unreadable training images (others took their place): 1, e.g. `file://" \
        in by_key["train-glcic-summary"].data
    # published at every checkpoint, not only at the end: the step-1 grid was visible while step 2 ran
    summaries = [a.data for a in every if a.key == "train-glcic-summary"]
    assert any("step 1 of 2" in d and "samples/step-000001.png" in d for d in summaries), summaries
    assert len([a for a in every if a.key == "train-glcic-losses"]) == 2


def test_a_time_limited_train_flow_says_so_in_its_progress(prefect_server, photos, tmp_path):
    """With --max-minutes and many steps, the progress bar follows the time limit and ends at 100%
    saying the limit ended it (not near 0% with an ETA of days)."""
    from prefect.client.orchestration import get_client

    from flows.train import train

    r = train(model="glcic", data=[photos], dest=str(tmp_path / "run"), steps=1_000_000, batch_size=2, crop=64,
              model_options={"width": 4}, recipe_options={"d_width": 4}, checkpoint_every=1000, log_every=1,
              num_workers=0, max_minutes=0.05)
    assert 0 < r["step"] < 1_000_000
    with get_client(sync_client=True) as client:
        (run,) = [f for f in client.read_flow_runs() if f.name == f"train glcic -> {tmp_path / 'run'}"]
        every = sorted((a for a in client.read_artifacts() if a.key == "train-glcic-progress"
                        and a.flow_run_id == run.id), key=lambda a: a.created)
    assert float(every[-1].data) == 100.0
    assert every[-1].description == f"training glcic: done at its 0.05-minute limit, step {r['step']} of 1000000"


def test_cli_train_options_reach_the_model_card(prefect_server, photos, tmp_path, capsys):
    from flows.cli import main

    assert main(["train", "--model", "glcic", "--data", photos, "--out", str(tmp_path / "run"), "--steps", "1",
                 "--batch-size", "2", "--crop", "64", "--image-side", "96", "--hole-range", "0.3,0.6",
                 "--model-option", "width=4", "--recipe-option", "d_width=4", "--loader-workers", "0"]) == 0
    assert "glcic: step 1, 2 images seen" in capsys.readouterr().out
    card = json.loads((tmp_path / "run" / "glcic.json").read_text())
    assert card["train_config"]["image_side"] == 96 and card["train_config"]["hole_range"] == [0.3, 0.6]


def test_wrong_settings_are_refused_with_what_is_known(photos, tmp_path, capsys):
    from flows.cli import main
    from inpaint_core.training.trainer import check_settings

    with pytest.raises(ValueError, match="no trainable model named 'glcicc'; known: context_encoder, ctsdg"):
        check_settings("glcicc")
    with pytest.raises(ValueError, match="glcic: unknown model option.s. widht; known: prefill, prefill_dilations, "
                                         "width"):
        check_settings("glcic", {"widht": 8})
    with pytest.raises(ValueError, match=r"glcic: unknown training \(recipe\) option.s. dwidth; known: .*d_width"):
        check_settings("glcic", {}, {"dwidth": 8})
    cfg = TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / "run"), crop=100, model_config={"width": 4})
    with pytest.raises(ValueError, match=r"glcic cannot train with these settings \(crop 100 px\): discriminator "
                                         "input side must be a multiple of 64"):
        Trainer(cfg)
    # the CLI says so before it starts anything (no Prefect server: this test has none)
    base = ["train", "--data", photos, "--out", str(tmp_path / "cli")]
    for extra, said in ((["--model", "nosuch"], "no trainable model named 'nosuch'"),
                        (["--model", "glcic", "--masks", "free_form=abc"], "the weight of 'free_form' must be a number"),
                        (["--model", "glcic", "--masks", "nosuch=1"], "unknown mask generator 'nosuch'"),
                        (["--model", "glcic", "--crop", "100"], "glcic cannot train with these settings (crop 100 px)"),
                        (["--model", "context_encoder", "--model-option", "resolution=100"],
                         "context_encoder: resolution must be a power of two >= 8, got 100")):
        assert main(base + extra) == 2
        assert said in capsys.readouterr().err
    assert not (tmp_path / "cli").exists()


def test_same_seed_same_weights_and_a_resumed_run_equals_an_unbroken_one(photos, tmp_path):
    """Bit for bit on the CPU, with loader worker processes, across GLCIC's warm-up into its GAN phase
    (discriminator, both optimisers, the data order and the masks all come back with the checkpoint)."""
    from safetensors.numpy import load_file

    def run(name, steps, seed=5):
        cfg = TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / name), steps=steps, batch_size=2,
                          crop=64, model_config={"width": 4}, recipe_options={"d_width": 4, "warmup_steps": 1},
                          checkpoint_every=100, log_every=1, num_workers=2, seed=seed)
        Trainer(cfg).run()
        return tmp_path / name / "checkpoints"

    unbroken, again = run("a", 4), run("b", 4)
    run("c", 2)  # stopped after step 2 ...
    resumed = run("c", 4)  # ... and started again with the same command
    a, b, c = (load_file(str(d / "step-000004.safetensors")) for d in (unbroken, again, resumed))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(np.array_equal(a[k], c[k]) for k in a)
    other = load_file(str(run("d", 4, seed=6) / "step-000004.safetensors"))  # the test can tell runs apart
    assert not all(np.array_equal(a[k], other[k]) for k in a)


def test_a_resumed_run_takes_the_learning_rate_given_now(photos, tmp_path):
    cfg = TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / "run"), steps=1, batch_size=2, crop=64,
                      model_config={"width": 4}, recipe_options={"d_width": 4, "warmup_steps": 10},
                      checkpoint_every=1, log_every=1, num_workers=0, lr=2e-4)
    Trainer(cfg).run()
    again = Trainer(TrainConfig(**{**cfg.__dict__, "steps": 2, "lr": 1e-3}))
    assert again.step == 1 and {g["lr"] for g in again.g_opt.param_groups} == {1e-3}
    assert {g["betas"] for g in again.g_opt.param_groups} == {(0.5, 0.999)}
    assert again.g_opt.state  # Adam's moments came back with the checkpoint


def test_the_loader_makes_a_prefilled_models_fill(photos, tmp_path):
    """The classical fill is computed in the loader (its worker processes), not in the training step."""
    config, options = small("glcic")
    cfg = TrainConfig(model="glcic", data=[photos], dest=str(tmp_path / "run"), steps=1, batch_size=2, crop=64,
                      model_config={**config, "prefill": "telea"}, recipe_options=options, num_workers=0)
    batch = next(iter(Trainer(cfg)._loader()))
    assert batch["fill"].shape == batch["image"].shape
    plain = Trainer(TrainConfig(**{**cfg.__dict__, "dest": str(tmp_path / "plain"), "model_config": config}))
    assert "fill" not in next(iter(plain._loader()))


@pytest.mark.parametrize("model", ["context_encoder", "ctsdg"])
def test_a_model_can_train_on_the_evaluation_metric(model, photos, tmp_path):
    config, options = small(model)
    cfg = TrainConfig(model=model, data=[photos], dest=str(tmp_path / "run"), steps=2, batch_size=2,
                      crop=32, model_config=config, recipe_options={**options, "ssim_weight": 1.0},
                      checkpoint_every=2, log_every=1, num_workers=0)
    Trainer(cfg).run()
    log = pd.read_parquet(tmp_path / "run" / "log")
    assert ((log["ssim"] > 0) & (log["ssim"] <= 2)).all()  # 1 - SSIM of an untrained fill, logged each step
    card = json.loads((tmp_path / "run" / f"{model}.json").read_text())
    assert card["recipe"]["options"]["ssim_weight"] == 1.0 and "1-SSIM" in card["recipe"]["notes"]


@pytest.mark.parametrize("model", ["pconv", "ctsdg"])
def test_perceptual_and_style_losses_can_use_an_imagenet_vgg_file(model, photos, tmp_path):
    """With ``feature_weights`` (torchvision's VGG16 file; random weights here, same keys and shapes)
    the losses read the paper's pool1-3, and the card says which file; a wrong file stops the run
    before any step."""
    import torch

    import hashlib

    from inpaint_core.perceptual import VGGFeatures, vgg_layers

    vgg = tmp_path / "vgg16.pth"
    torch.manual_seed(0)
    features, _ = vgg_layers("vgg16")
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, vgg)
    config, options = small(model)
    cfg = TrainConfig(model=model, data=[photos], dest=str(tmp_path / "run"), steps=2, batch_size=2, crop=32,
                      model_config=config, recipe_options={**options, "feature_weights": str(vgg)},
                      checkpoint_every=2, log_every=1, num_workers=0)
    trainer = Trainer(cfg)
    assert isinstance(trainer.recipe.features, VGGFeatures)
    trainer.run()
    log = pd.read_parquet(tmp_path / "run" / "log")
    assert (log["perceptual"] > 0).all() and (log["style"] > 0).all()
    notes = json.loads((tmp_path / "run" / f"{model}.json").read_text())["recipe"]["notes"]
    assert "VGG16 pool1, pool2, pool3" in notes and hashlib.sha256(vgg.read_bytes()).hexdigest() in notes
    wrong = tmp_path / "not-vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 11, 11)}, wrong)
    bad = TrainConfig(model=model, data=[photos], dest=str(tmp_path / "bad"), steps=2, batch_size=2, crop=32,
                      model_config=config, recipe_options={**options, "feature_weights": str(wrong)}, num_workers=0)
    with pytest.raises(ValueError, match="not a torchvision VGG16 or VGG19"):
        Trainer(bad).run()
    assert not (tmp_path / "bad" / "checkpoints").exists()
