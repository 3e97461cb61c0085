"""Print the README's table of shipped models from their cards (dev evaluation beside the classical methods).

    python benchmarks/model_table.py [--weights inpaint_core/weights] [--bins all|target]

Every figure comes from the card written by ``python -m inpaint_core.training.export``: the
development evaluation (bsds500/val, the shared masks; Telea and Navier-Stokes scored in the same
run, and the tension spline since it exists), parameters, training steps/images/wall time/hardware.
Registered models without shipped weights are listed as such.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from inpaint_core.evaluation import BASELINES  # noqa: E402
from inpaint_core.inpainters import list_inpainters  # noqa: E402
from inpaint_core.models.wrapper import WEIGHTS_DIR  # noqa: E402
from inpaint_core.training.export import TARGET_BINS  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", default=str(WEIGHTS_DIR))
    p.add_argument("--bins", choices=["all", "target"], default="target")
    a = p.parse_args()
    cards = {}
    for f in sorted(Path(a.weights).glob("*.json")):
        card = json.loads(f.read_text())
        if "dev_evaluation" in card:
            cards[card["architecture"]] = card
    if not cards:
        print("no shipped weights with a dev evaluation in", a.weights)
    ref = next(iter(cards.values()), None)
    bins = list(TARGET_BINS)
    if ref and a.bins == "all":
        bins = list(dict.fromkeys(s["bin"] for s in ref["dev_evaluation"]["summary"]))
    head = "| model | params (M) | trained (steps / images / hours, hardware) | ms/image 256px | " + \
        " | ".join(f"{b} PSNR / SSIM" for b in bins) + " |"
    print(head)
    print("|" + "---|" * (4 + len(bins)))

    def row(name, summary, params="-", trained="-", timed=True):
        by = {s["bin"]: s for s in summary if s["method"] == name}
        ms = f"{sum(by[b]['ms_per_image'] for b in by) / max(1, len(by)):.0f}" if timed else "-"
        cells = [f"{by[b]['psnr']:.2f} / {by[b]['ssim']:.3f}" if b in by else "-" for b in bins]
        print(f"| {name} | {params} | {trained} | {ms} | " + " | ".join(cells) + " |")

    for base in BASELINES:  # from the first card that scored it (cards exported before a baseline existed lack it)
        scored = [c for c in cards.values() if any(s["method"] == base for s in c["dev_evaluation"]["summary"])]
        if scored:
            row(base, scored[0]["dev_evaluation"]["summary"], trained="classical")
    def trained(card):
        hours = card.get("wall_seconds", 0) / 3600
        text = f"{card.get('steps', '?')} / {card.get('images_seen', '?')} / {hours:.2f} h, {card.get('hardware', '?')}"
        init = card.get("init_from") or {}
        fill = (card.get("config") or {}).get("prefill")
        return text + (f" + the {'spline ' if fill == 'spline' else ''}pre-fill head"
                       if init.get("architecture") == "prefill_head" else "")

    for head_card in sorted((Path(a.weights) / "parts").glob("prefill_head*.json")):
        # the shared pretrained heads alone (over Telea, over the spline): what each network adds is the difference
        card = json.loads(head_card.read_text())
        if "dev_evaluation" in card:
            # evaluated behind an idle network (docs/models.md), so its timing is not its own
            row(head_card.stem, card["dev_evaluation"]["summary"], f"{card['parameters'] / 1e6:.3f}", trained(card),
                timed=False)
    for name, card in sorted(cards.items()):
        row(name, card["dev_evaluation"]["summary"], f"{card['parameters'] / 1e6:.2f}", trained(card))
    for name in sorted(set(list_inpainters("learned")) - set(cards)):
        print(f"| {name} | - | no shipped weights (docs/models.md) | - | " + " | ".join("-" for _ in bins) + " |")
    if ref and len({json.dumps(c["dev_evaluation"]["summary"][0]) for c in cards.values()}) > 1:
        print("\nThe classical rows are from the first card that scored them; each card holds its own baselines.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
