"""``inpaint serve``, as a user runs it: its own Prefect server, the deployments, a worker; an image
copied into the watched folder comes out restored; SIGTERM stops everything it started."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from .collections import good_collection
from .conftest import free_port

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen, log) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f"inpaint serve exited with {proc.returncode} before {what}:\n{log.read_text()[-3000:]}")
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout:.0f} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


@pytest.mark.slow
def test_serve_restores_what_lands_and_stops_everything_on_sigterm(tmp_path):
    import psutil

    port, watched, dest, log = free_port(), tmp_path / "incoming", tmp_path / "restored", tmp_path / "serve.log"
    env = {**os.environ, "PREFECT_API_URL": "", "PREFECT_HOME": str(tmp_path / "prefect-home"),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "serve", "--watch", str(watched), "--dest",
                                 str(dest), "--port", str(port), "--watch-interval", "3", "--debounce", "3",
                                 "--settle", "0.5"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait(lambda: "Prefect UI:" in log.read_text(), 180, "ready message", proc, log)
        assert _healthy(f"http://127.0.0.1:{port}/api/health")
        text = log.read_text()
        for name in ("nightly-restore", "bucket-restore", "evaluate-weekly", "watch-incoming"):
            assert name in text
        assert f"file://{watched}" in text  # the folder it watches, as the user reads it

        good_collection(str(tmp_path / "stage"), n=1, size=64)  # a photo with its sibling mask, mask first
        shutil.copy(tmp_path / "stage/set0/img000_mask.png", watched)
        shutil.copy(tmp_path / "stage/set0/img000.png", watched)
        _wait(lambda: (dest / "images" / "img000.png").exists() and (dest / "manifest").exists(), 240,
              "restored image", proc, log)
        assert "bucket-restore" in log.read_text()

        children = psutil.Process(proc.pid).children(recursive=True)
        assert any("server" in " ".join(c.cmdline()) for c in children)
        assert any("worker" in " ".join(c.cmdline()) for c in children)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=90) == 0  # like Ctrl-C: a clean stop
        _, alive = psutil.wait_procs(children, timeout=60)
        assert not alive, [p.cmdline()[:5] for p in alive]
        assert not _healthy(f"http://127.0.0.1:{port}/api/health")
    finally:
        if proc.poll() is None:
            proc.kill()
