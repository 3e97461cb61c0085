"""FID and LPIPS from user-given weight files: the distance itself, loading the standard files (and
refusing the wrong ones with a readable reason), and the evaluate flow's report with and without them.

No pretrained weights can be had here, so the files are the right architectures with random weights
(the same keys and shapes as pytorch-fid's, torchvision's and lpips's files). That they give the same
numbers as those packages' own code was checked with ``benchmarks/check_perceptual_reference.py``.
"""

import hashlib

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from skimage import data as skdata

from inpaint_core import create_inpainter
from inpaint_core.evaluation import evaluate_method, markdown_table, protocol_cases, reference_features, summarize
from inpaint_core.perceptual import LPIPS, FIDInception, PerceptualScorer, fid_from_features, frechet_distance

from .test_evaluation import tiny_protocol  # noqa: F401  (fixture)


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """Weight files laid out as the real ones: FID Inception (with its 1008-class head), torchvision
    AlexNet and VGG16 ``features``, lpips linear layers (non-negative, as trained ones are)."""
    d = tmp_path_factory.mktemp("weights")
    torch.manual_seed(0)
    sd = FIDInception().state_dict()
    sd.update({"fc.weight": torch.randn(1008, 2048) * 0.01, "fc.bias": torch.zeros(1008)})
    torch.save(sd, d / "pt_inception.pth")
    sd["fc.weight"], sd["fc.bias"] = torch.randn(1000, 2048), torch.zeros(1000)
    torch.save(sd, d / "imagenet_inception.pth")
    out = {"fid": str(d / "pt_inception.pth"), "imagenet": str(d / "imagenet_inception.pth")}
    for net in ("alex", "vgg"):
        m = LPIPS(net)
        torch.save({f"features.{k}": v for k, v in m.features.state_dict().items()}, d / f"{net}_backbone.pth")
        torch.save({f"lin{k}": v.abs() for k, v in m.lins.state_dict().items()}, d / f"{net}_lin.pth")
        out[net] = (str(d / f"{net}_backbone.pth"), str(d / f"{net}_lin.pth"))
    return out


def test_docstring_example():
    import doctest

    from inpaint_core import perceptual

    result = doctest.testmod(perceptual)
    assert result.attempted > 0 and result.failed == 0


def test_frechet_distance_of_known_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 4.0, 1.0])
    # diagonal covariances: |mu1 - mu2|^2 + sum (sqrt(v1) - sqrt(v2))^2
    expected = 5.0 + (1 - 2) ** 2 + 0 + (3 - 1) ** 2
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(expected)
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert fid_from_features(a, a) == pytest.approx(0, abs=1e-9)
    assert fid_from_features(a, a + 3) == pytest.approx(8 * 9, rel=1e-9)  # a shift moves only the means
    # fewer samples than dimensions: singular covariances, still a finite, non-negative distance
    b = rng.normal(size=(20, 64))
    assert np.isfinite(fid_from_features(b, b * 1.5)) and fid_from_features(b, b * 1.5) > 0
    with pytest.raises(ValueError, match="at least two"):
        fid_from_features(a[:1], a[:1])


