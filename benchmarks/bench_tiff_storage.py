"""What keeping a TIFF source's storage costs and saves: an orthophoto COG's layout through a run.

    python benchmarks/bench_tiff_storage.py [--side 4096] [--quality 95] [--repeat 3]

An orthophoto-like RGB tile (skimage's astronaut, coffee and chelsea, resized and laid side by
side, ``--side`` pixels square) stored as GDAL stores orthophotos: JPEG tiles of 512 px (YCbCr,
quality 75), overviews at 2, 4 and 8, and an internal nodata mask over a 6% block and strip whose
pixels are JPEG noise around black. It is restored by ``restore_shard`` (Telea, ``--output-format
same``) and the output's size and the run's time are printed beside the same restored pixels
written as outputs were before 2026-11-29 (LZW strips, no overviews: ``encode_image`` without a
storage), with each encode's time (best of ``--repeat``) and the fraction of the masked pixels the
``solid`` detector finds (what ``--masks auto`` used before it read the mask).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from _restore import restore_folder  # noqa: E402
from _timing import best  # noqa: E402


def main() -> None:
    import cv2
    import numpy as np
    import tifffile
    from skimage import data as skdata

    from inpaint_core.imageio import decode_image, encode_image
    from inpaint_core.masks import detect_mask
    from inpaint_core.pipeline import RestoreConfig
    from inpaint_core.storage import Location

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--side", type=int, default=4096)
    p.add_argument("--quality", type=int, default=95, help="--jpeg-quality of the run")
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()

    side = a.side
    parts = [cv2.resize(getattr(skdata, name)()[..., :3], (side // 3 + 1, side)) for name in
             ("astronaut", "coffee", "chelsea")]
    photo = np.ascontiguousarray(np.hstack(parts)[:, :side])
    valid = np.ones((side, side), bool)
    valid[side // 4:side // 4 + side // 5, side // 3:side // 3 + side // 5] = False
    valid[side * 3 // 4:side * 3 // 4 + side // 50, :] = False
    photo[~valid] = 0
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(photo, photometric="rgb", tile=(512, 512), compression="jpeg", compressionargs={"level": 75},
                  metadata=None)
        tif.write(valid, subfiletype=4, photometric=4, compression="zlib", tile=(512, 512), metadata=None)
        for level in (2, 4, 8):
            small = cv2.resize(photo, (side // level, side // level), interpolation=cv2.INTER_AREA)
            tif.write(small, photometric="rgb", tile=(512, 512), compression="jpeg", compressionargs={"level": 75},
                      subfiletype=1, metadata=None)
    source = buf.getvalue()
    decoded = decode_image(source)
    found, _ = detect_mask(decoded.rgb, ("solid",))
    print(f"orthophoto {side}x{side}, JPEG tiles q75 + 3 overviews + internal mask over "
          f"{(~valid).mean():.1%}: {len(source) / 1e6:.2f} MB; the solid detector finds "
          f"{(found & ~valid).sum() / (~valid).sum():.1%} of the masked pixels "
          f"(and {(found & valid).sum()} others)")

    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "src"))
        with open(os.path.join(root, "src", "ortho.tif"), "wb") as f:
            f.write(source)
        src, dest = Location(os.path.join(root, "src")), Location(os.path.join(root, "dest"))
        [row], elapsed = restore_folder(src, dest, RestoreConfig(method="telea", output_format="same",
                                                                 jpeg_quality=a.quality))
        out = row["output"]
    restored = decode_image(out)
    print(f"run: {row['status']}, mask_source {row['mask_source']}, hole {row['hole_fraction']:.4f} "
          f"(masked {(~valid).mean():.4f}), {elapsed:.2f} s")
    kept, _ = best(lambda: encode_image(restored.rgb, "tiff", tiff_storage=restored.tiff_storage,
                                        jpeg_quality=a.quality), a.repeat)
    lzw_time, lzw = best(lambda: encode_image(restored.rgb, "tiff"), a.repeat)
    with tifffile.TiffFile(io.BytesIO(out)) as tif:
        pages = len(tif.pages)
    print("| output | size | encode |")
    print("|---|---|---|")
    print(f"| source's storage (JPEG q{a.quality} tiles, {pages - 1} overviews) | {len(out) / 1e6:.2f} MB "
          f"| {kept:.2f} s |")
    print(f"| LZW strips, no overviews (before) | {len(lzw) / 1e6:.2f} MB | {lzw_time:.2f} s |")
    print(f"ratio: {len(lzw) / len(out):.1f}x smaller; mean abs change of the known pixels "
          f"{np.abs(restored.rgb.astype(int) - decoded.rgb)[valid].mean():.2f} levels (JPEG again)")


if __name__ == "__main__":
    main()
