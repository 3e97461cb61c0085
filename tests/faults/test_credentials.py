"""Credentials never appear in logs, artifacts, manifests, run summaries, parameters or error texts.

The end-to-end test runs restores against moto's S3 (through the fault proxy, which denies one
image and, in a second run, the whole destination) with distinctive fake credentials in the
environment and in ``storage_options``, then greps everything it can read back: the Prefect
server's database file (flow and task runs, parameters, states, logs, artifacts, events), the
same objects read through the API, every object the runs wrote, the raised error and its
traceback, and the captured stdout/stderr and log records.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path

import numpy as np
import pytest

from inpaint_core.redact import (RedactingFilter, merge_options, redact, secret_option_keys,
                                 split_secret_options)

from ..collections import good_collection, jpeg_bytes
from .s3proxy import FaultProxy

KEY_ID = "AKIAQUOKKA7ZEBRA3XYZ"
SECRET = "quokka/Secret+Zebra9876543210PlatypusXYZ"
TOKEN = "FwoGZXIvYXdzEFakeSessionTokenWombat0123456789"
PREFECT_KEY = "pnu_FakePrefectApiKeyNumbat0123456789abcd"
SECRETS = (KEY_ID, SECRET, TOKEN, PREFECT_KEY)


def _leaks(blob: bytes | str, where: str) -> list[str]:
    data = blob.encode() if isinstance(blob, str) else blob
    return [f"{s[:8]}... in {where}" for s in SECRETS if s.encode() in data]


# --- the helper ------------------------------------------------------------------------------


def test_redact_scrubs_environment_values_option_secrets_and_known_shapes(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("PREFECT_API_KEY", "x" * 40)
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "hunter2-but-longer")
    text = (f"denied for {SECRET} with {'x' * 40}, pw hunter2-but-longer, id {KEY_ID}, key {PREFECT_KEY}, "
            "url s3://user:pass@bucket/k, https://h/o?X-Amz-Credential=abc%2F&X-Amz-Signature=deadbeef, "
            "Authorization: AWS4-HMAC-SHA256 Credential=AKID/2026, Signature=cafe, Bearer abc.def.ghi, "
            "{'secret': 'opt-secret-1', \"token\": \"opt-token-2\"}, aws_session_token = tok3tok3tok3")
    out = redact(text, storage_options={"client_kwargs": {"aws_secret_access_key": "nested-secret-9"}})
    for gone in (SECRET, "x" * 40, "hunter2-but-longer", KEY_ID, PREFECT_KEY, "user:pass", "abc%2F", "deadbeef",
                 "AKID/2026", "cafe", "abc.def.ghi", "opt-secret-1", "opt-token-2", "tok3tok3tok3"):
        assert gone not in out, gone
    assert "denied for ***" in out and "s3://***@bucket/k" in out
    assert redact("nested-secret-9 ok", storage_options={"client_kwargs": {"aws_secret_access_key": "nested-secret-9"}}) \
        == "*** ok"
    assert redact("testing, a short value, stays") == "testing, a short value, stays"


def test_secret_options_are_found_at_any_depth_and_merge_back():
    opts = {"endpoint_url": "http://minio:9000", "key": KEY_ID, "secret": SECRET, "anon": False,
            "client_kwargs": {"region_name": "eu", "aws_session_token": TOKEN}, "profile": "backup"}
    public, secret = split_secret_options(opts)
    assert secret_option_keys(opts) == ["key", "secret", "client_kwargs.aws_session_token"]
    assert public == {"endpoint_url": "http://minio:9000", "anon": False, "client_kwargs": {"region_name": "eu"},
                      "profile": "backup"}
    assert merge_options(public, secret) == opts and not _leaks(json.dumps(public), "public options")


def test_log_records_and_tracebacks_are_scrubbed(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    records = []
    handler = logging.Handler()
    handler.emit = lambda r: records.append(handler.format(r))
    handler.addFilter(RedactingFilter())
    logger = logging.getLogger("inpaint.test.redact")
    logger.addHandler(handler)
    try:
        try:
            raise OSError(f"signature mismatch for secret {SECRET}")
        except OSError:
            logger.exception("reading with %s failed", {"secret": SECRET})
    finally:
        logger.removeHandler(handler)
    assert records and "Traceback" in records[0] and not _leaks(records[0], "log record")


def test_manifest_error_text_is_scrubbed(monkeypatch):
    from inpaint_core.discover import SourceItem
    from inpaint_core.pipeline import Work

    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    w = Work(SourceItem("a.png", 1), {"status": None, "error": None})
    w.fail(RuntimeError(f"the server said: token {TOKEN} expired"))
    assert w.row["error"] == "RuntimeError: the server said: token *** expired"


def test_plain_credentials_in_flow_parameters_are_refused_by_name():
    from flows.credentials import flow_storage_options

    with pytest.raises(ValueError, match=r"storage_options carries credentials \(key, secret, client_kwargs.aws_"
                                         r"session_token\).*environment.*profile=NAME") as err:
        flow_storage_options({"key": KEY_ID, "secret": SECRET, "client_kwargs": {"aws_session_token": TOKEN}}, None)
    assert not _leaks(str(err.value), "the refusal")


def test_entry_points_pass_credentials_hidden_and_flows_get_them_back():
    from flows.credentials import flow_storage_options, hide_credentials

    opts = {"endpoint_url": "http://minio:9000", "key": KEY_ID, "secret": SECRET}
    call = hide_credentials({"dest": "s3://b/out", "storage_options": opts})
    assert call["storage_options"] == {"endpoint_url": "http://minio:9000"} and call["dest"] == "s3://b/out"
    assert str(call["storage_secrets"]) == "**********" and not _leaks(repr(call), "the flow call")
    assert flow_storage_options(call["storage_options"], call["storage_secrets"]) == opts
    plain = {"storage_options": {"endpoint_url": "http://minio:9000"}}
    assert hide_credentials(plain) is plain  # nothing to hide: no storage_secrets parameter at all


def test_deployments_refuse_credentials_in_their_parameters():
    """A deployment's parameters are stored in clear: its credentials must come from the workers' environment."""
    from deployments.deploy import DeployConfig, build_deployments

    cfg = DeployConfig(watch_prefix="s3://b/in", dest="s3://b/out",
                       storage_options={"endpoint_url": "http://minio:9000", "secret": SECRET})
    with pytest.raises(ValueError, match=r"INPAINT_STORAGE_OPTIONS .* carries credentials \(secret\)") as err:
        build_deployments(cfg)
    assert not _leaks(str(err.value), "the refusal")


@pytest.mark.parametrize("flow", ["watch", "bucket"])
def test_watch_and_bucket_flows_refuse_credentials_before_listing(flow):
    """Their parameters come from deployments; credentials in them are refused before any request
    (port 9: nothing answers there). Called as plain functions: a flow run would record them."""
    from flows.bucket import bucket_restore
    from flows.watch import watch

    opts = {"endpoint_url": "http://127.0.0.1:9", "key": KEY_ID, "secret": SECRET}
    with pytest.raises(ValueError, match=r"carries credentials \(key, secret\)"):
        (watch if flow == "watch" else bucket_restore).fn("s3://b/in", "s3://b/out", storage_options=opts)


# --- end to end ------------------------------------------------------------------------------


def _tiny_protocol(fs, tmp_path) -> None:
    """Two photos and a two-bin mask index in the bucket (the evaluation protocol's layout)."""
    from skimage import data as skdata

    from ..collections import png_bytes

    for i, p in enumerate([skdata.astronaut(), skdata.coffee()]):
        fs.pipe(f"creds/eval/images/{i}.png", png_bytes(p[:128, :128]))
    rows = ["file,hole_ratio_bin,kind,hole_fraction"]
    for n, (b, side) in enumerate((("0.01-0.1", 12), ("0.1-0.2", 30))):
        m = np.zeros((128, 128), np.uint8)
        m[40:40 + side, 40:40 + side] = 255
        fs.pipe(f"creds/eval/masks/{n:05d}.png", png_bytes(m))
        rows.append(f"{n:05d}.png,{b},no_border_holes,0")
    fs.pipe("creds/eval/masks/index.csv", ("\n".join(rows) + "\n").encode())


@pytest.mark.slow
def _every(read, page: int = 200) -> list:
    """Every object a paged API read returns (one call answers at most the server's limit, and
    other tests of the session share the server)."""
    out = []
    while True:
        got = read(limit=page, offset=len(out))
        out += got
        if len(got) < page:
            return out


def test_no_credential_anywhere_after_real_runs(prefect_server, s3_server, tmp_path, monkeypatch, capfd, caplog):
    import s3fs
    from prefect import get_client
    from prefect.logging.handlers import APILogHandler
    from prefect.settings import get_current_settings

    from flows.restore import run_restore

    caplog.set_level(logging.INFO)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)  # the environment the workers inherit
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    fs = s3fs.S3FileSystem(endpoint_url=s3_server, key=KEY_ID, secret=SECRET, token=TOKEN)
    fs.mkdir("creds")
    good_collection(str(tmp_path / "src"), n=3, size=64)
    fs.put(str(tmp_path / "src") + "/", "creds/in/", recursive=True)
    photo = np.zeros((64, 64, 3), np.uint8) + 90
    from PIL import Image

    fs.pipe("creds/in/broken.jpg", jpeg_bytes(Image.fromarray(photo))[:300])
    fs.pipe("creds/in/denied.png", fs.cat("creds/in/set0/img000.png"))

    with FaultProxy(s3_server) as proxy:
        proxy.add("status", method="GET", path=r"/creds/in/denied\.png", status=403, times=-1)
        opts = {"endpoint_url": proxy.url, "key": KEY_ID, "secret": SECRET, "token": TOKEN}
        s = run_restore("s3://creds/in", "s3://creds/out", n_workers=1, shard_size=2, storage_options=opts)
        proxy.add("status", method="PUT", path=r"/creds/out2/", status=403, times=-1)
        with pytest.raises(Exception) as err:
            run_restore("s3://creds/in", "s3://creds/out2", n_workers=1, shard_size=2, storage_options=opts)
    # the issue-4 flows, through their entry points, with the same options (no proxy: nothing fails)
    from flows.evaluate import run_evaluate
    from flows.train import run_train

    direct = {"endpoint_url": s3_server, "key": KEY_ID, "secret": SECRET, "token": TOKEN}
    _tiny_protocol(fs, tmp_path)
    ev = run_evaluate([], "s3://creds/eval/images", "s3://creds/eval/masks/index.csv", "s3://creds/evalout",
                      n_workers=1, size=64, limit=2, storage_options=direct)
    assert ev["location"].startswith("s3://creds/evalout/eval/") and "| telea |" in ev["markdown"]
    tr = run_train(model="glcic", data=["s3://creds/in/set0"], dest="s3://creds/train", steps=1, batch_size=2,
                   crop=64, model_options={"width": 4}, recipe_options={"d_width": 4}, checkpoint_every=1,
                   num_workers=0, storage_options=direct)
    assert tr["step"] == 1 and tr["card"]["train_config"]["storage_options"] == "<redacted>"
    assert s["ok"] == 3 and s["failed"] == 2, s
    reasons = dict(s["failures"])
    assert "access denied" in reasons["denied.png"] and "truncated" in reasons["broken.jpg"]
    assert "access denied" in str(err.value)

    leaks = _leaks(str(err.value), "the error") + _leaks("".join(traceback.format_exception(err.value)), "traceback")
    fs.invalidate_cache()
    for path in fs.find("creds/out") + fs.find("creds/out2") + fs.find("creds/evalout") + fs.find("creds/train"):
        leaks += _leaks(fs.cat(path), path)
    assert any(p.endswith(".parquet") for p in fs.find("creds/out")) and fs.find("creds/out/runs")

    APILogHandler().flush()
    with get_client(sync_client=True) as client:
        flow_runs = _every(client.read_flow_runs)
        api = {"flow runs": [r.model_dump_json() for r in flow_runs],
               "task runs": [r.model_dump_json() for r in _every(client.read_task_runs)],
               "logs": [r.model_dump_json() for r in _every(client.read_logs)],
               "artifacts": [r.model_dump_json() for r in _every(client.read_artifacts)]}
    for where, items in api.items():
        leaks += _leaks("\n".join(items), where)
    ours = [r for r in flow_runs if r.parameters.get("dest") == "s3://creds/out"]
    assert ours and ours[0].parameters["storage_options"] == {"endpoint_url": proxy.url}
    assert ours[0].parameters["storage_secrets"] == "**********"  # recorded, but masked
    for name, dest in (("evaluate", "s3://creds/evalout"), ("train", "s3://creds/train")):
        (run,) = [r for r in flow_runs if r.parameters.get("dest") == dest]
        assert run.parameters["storage_options"] == {"endpoint_url": s3_server}, name
        assert run.parameters["storage_secrets"] == "**********", name
    assert any("denied.png" in line for line in api["logs"])  # the failure was logged, so logs were read

    db = Path(get_current_settings().server.database.connection_url.get_secret_value().split("///", 1)[1])
    for part in (db, db.with_name(db.name + "-wal")):
        if part.exists():
            blob = part.read_bytes()
            leaks += _leaks(blob, part.name)
    assert proxy.url.encode() in db.read_bytes() + (db.with_name(db.name + "-wal").read_bytes()
                                                    if db.with_name(db.name + "-wal").exists() else b"")

    out, errtext = capfd.readouterr()
    sys.stdout.write(out)
    leaks += _leaks(out, "stdout") + _leaks(errtext, "stderr") + _leaks(caplog.text, "log records")
    assert not leaks, leaks
