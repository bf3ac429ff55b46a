"""Short CPU training on a real EM stack; score held-out slices against sample-aligned bicubic.

Run from the repository root (needs ../shared/data):

    python benchmarks/train_real_em.py --minutes 5

HR: the ISBI 2012 serial-section EM volume (15 slices of 512 x 512, ~4 nm
pixels). Slices 0-11 train the small preset with a point-scan crappifier
(4x decimation, Poisson noise at 20-200 photons); slices 12-14 are held
out. Each held-out slice is crappified with a fixed seed at three dose levels;
the model and the aligned bicubic of the same LR image are scored against the
HR slice (normalised units, data range 1).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import torch

from pssr_nb import __version__
from pssr_nb.crappify import Crappifier, Downsample, Poisson
from pssr_nb.data import Source
from pssr_nb.io import read_image
from pssr_nb.metrics import psnr, ssim
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.sampling import upsample
from pssr_nb.train import TrainParams
from pssr_nb.train import run as train

STACK = (
    Path(__file__).resolve().parents[1]
    / ".."
    / "shared"
    / "data"
    / "isbi2012_sstem_stack"
    / "isbi2012_train_volume_z00-14_15x512x512.tif"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="training folder (default: a temporary one)")
    args = parser.parse_args()
    if not STACK.is_file():
        raise SystemExit(f"{STACK} not found: this benchmark needs ../shared/data")

    image = read_image(STACK)
    train_part = image.__class__(image.data[:12], "ZYX", image.pixel_size, image.path)
    crappifier = Crappifier([Downsample(4), Poisson((20.0, 200.0))])
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_real_em_"))
    result = train(
        TrainParams(minutes=args.minutes, modality="serial-section EM", seed=args.seed),
        [Source(train_part)],
        out,
        crappifier=crappifier,
    )
    model = result.model
    held_out = Source(image.__class__(image.data[12:], "ZYX", image.pixel_size, image.path))
    rows = []
    for z in range(held_out.n_frames):
        hr = held_out.normalization.apply(image.data[12 + z])
        for photons in (20.0, 60.0, 200.0):
            lr = Crappifier([Downsample(4), Poisson(photons)])(hr, seed=1000 + z)
            pred = predict_image(model, lr, PredictParams(device="cpu"))
            sr = pred.normalization.invert(pred.data, "float32")
            bic = upsample(lr, 4, crappifier.offset, "bicubic")
            rows.append(
                {
                    "slice": 12 + z,
                    "photons": photons,
                    "model_psnr": psnr(sr, hr, 1.0),
                    "bicubic_psnr": psnr(bic, hr, 1.0),
                    "model_ssim": ssim(sr, hr, 1.0),
                    "bicubic_ssim": ssim(bic, hr, 1.0),
                }
            )
    print(
        f"pssr_nb {__version__}, python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs; {result.summary['steps']} steps in "
        f"{result.summary['training_seconds']:.0f} s ({result.summary['device']})"
    )
    print("| photons | model PSNR | bicubic PSNR | gain (dB) | model SSIM | bicubic SSIM |")
    print("|---|---|---|---|---|---|")
    for photons in (20.0, 60.0, 200.0):
        sel = [r for r in rows if r["photons"] == photons]
        m = {k: float(np.mean([r[k] for r in sel])) for k in sel[0] if k.endswith(("psnr", "ssim"))}
        print(
            f"| {photons:g} | {m['model_psnr']:.2f} | {m['bicubic_psnr']:.2f} | "
            f"{m['model_psnr'] - m['bicubic_psnr']:+.2f} | {m['model_ssim']:.3f} | {m['bicubic_ssim']:.3f} |"
        )
    (out / "held_out_scores.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"per-slice scores: {out / 'held_out_scores.json'}")


if __name__ == "__main__":
    main()