def test_fid_network_loads_the_fid_file_and_refuses_an_imagenet_inception(weights, tmp_path):
    net = FIDInception.from_file(weights["fid"])
    assert net(torch.rand(2, 3, 256, 256)).shape == (2, 2048)
    with pytest.raises(ValueError, match="1000-class head.*not the FID network"):
        FIDInception.from_file(weights["imagenet"])
    torch.save({"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 3, 3, 3)}, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match="is not the FID Inception v3: missing"):
        FIDInception.from_file(str(tmp_path / "partial.pth"))
    for junk in ("junk.pth", "junk.safetensors"):
        (tmp_path / junk).write_bytes(b"not a checkpoint")
        with pytest.raises(ValueError, match="not a PyTorch state dict or safetensors file"):
            FIDInception.from_file(str(tmp_path / junk))
    from safetensors.torch import save_file  # the same weights as safetensors load too

    save_file(FIDInception().state_dict(), str(tmp_path / "fid.safetensors"))
    assert FIDInception.from_file(str(tmp_path / "fid.safetensors")).Mixed_7c.max_pool


@pytest.mark.parametrize("net", ["alex", "vgg"])
def test_lpips_is_zero_for_identical_images_and_grows_with_damage(weights, net):
    scorer = PerceptualScorer(lpips_backbone=weights[net][0], lpips_lin=weights[net][1], device="cpu")
    assert scorer.lpips.net == net and scorer.inception is None
    img = skdata.astronaut()[:128, :128]
    light, heavy = img.copy(), img.copy()
    light[40:60, 40:60] = 0
    heavy[20:100, 20:100] = 0
    d = scorer.lpips_distance([img, img, light, heavy], [img, light, img, img])
    assert d[0] == pytest.approx(0, abs=1e-6)
    assert d[1] == pytest.approx(d[2], rel=1e-5)  # symmetric
    assert 0 < d[2] < d[3]


def test_lpips_needs_both_files_and_the_right_ones(weights):
    with pytest.raises(ValueError, match="LPIPS needs both files"):
        PerceptualScorer(lpips_backbone=weights["alex"][0])
    with pytest.raises(ValueError, match="not the LPIPS linear layers for alex"):
        PerceptualScorer(lpips_backbone=weights["alex"][0], lpips_lin=weights["vgg"][1])
    with pytest.raises(ValueError, match="not a torchvision AlexNet or VGG16"):
        PerceptualScorer(lpips_backbone=weights["fid"], lpips_lin=weights["alex"][1])


def test_evaluation_adds_lpips_per_image_and_fid_per_bin(weights, tiny_protocol):  # noqa: F811
    scorer = PerceptualScorer(fid_weights=weights["fid"], lpips_backbone=weights["alex"][0],
                              lpips_lin=weights["alex"][1], device="cpu")
    cases = list(protocol_cases(*tiny_protocol, size=64))
    rows, sets = evaluate_method(create_inpainter("telea"), cases, perceptual=scorer)
    assert all(r["lpips"] > 0 for r in rows)
    assert {(s["bin"], s["fid_n"]) for s in sets} == {("0.01-0.1", 3), ("0.1-0.2", 3)}
    assert all(s["fid"] > 0 for s in sets)
    summary = summarize(rows, sets)
    assert all("lpips" in s and "fid" in s for s in summary)
    # the larger holes are further from the originals by both measures
    small, large = summary
    assert large["lpips"] > small["lpips"] and large["fid"] > small["fid"]
    md = markdown_table(summary)
    assert "| LPIPS | FID |" in md and "not computed" not in md
    # a bin of one image has no FID (no covariance): shown as "-", the other metrics still there
    one = [c for c in cases if c.bin == "0.1-0.2"][:1] + [c for c in cases if c.bin == "0.01-0.1"]
    rows1, sets1 = evaluate_method(create_inpainter("telea"), one, perceptual=scorer)
    assert [s["bin"] for s in sets1] == ["0.01-0.1"] and len(rows1) == 4
    assert "| 0.1-0.2 | telea | 1 |" in markdown_table(summarize(rows1, sets1))
    assert markdown_table(summarize(rows1, sets1)).splitlines()[3].split("|")[8].strip() == "-"
    # The originals' features computed once for several methods give the same FIDs, and the
    # method's own pass then runs the network on its outputs only.
    calls = []
    real = scorer.fid_features
    scorer.fid_features = lambda images: calls.append(len(images)) or real(images)
    refs = reference_features(cases, scorer)
    assert len(calls) == 1 and refs.shape == (len(cases), 2048)
    calls.clear()
    rows2, sets2 = evaluate_method(create_inpainter("telea"), cases, perceptual=scorer, ref_features=refs)
    assert sum(calls) == len(cases)  # outputs only
    assert [s["fid"] for s in sets2] == pytest.approx([s["fid"] for s in sets], rel=1e-6)
    assert [r["psnr"] for r in rows2] == [r["psnr"] for r in rows]
    del scorer.fid_features
    plain, no_sets = evaluate_method(create_inpainter("telea"), cases)
    assert no_sets == [] and "lpips" not in plain[0]
    assert "FID" not in markdown_table(summarize(plain))


def test_evaluate_flow_reports_fid_and_lpips_only_when_given_weights(prefect_server, weights, tiny_protocol,  # noqa: F811
                                                                    tmp_path):
    from flows.evaluate import run_evaluate

    images, masks = tiny_protocol
    with_weights = run_evaluate([], images, masks, str(tmp_path / "a"), n_workers=1, size=64,
                                fid_weights=weights["fid"], lpips_backbone=weights["alex"][0],
                                lpips_lin=weights["alex"][1])
    assert "| LPIPS | FID |" in with_weights["markdown"] and "not computed" not in with_weights["markdown"]
    run_dir = tmp_path / "a" / "eval" / with_weights["run_id"]
    results, summary = pq.read_table(run_dir / "results.parquet"), pq.read_table(run_dir / "summary.parquet")
    assert "lpips" in results.column_names and "fid" in summary.column_names
    assert set(summary.column("fid_n").to_pylist()) == {3}
    assert set(summary.column("method").to_pylist()) == {"telea", "ns", "spline"}
    without = run_evaluate([], images, masks, str(tmp_path / "b"), n_workers=1, size=64)
    assert "FID: not computed" in without["markdown"] and "LPIPS: not computed" in without["markdown"]
    from prefect import get_client

    with get_client(sync_client=True) as client:  # named after what it evaluates, in the UI's run list
        assert f"evaluate {images}" in {r.name for r in client.read_flow_runs()}
    # a wrong file stops the run before any method is scored
    with pytest.raises(ValueError, match="not the FID network"):
        run_evaluate([], images, masks, str(tmp_path / "c"), n_workers=1, size=64, fid_weights=weights["imagenet"])
    assert not (tmp_path / "c" / "eval").exists()
    # so does an unknown method (a deployment's parameters can name one)
    from inpaint_core.errors import UnknownMethodError

    with pytest.raises(UnknownMethodError, match="unknown inpainting method 'glcicc'"):
        run_evaluate(["glcicc"], images, masks, str(tmp_path / "d"), n_workers=1, size=64)
    assert not (tmp_path / "d" / "eval").exists()


def test_cli_evaluate_only_the_bins_asked_for(prefect_server, tiny_protocol, tmp_path, capsys):  # noqa: F811
    from flows.cli import main

    images, masks = tiny_protocol
    broken = tmp_path / "images" / "9.jpg"  # a user's folder with one broken file: the rest is scored
    broken.write_bytes(b"\xff\xd8\xff\xe0 cut short")
    assert main(["evaluate", "--images", images, "--masks", masks, "--out", str(tmp_path / "out"), "--size", "64",
                 "--workers", "1", "--bins", "0.1-0.2"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| 0.")]
    assert len(rows) == 3 and all(r.startswith("| 0.1-0.2 | ") and r.split(" | ")[2] == "3" for r in rows)
    assert f"- left out: 1 image (every method was scored without them): {broken.as_uri()}: not a decodable" in out
    [run] = list((tmp_path / "out" / "eval").iterdir())
    [row] = pq.read_table(run / "left_out.parquet").to_pylist()
    assert row["kind"] == "image" and row["file"] == broken.as_uri()
    assert row["reason"].startswith("not a decodable image: looks like JPEG but its header is truncated")
    assert broken.read_bytes() == b"\xff\xd8\xff\xe0 cut short"


def test_weight_files_are_found_by_a_bare_relative_name(weights, tmp_path, monkeypatch):
    """``--fid-weights pt_inception.pth``: a bare name is a file in the current folder."""
    import shutil

    shutil.copy(weights["fid"], tmp_path / "pt_inception.pth")
    monkeypatch.chdir(tmp_path)
    assert FIDInception.from_file("pt_inception.pth").Mixed_7c.max_pool


def test_weight_files_can_live_in_a_bucket(weights, s3_server):
    """The files are read through fsspec: s3:// URLs with the run's storage options (moto's S3 server)."""
    import s3fs

    fs = s3fs.S3FileSystem(endpoint_url=s3_server)
    fs.mkdir("models")
    for local, key in ((weights["fid"], "fid.pth"), (weights["alex"][0], "alex.pth"), (weights["alex"][1], "lin.pth")):
        fs.put(local, f"models/{key}")
    opts = {"endpoint_url": s3_server}
    scorer = PerceptualScorer(fid_weights="s3://models/fid.pth", lpips_backbone="s3://models/alex.pth",
                              lpips_lin="s3://models/lin.pth", device="cpu", storage_options=opts)
    img = skdata.coffee()[:64, :64]
    assert scorer.fid_features([img]).shape == (1, 2048) and scorer.lpips_distance([img], [img])[0] < 1e-6
    assert scorer.files["fid_weights"] == {"uri": "s3://models/fid.pth", "sha256": _sha256(weights["fid"])}
    with pytest.raises(FileNotFoundError):
        PerceptualScorer(fid_weights="s3://models/missing.pth", storage_options=opts)


def test_cli_evaluate_compares_settings_of_one_method_side_by_side(prefect_server, tiny_protocol, tmp_path,  # noqa: F811
                                                                    capsys):
    """``--methods "spline[tension=auto],telea[radius=5]"``: each setting scored beside the baselines
    (Telea and the spline at their defaults), named as written in the table and the Parquet results,
    its options reaching the method (radius 5 fills differently from radius 3)."""
    from flows.cli import main
    from flows.evaluate import method_spec, split_methods

    images, masks = tiny_protocol
    assert main(["evaluate", "--images", images, "--masks", masks, "--out", str(tmp_path / "out"), "--size", "64",
                 "--workers", "1", "--bins", "0.1-0.2", "--methods", "spline[tension=auto],telea[radius=5]"]) == 0
    out = capsys.readouterr().out
    methods = [line.split(" | ")[1] for line in out.splitlines() if line.startswith("| 0.1-0.2 | ")]
    assert sorted(methods) == ["ns", "spline", "spline[tension=auto]", "telea", "telea[radius=5]"]
    [run] = list((tmp_path / "out" / "eval").iterdir())
    rows = pq.read_table(run / "results.parquet").to_pylist()
    psnr = {m: [r["psnr"] for r in rows if r["method"] == m] for m in methods}
    assert len(psnr["telea[radius=5]"]) == 3 and psnr["telea[radius=5]"] != psnr["telea"]
    assert split_methods("ctsdg,spline[tension=auto,window_margin=32]") == \
        ["ctsdg", "spline[tension=auto,window_margin=32]"]
    assert method_spec("spline[tension=auto,window_margin=32]") == ("spline", {"tension": "auto", "window_margin": 32})
    for bad in ("spline[tension]", "two words"):
        with pytest.raises(ValueError, match="KEY=VALUE"):
            method_spec(bad)
