"""What the fault tests share: a restartable moto server, checks of a destination, the figures.

Every test that injects faults records its figures (faults injected, runs, rows lost) with
:func:`record`; ``benchmarks/fault_report.py`` runs the tests with ``INPAINT_FAULT_REPORT`` set and
prints the table of ``docs/reliability.md``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from dataclasses import dataclass, field

import pytest

from ..conftest import free_port

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp")


class MotoServer:
    """moto's S3 server on a fixed loopback port that can be restarted (its data lives in the process)."""

    def __init__(self):
        self.port = free_port()
        self._server = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        from moto.server import ThreadedMotoServer

        for _ in range(50):
            try:
                self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
                self._server.start()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto could not bind its port again")

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server._server.server_close()  # stop() alone keeps the socket: no "connection refused"
            self._server = None


@pytest.fixture(scope="module")
def moto():
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = MotoServer()
    server.start()
    yield server
    server.stop()


def s3fs_for(endpoint: str):
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint, skip_instance_cache=True)


def upload(local_dir: str, fs, target: str) -> None:
    fs.put(local_dir.rstrip("/") + "/", target.rstrip("/") + "/", recursive=True)


@dataclass
class DestCheck:
    """What a user reading the destination finds."""

    rows: int = 0
    ok_rows_per_image: dict = field(default_factory=dict)
    latest_ok: dict = field(default_factory=dict)  # image_id -> (output_uri, output_sha256)
    bad_outputs: list = field(default_factory=list)  # latest ok rows whose object is missing or differs
    runs: int = 0

    def lost(self, expected: set[str]) -> int:
        return len(expected - set(self.latest_ok))

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.ok_rows_per_image.values() if n > 1)


def check_dest(dest: str, storage_options: dict | None = None) -> DestCheck:
    """Read the manifest the way users do (every part of every run), check each image's latest
    ``ok`` row against its output object (exists, same sha256)."""
    from inpaint_core.manifest import latest_rows, read_manifest
    from inpaint_core.storage import Location, read_uri

    loc = Location(dest, storage_options or {})
    table = read_manifest(loc)
    out = DestCheck(rows=table.num_rows)
    rows = table.to_pylist()
    out.runs = len({r["run_id"] for r in rows})
    for r in rows:
        if r["status"] == "ok":
            out.ok_rows_per_image[r["image_id"]] = out.ok_rows_per_image.get(r["image_id"], 0) + 1
    for r in latest_rows(table).to_pylist():
        if r["status"] != "ok":
            continue
        out.latest_ok[r["image_id"]] = (r["output_uri"], r["output_sha256"])
        try:
            data = read_uri(r["output_uri"], storage_options or {})
        except FileNotFoundError:
            out.bad_outputs.append((r["image_id"], "missing"))
            continue
        if hashlib.sha256(data).hexdigest() != r["output_sha256"]:
            out.bad_outputs.append((r["image_id"], "hash differs"))
    return out


class PartialReader(threading.Thread):
    """Polls a destination while a run writes it: every listed image must decode and every listed
    Parquet file must read. Hidden names (``.x.tmp``, temporaries) are what readers skip."""

    def __init__(self, dest: str, storage_options: dict | None = None, every_s: float = 0.05):
        super().__init__(daemon=True)
        from inpaint_core.storage import Location

        self.loc = Location(dest, storage_options or {})
        self.every_s = every_s
        self.stop_event = threading.Event()
        self.checked = self.polls = 0
        self.partial: list[tuple[str, str]] = []

    def run(self) -> None:
        import pyarrow.parquet as pq
        from PIL import Image

        seen: set[str] = set()
        while True:  # after stop() one more pass: everything written by then is checked too
            stopping = self.stop_event.is_set()
            self.polls += 1
            try:
                listing = self.loc.fs.find(self.loc.root, detail=True)
            except Exception:  # noqa: BLE001 - the store may be down (a fault test): list again later
                listing = {}
            if not self.loc.is_local:
                self.loc.fs.invalidate_cache()
            for path, info in listing.items():
                name = path.rsplit("/", 1)[-1]
                sig = f"{path}|{info.get('size')}|{info.get('mtime') or info.get('ETag') or info.get('LastModified')}"
                if name.startswith(".") or sig in seen:
                    continue
                low = name.lower()
                if not (low.endswith(IMAGE_EXTS) or low.endswith(".parquet")):
                    continue
                try:
                    data = self.loc.fs.cat_file(path)
                except Exception:  # noqa: BLE001 - gone, or the store is down: not a partial object
                    continue
                try:
                    if low.endswith(".parquet"):
                        pq.read_table(io.BytesIO(data))
                    else:
                        with Image.open(io.BytesIO(data)) as im:
                            im.load()
                    seen.add(sig)
                    self.checked += 1
                except Exception as exc:  # noqa: BLE001 - any failure to read is a partial object
                    self.partial.append((path, f"{type(exc).__name__}: {exc}"))
            if stopping:
                return
            time.sleep(self.every_s)

    def stop(self) -> "PartialReader":
        self.stop_event.set()
        self.join(30)
        return self


def record(promise: str, test: str, faults: int, runs_completed: int, rows_lost: int, **extra) -> None:
    """Append the figures of one fault test to ``$INPAINT_FAULT_REPORT`` (JSON lines), when set."""
    line = {"promise": promise, "test": test, "faults_injected": faults, "runs_completed": runs_completed,
            "rows_lost": rows_lost, **extra}
    print("fault figures:", json.dumps(line))
    path = os.environ.get("INPAINT_FAULT_REPORT")
    if path:
        with open(path, "a") as fh:
            fh.write(json.dumps(line) + "\n")
