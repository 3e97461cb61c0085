"""A multi-page fax document through a run: what its TIFF output holds and costs.

    python benchmarks/bench_documents.py [--pages 20] [--repeat 3]

A letter of ``--pages`` pages (A4 at 200 dpi, 1728 x 2339, bilevel lines of text drawn by OpenCV,
CCITT G4, as document archives and fax servers store them), with two punch holes on each page
scanned as black disks, which a sibling mask file marks on the first page. It is restored by
``restore_shard`` (Telea, ``--output-format same``) and its output is measured beside the output
the same restored first page had before 2026-11-29: one page, 8-bit gray, LZW (``encode_image``
without the source's storage or pages). Also printed: the encode time with and without the pages
copied (best of ``--repeat``) and whether each copied page's compressed bytes are the source's.
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


def page_of_text(rng, number: int, shape: tuple[int, int]):
    import cv2
    import numpy as np

    page = np.full(shape, 255, np.uint8)
    words = ["restoration", "archive", "letter", "the", "of", "and", "received", "1927", "council", "minutes"]
    y = 160
    while y < shape[0] - 160:
        line = " ".join(rng.choice(words, 7))
        cv2.putText(page, line, (180, y), cv2.FONT_HERSHEY_SIMPLEX, 1.3, 0, 2, cv2.LINE_8)
        y += 56
    cv2.putText(page, f"- {number} -", (shape[1] // 2 - 40, shape[0] - 80), cv2.FONT_HERSHEY_SIMPLEX, 1.0, 0, 2)
    return page


def main() -> None:
    import cv2
    import numpy as np
    import tifffile
    from PIL import Image

    from inpaint_core.imageio import decode_image, encode_image
    from inpaint_core.pipeline import RestoreConfig
    from inpaint_core.storage import Location

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pages", type=int, default=20)
    p.add_argument("--repeat", type=int, default=3)
    a = p.parse_args()

    rng = np.random.default_rng(0)
    shape = (2339, 1728)
    holes = np.zeros(shape, np.uint8)
    for y in (shape[0] // 3, shape[0] * 2 // 3):
        cv2.circle(holes, (70, y), 36, 255, -1)
    frames = []
    for k in range(a.pages):
        page = page_of_text(rng, k + 1, shape)
        page[holes > 0] = 0  # the punch holes, scanned black
        frames.append(Image.fromarray(page).convert("1"))
    buf = io.BytesIO()
    frames[0].save(buf, "TIFF", compression="group4", dpi=(200, 200), save_all=True, append_images=frames[1:])
    source = buf.getvalue()
    mask = io.BytesIO()
    Image.fromarray(cv2.dilate(holes, np.ones((5, 5), np.uint8))).save(mask, "PNG")
    print(f"letter: {a.pages} pages of {shape[1]}x{shape[0]}, bilevel CCITT G4, {len(source) / 1e6:.2f} MB")

    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "src"))
        for name, blob in (("letter.tif", source), ("letter_mask.png", mask.getvalue())):
            with open(os.path.join(root, "src", name), "wb") as f:
                f.write(blob)
        src, dest = Location(os.path.join(root, "src")), Location(os.path.join(root, "dest"))
        [row], elapsed = restore_folder(src, dest, RestoreConfig(method="telea", output_format="same"))
        out = row["output"]
    restored = decode_image(out)
    print(f"run: {row['status']}, pages {row['pages']}, mask_source {row['mask_source']}, hole "
          f"{row['hole_fraction']:.4f}, {elapsed:.2f} s")
    image = decode_image(source)
    with_pages, _ = best(lambda: encode_image(restored.rgb, "tiff", gray=True, dpi=image.dpi,
                                              tiff_storage=image.tiff_storage, pages_from=image.document), a.repeat)
    first_only, alone = best(lambda: encode_image(restored.rgb, "tiff", gray=True, dpi=image.dpi,
                                              tiff_storage=image.tiff_storage), a.repeat)
    before_time, before = best(lambda: encode_image(restored.rgb, "tiff", gray=True), a.repeat)
    with tifffile.TiffFile(io.BytesIO(out)) as got, tifffile.TiffFile(io.BytesIO(source)) as was:
        first = got.pages[0]
        same = sum([out[o:o + n] for o, n in zip(g.dataoffsets, g.databytecounts)]
                   == [source[o:o + n] for o, n in zip(w.dataoffsets, w.databytecounts)]
                   for g, w in zip(got.pages[1:], was.pages[1:]))
        print("| output | pages | first page | size | encode |")
        print("|---|---|---|---|---|")
        print(f"| now | {len(got.pages)} ({same} copied byte for byte) | {first.bitspersample}-bit, compression "
              f"{first.compression}: {len(alone) / 1e3:.1f} kB | {len(out) / 1e6:.2f} MB | {with_pages:.3f} s "
              f"({first_only:.3f} s without the other pages) |")
    print(f"| before 2026-11-29 | 1 | 8-bit gray, LZW: {len(before) / 1e3:.1f} kB | {len(before) / 1e6:.2f} MB "
          f"| {before_time:.3f} s |")
    ring = cv2.dilate(holes, np.ones((31, 31), np.uint8)) > 0
    print(f"punch holes: {(restored.rgb[..., 0][holes > 0] == 255).mean():.1%} of their pixels white after "
          f"the fill; known pixels changed: {(restored.rgb != image.rgb)[~ring].sum()}")


if __name__ == "__main__":
    main()
