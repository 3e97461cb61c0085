"""The development protocol's data for benchmarks: where it lies and the options that point to it."""

from __future__ import annotations

import argparse
import os
import sys

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data")


def protocol_parser(doc: str, limit: int | None) -> argparse.ArgumentParser:
    """A parser with ``--images``, ``--masks`` (the shared protocol's by default) and ``--limit``
    (images per bin; ``None``: all 100), described by the first line of ``doc``."""
    p = argparse.ArgumentParser(description=doc.split("\n")[0])
    p.add_argument("--images", default=os.path.join(SHARED, "bsds500", "val"))
    p.add_argument("--masks", default=os.path.join(SHARED, "masks", "nvidia_irregular", "index.csv"))
    p.add_argument("--limit", type=int, default=limit,
                   help=f"images per bin (default {limit} of 100)" if limit else "images per bin (default: all 100)")
    return p


def require_images(images: str) -> None:
    """Exit with a clear message where the shared data is not on this machine."""
    if not os.path.isdir(images):
        sys.exit(f"no evaluation images at {images} (the shared data is not on this machine)")
