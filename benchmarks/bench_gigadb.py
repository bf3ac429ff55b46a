"""GigaDB confocal, semi-synthetic x4, a time budget per run: the gain over the best baseline.

Run from the repository root (needs ../shared/data)::

    python benchmarks/bench_gigadb.py --minutes 8 --variants fine-tune scratch --seeds 0 1 2

The quality issue's target: at 8 CPU minutes, at least bicubic + tuned Gaussian + 0.5 dB
and a higher SSIM. Each run, as a user with this pair would do it:

1. calibrate the crappifier on the training region's pair (columns 0-767) only;
2. train for ``--minutes`` on the training region's high-SNR image, from scratch or
   fine-tuning the shipped ``fluorescence_x4``;
3. benchmark the held-out columns 768-1023 (two pairs, top and bottom) with
   ``pssr-nb benchmark``'s code (``data="semi-synthetic"``: the LR is the low-SNR image
   decimated by 4, the reference the high-SNR image; CARE normalisation; every baseline,
   the Gaussian tuned on the other pair).

One JSON line per run is appended to ``--jsonl``; a Markdown summary (mean ± SD over
seeds) is printed at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_gigadb import FOLDER, held_out_pairs, score_held_out, training_region  # noqa: E402

from pssr_nb.data import Source  # noqa: E402
from pssr_nb.io import ImageData  # noqa: E402
from pssr_nb.train import TrainParams  # noqa: E402
from pssr_nb.train import run as train  # noqa: E402

SCALE = 4
#: Where training starts, by variant name.
STARTS = {"scratch": "", "fine-tune": "fluorescence_x4"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--variants", nargs="+", default=list(STARTS), choices=list(STARTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--jsonl", default="gigadb_runs.jsonl")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not FOLDER.is_dir():
        raise SystemExit(f"{FOLDER} not found: this benchmark needs ../shared/data")
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_bench_gigadb_"))
    _, train_hr, crappifier = training_region(SCALE)
    source = [Source(ImageData(train_hr, "YX", {}, FOLDER / "mito-confocal_highsnr.png"))]
    pairs = held_out_pairs(out / "held_out")
    runs = []
    for variant in args.variants:
        for seed in args.seeds:
            folder = out / f"{variant}_seed{seed}"
            params = TrainParams(
                scale=SCALE,
                minutes=args.minutes,
                seed=seed,
                init=STARTS[variant],
                modality="confocal",
            )
            start = time.perf_counter()
            result = train(params, source, folder / "train", crappifier, progress=False)
            wall = time.perf_counter() - start
            scores = score_held_out(folder / "train" / "model_best.pt", folder / "benchmark", pairs)
            row = {
                "variant": variant,
                "seed": seed,
                "minutes": args.minutes,
                "steps": result.summary["steps"],
                "train_wall_s": round(wall, 1),
                **scores,
            }
            runs.append(row)
            with open(args.jsonl, "a") as fh:
                fh.write(json.dumps(row) + "\n")
            print(
                f"{variant} seed {seed}: {row['steps']} steps in {wall:.0f} s, "
                f"{row['gain_db']:+.2f} dB, SSIM {row['gain_ssim']:+.3f} over {row['best_baseline']}",
                flush=True,
            )
    print("| start | minutes | steps | gain over best baseline (dB) | SSIM gain |")
    print("|---|---|---|---|---|")
    for variant in args.variants:
        rows = [r for r in runs if r["variant"] == variant]
        gains = np.array([r["gain_db"] for r in rows])
        ssims = np.array([r["gain_ssim"] for r in rows])
        print(
            f"| {variant} | {args.minutes:g} | {int(np.mean([r['steps'] for r in rows]))} | "
            f"{gains.mean():+.2f} ± {gains.std():.2f} ({', '.join(f'{g:+.2f}' for g in gains)}) | "
            f"{ssims.mean():+.3f} ± {ssims.std():.3f} |"
        )


if __name__ == "__main__":
    main()
