"""What `--jpeg-quality source` saves on JPEG photos restored to JPEG outputs.

    python benchmarks/bench_jpeg_source.py [--qualities 75,90]

Six photos of scikit-image (astronaut, coffee, chelsea, rocket, cat, hubble_deep_field), saved as
JPEG at each of ``--qualities`` (4:2:0, as cameras and shops save them), each with a mask file of
LaMa's medium strokes, restored by ``restore_shard`` (Telea, ``--output-format
jpeg``) at the default ``--jpeg-quality 95`` and at ``source``. Printed per source quality: the
outputs' total size against the sources', and the mean absolute change (levels) of the known
pixels, over all of them and over those at least 16 px from the hole (the 8x8 and 16x16 blocks
the fill did not touch), against the decoded source.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _restore import restore_folder  # noqa: E402


def main() -> None:
    import cv2
    import numpy as np
    from PIL import Image
    from skimage import data as skdata

    from inpaint_core.imageio import decode_image
    from inpaint_core.masks.generators import medium
    from inpaint_core.pipeline import RestoreConfig
    from inpaint_core.storage import Location

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--qualities", default="75,90")
    a = p.parse_args()

    names = ("astronaut", "coffee", "chelsea", "rocket", "cat", "hubble_deep_field")
    photos = {n: getattr(skdata, n)()[..., :3] for n in names}
    rng = np.random.default_rng(0)
    print("| source quality | output | size (sources = 1) | change of known pixels | ... 16 px from the hole |")
    print("|---|---|---|---|---|")
    for q in (int(v) for v in a.qualities.split(",")):
        with tempfile.TemporaryDirectory() as root:
            src = Location(os.path.join(root, "src"))
            masks, sources, size = {}, {}, 0
            for name, photo in photos.items():
                buf = io.BytesIO()
                Image.fromarray(photo).save(buf, "JPEG", quality=q, subsampling=2)
                src.write_atomic(f"{name}.jpg", buf.getvalue())
                size += len(buf.getvalue())
                sources[name] = decode_image(buf.getvalue()).rgb
                h, w = photo.shape[:2]
                masks[name] = medium(h, w, rng) > 0
                mbuf = io.BytesIO()
                Image.fromarray(masks[name].astype(np.uint8) * 255).save(mbuf, "PNG")
                src.write_atomic(f"{name}_mask.png", mbuf.getvalue())
            for setting in (95, "source"):
                dest = Location(os.path.join(root, f"out{setting}"))
                rows, _ = restore_folder(src, dest, RestoreConfig(method="telea", output_format="jpeg",
                                                                  jpeg_quality=setting))
                out, near, far = 0, [], []
                for row in rows:
                    name = row["image_id"].rsplit(".", 1)[0]
                    data = row["output"]
                    out += len(data)
                    diff = np.abs(decode_image(data).rgb.astype(int) - sources[name])
                    ring = cv2.dilate(masks[name].astype(np.uint8), np.ones((33, 33), np.uint8)) > 0
                    near.append(diff[~masks[name]].mean())
                    far.append(diff[~ring].mean())
                label = "--jpeg-quality 95 (default)" if setting == 95 else "--jpeg-quality source"
                print(f"| {q} | {label} | {out / size:.2f} | {np.mean(near):.2f} | {np.mean(far):.2f} |")


if __name__ == "__main__":
    main()
