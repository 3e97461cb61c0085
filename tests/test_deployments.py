"""Deployments under a real Prefect server: schedules, triggers, and the bucket trigger end to end.

The end-to-end test runs what a user runs: the deployments of ``deployments/deploy.py`` on a
process work pool, ``prefect worker start`` in a subprocess, the watcher flow, moto's S3 server
on loopback. The test harness's server runs the event services (reactive and proactive triggers,
actions) but not the scheduler, which no test here needs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest

from deployments.deploy import NAMES, DeployConfig, build_deployments, deploy_all

from .collections import good_collection

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


def _client():
    from prefect.client.orchestration import get_client

    return get_client(sync_client=True)


def _automations_of(client, deployment_id):
    return [a for a in client.read_automations()
            if any(getattr(act, "deployment_id", None) == deployment_id for act in a.actions)]


def test_deployments_are_created_with_schedules_and_triggers(prefect_server, tmp_path):
    cfg = DeployConfig(watch_prefix=str(tmp_path / "in"), dest=str(tmp_path / "out"), timezone="America/New_York",
                       work_pool="inpaint-test-process", debounce_s=45, watch_interval_s=20,
                       fid_weights="s3://w/pt_inception.pth")
    ids = deploy_all(cfg)
    assert len(ids) == len(NAMES) == 5
    with _client() as client:
        assert client.read_work_pool("inpaint-test-process").type == "process"
        nightly = client.read_deployment_by_name("restore/nightly-restore")
        (sched,) = nightly.schedules
        assert sched.schedule.cron == "0 2 * * *" and sched.schedule.timezone == "America/New_York" and sched.active
        assert nightly.parameters["source"] == str(tmp_path / "in") and nightly.parameters["method"] == "telea"
        assert nightly.work_pool_name == "inpaint-test-process"
        assert nightly.global_concurrency_limit is not None and nightly.global_concurrency_limit.limit == 1

        weekly = client.read_deployment_by_name("evaluate/evaluate-weekly")
        assert weekly.schedules[0].schedule.cron == "0 4 * * 0"
        assert weekly.parameters["images"].endswith("bsds500/val")
        assert weekly.parameters["fid_weights"] == "s3://w/pt_inception.pth"
        assert weekly.parameters["lpips_backbone"] is None

        watcher = client.read_deployment_by_name("watch-prefix/watch-incoming")
        assert watcher.schedules[0].schedule.interval == timedelta(seconds=20)
        assert watcher.parameters["prefix"] == str(tmp_path / "in")

        training = client.read_deployment_by_name("train/train-model")
        assert not training.schedules and training.work_pool_name == "inpaint-test-process"
        assert training.parameters["model"] == "context_encoder" and training.parameters["dest"].endswith("{model}")
        assert [p.rsplit("/", 2)[-2] for p in training.parameters["data"]] == ["imagenette", "bsds500"]
        assert training.global_concurrency_limit.limit == 1  # one run at a time on the (GPU) pool

        bucket = client.read_deployment_by_name("bucket-restore/bucket-restore")
        assert not bucket.schedules
        (automation,) = _automations_of(client, bucket.id)
        trigger = automation.trigger
        assert trigger.posture == "Proactive" and trigger.threshold == 1
        assert trigger.after == trigger.expect == {"inpaint.object.landed"}
        assert trigger.within == timedelta(seconds=45)
        assert trigger.match.root["prefect.resource.id"] == f"inpaint.prefix.file://{tmp_path / 'in'}"
        assert trigger.for_each == {"prefect.resource.id"}
        assert "{{ event.id }}" in automation.actions[0].parameters["triggered_by"]


def test_prefect_yaml_deploys_the_same_deployments(prefect_server):
    import yaml
    from prefect.settings import PREFECT_API_URL

    from deployments.deploy import ensure_work_pool

    spec = yaml.safe_load((REPO / "deployments" / "prefect.yaml").read_text())
    by_name = {d["name"]: d for d in spec["deployments"]}
    assert set(by_name) == set(NAMES)
    python_side = {d.name: d for d in build_deployments(DeployConfig())}
    for name, d in by_name.items():  # same flows; every parameter is one the flow takes
        module, _, func = d["entrypoint"].partition(":")
        flow = getattr(__import__(module[:-3].replace("/", "."), fromlist=[func]), func)
        assert flow.name == python_side[name].flow_name
        assert set(d["parameters"]) <= set(flow.parameters.properties), name

    ensure_work_pool("inpaint-process")
    done = subprocess.run([sys.executable, "-m", "prefect", "--no-prompt", "deploy", "--prefect-file",
                           "deployments/prefect.yaml", "--all"], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with _client() as client:
        for name in NAMES:
            dep = client.read_deployment_by_name(f"{python_side[name].flow_name}/{name}")
            assert dep.work_pool_name == "inpaint-process" and dep.parameters == by_name[name]["parameters"]
        nightly = client.read_deployment_by_name("restore/nightly-restore")
        assert nightly.schedules[0].schedule.timezone == "Europe/Berlin"
        bucket = client.read_deployment_by_name("bucket-restore/bucket-restore")
        (automation,) = _automations_of(client, bucket.id)
        assert automation.trigger.posture == "Proactive" and automation.trigger.within == timedelta(seconds=60)
        # the event templates reach the server untouched (prefect deploy must not render them)
        assert automation.actions[0].parameters["triggered_by"].startswith("{{ event.event }}")


def test_dask_cluster_class_by_import_path(prefect_server, monkeypatch):
    from prefect import flow, task

    from flows.runners import make_task_runner

    monkeypatch.setenv("INPAINT_DASK_CLUSTER", "distributed.LocalCluster")
    monkeypatch.setenv("INPAINT_DASK_CLUSTER_KWARGS", json.dumps({"n_workers": 1, "processes": False,
                                                                  "dashboard_address": None}))
    runner = make_task_runner()
    assert runner.cluster_class == "distributed.LocalCluster" and runner.cluster_kwargs["n_workers"] == 1

    @task
    def where() -> str:
        from distributed import get_worker

        return get_worker().address

    @flow(task_runner=runner)
    def probe() -> str:
        return where.submit().result()

    assert probe().startswith(("inproc://", "tcp://"))
    monkeypatch.setenv("INPAINT_DASK_CLUSTER_KWARGS", "[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        make_task_runner()


# --- the bucket trigger, end to end ------------------------------------------------------------

@pytest.fixture
def process_worker(prefect_server, s3_server):
    """``prefect worker start`` on a process pool, reporting to the test server."""
    from prefect.settings import PREFECT_API_URL

    pool = "inpaint-e2e"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_WORKER_PREFETCH_SECONDS": "5", "INPAINT_DASK_WORKERS": "1",
           "DASK_LOGGING__DISTRIBUTED": "warning", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "prefect", "worker", "start", "--pool", pool, "--type", "process"],
                            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        yield pool
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _bucket_runs(deployment_name: str = "bucket-restore/bucket-restore"):
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId

    with _client() as client:
        dep = client.read_deployment_by_name(deployment_name)
        return client.read_flow_runs(deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[dep.id])))


def _wait_for_runs(n: int, timeout: float = 120.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        runs = _bucket_runs()
        if len(runs) >= n and all(r.state and r.state.is_final() for r in runs):
            return runs
        time.sleep(1.0)
    raise AssertionError(f"expected {n} finished bucket-restore run(s) within {timeout:.0f} s, got "
                         f"{[(r.name, r.state_name) for r in _bucket_runs()]}")


def _restored(fs) -> list[str]:
    return sorted(p.split("/images/", 1)[1] for p in fs.find("landing/restored/images"))


def test_uploads_lead_to_one_debounced_bucket_restore_run_then_another_for_new_ones(
        prefect_server, s3_server, process_worker, tmp_path):
    import s3fs

    from flows.watch import watch

    fs = s3fs.S3FileSystem(endpoint_url=s3_server)
    fs.mkdir("landing")
    opts = {"endpoint_url": s3_server}
    prefix, dest = "s3://landing/incoming", "s3://landing/restored"
    masks = good_collection(str(tmp_path / "photos"), n=5, size=64)
    keys = sorted(masks)

    def upload(some):
        for key in some:
            stem = key.rsplit(".", 1)[0]
            for name in (f"{stem}_mask.png", key):  # the mask first, as the docs ask
                fs.put(str(tmp_path / "photos" / name), f"landing/incoming/{name}")

    cfg = DeployConfig(watch_prefix=prefix, dest=dest, storage_options=opts, debounce_s=10, settle_s=0,
                       work_pool=process_worker)
    deploy_all(cfg, names=("bucket-restore",))

    # A burst reported over two polls: two events, one run.
    upload(keys[:2])
    assert watch(prefix, dest, settle_seconds=0, storage_options=opts)["new"] == 2
    upload(keys[2:3])
    assert watch(prefix, dest, settle_seconds=0, storage_options=opts)["new"] == 1
    (first,) = _wait_for_runs(1)
    assert first.state.is_completed(), first.state
    assert first.parameters["triggered_by"].startswith("inpaint.object.landed ")
    time.sleep(6)  # past the next proactive evaluation (every 5 s): no second run appears on its own
    assert len(_bucket_runs()) == 1
    assert _restored(fs) == keys[:3]

    # More objects later: another run, for the new ones only.
    upload(keys[3:])
    assert watch(prefix, dest, settle_seconds=0, storage_options=opts)["new"] == 2
    runs = _wait_for_runs(2)
    assert len(runs) == 2 and all(r.state.is_completed() for r in runs)
    assert _restored(fs) == keys
    summaries = [json.loads(fs.cat_file(p)) for p in sorted(fs.find("landing/restored/runs")) if p.endswith(".json")]
    assert sorted(s["images"] for s in summaries) == [2, 3] and all(s["failed"] == 0 for s in summaries)


def test_the_train_deployment_trains_on_its_own_pool(prefect_server, process_worker, tmp_path):
    """``train-model`` on the pool named by ``INPAINT_TRAIN_WORK_POOL`` (a GPU machine's, in real use),
    run from the API with parameters, as the UI's "Run" does: a real worker trains into ``{model}``."""
    from prefect.deployments import run_deployment

    photos = tmp_path / "photos"
    good_collection(str(photos), n=4, size=64)
    cfg = DeployConfig(work_pool="inpaint-test-other", train_work_pool=process_worker,
                       train_data=[str(photos)], train_dest=str(tmp_path / "models" / "{model}"))
    deploy_all(cfg, names=("train-model",))
    run = run_deployment("train/train-model", timeout=240, parameters={
        "model": "glcic", "steps": 2, "batch_size": 2, "crop": 64, "num_workers": 0, "checkpoint_every": 2,
        "model_options": {"width": 4}, "recipe_options": {"d_width": 4}})
    assert run.state.is_completed(), run.state
    assert run.name == f"train glcic -> {tmp_path / 'models' / 'glcic'}"
    card = json.loads((tmp_path / "models" / "glcic" / "glcic.json").read_text())
    assert card["steps"] == 2 and card["training_data"] == [str(photos)]
