"""Does calibration pay? Train on a real confocal pair with the calibrated vs the default crappifier.

Run from the repository root (needs ../shared/data):

    python benchmarks/calibration_gigadb.py --steps 600 --scale 4   # ~5 min on 2 CPU cores
    python benchmarks/calibration_gigadb.py --steps 300 --scale 2   # ~12 min
    python benchmarks/calibration_gigadb.py --steps 300 --scale 1   # denoising; ~35 min on CPU

Data: the GigaDB (Hagen et al. 2021) mito-confocal low/high-SNR pair, 1024 x 1024,
registered, at one pixel size. Columns 0-767 are the training region, columns
768-1023 are held out. With ``--scale 1`` the task is denoising (LR = low-SNR
image); with ``--scale s > 1`` it is semi-synthetic super-resolution: the LR is the
low-SNR image decimated by ``s`` (what a point scan at s x larger pixels with the
same dwell records).

1. Calibrate the crappifier on the training region's pair only (no peeking).
2. Train the default preset twice for the same number of steps and seed on the
   training region's high-SNR image: with the calibrated crappifier, and with
   ``Crappifier.default`` (a broad range of photons and read noise).
3. Predict the held-out LR region; score against the held-out high-SNR region
   after CARE normalisation (percentile-normalised truth, affine-fitted
   prediction; the two files were contrast-stretched independently), beside the
   bicubic (or, at scale 1, the raw low-SNR) baseline.
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
from pssr_nb.calibrate import CalibrateParams, calibrate_pairs
from pssr_nb.crappify import Crappifier
from pssr_nb.data import Source
from pssr_nb.io import ImageData, read_image
from pssr_nb.metrics import care_normalize, psnr, ssim
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.sampling import upsample
from pssr_nb.train import TrainParams
from pssr_nb.train import run as train

FOLDER = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gigadb_hagen_pairs"
SPLIT = 768  # columns left of this train, right of it are held out


def score(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    fitted, target = care_normalize(pred, truth)
    return {"psnr": psnr(fitted, target, 1.0), "ssim": ssim(fitted, target, 1.0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600, help="training steps per model")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output folder (default: a temporary one)")
    args = parser.parse_args()
    if not FOLDER.is_dir():
        raise SystemExit(f"{FOLDER} not found: this benchmark needs ../shared/data")
    s = args.scale
    low = read_image(FOLDER / "mito-confocal_lowsnr.png").data.astype(np.float32)
    high = read_image(FOLDER / "mito-confocal_highsnr.png").data.astype(np.float32)
    lr_full = low[::s, ::s]
    train_lr, train_hr = lr_full[:, : SPLIT // s], high[:, :SPLIT]
    test_lr, test_hr = lr_full[:, SPLIT // s :], high[:, SPLIT:]
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_calibration_gigadb_"))

    calibration = calibrate_pairs([(train_lr, train_hr)], CalibrateParams(scale=s), ["train"])
    calibration.save(out / "calibrate", overwrite=True)
    print(f"calibration: {calibration.seconds:.1f} s, chosen {calibration.ranking.chosen.family}")
    print(calibration.crappifier.describe())

    crappifiers = {"calibrated": calibration.crappifier, "default": Crappifier.default(s)}
    source = [Source(ImageData(train_hr, "YX", {}, FOLDER / "mito-confocal_highsnr.png"))]
    if s == 1:
        baseline = test_lr
    else:
        baseline = upsample(test_lr, s, calibration.crappifier.offset, "bicubic")
    rows = {"baseline (bicubic)" if s > 1 else "baseline (low-SNR input)": score(baseline, test_hr)}
    for name, crappifier in crappifiers.items():
        params = TrainParams(scale=s, steps=args.steps, seed=args.seed, modality="confocal")
        result = train(params, source, out / name, crappifier=crappifier, progress=False)
        pred = predict_image(result.model, test_lr, PredictParams(device="cpu"))
        rows[f"model, {name} crappifier"] = {
            **score(pred.data, test_hr),
            "steps": result.summary["steps"],
        }
    print(
        f"pssr_nb {__version__}, python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs; scale {s}, {args.steps} steps per model, seed {args.seed}"
    )
    print("| held-out region | PSNR (dB) | SSIM | steps |")
    print("|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['psnr']:.2f} | {r['ssim']:.3f} | {r.get('steps', '')} |")
    (out / "scores.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(f"results: {out}")


if __name__ == "__main__":
    main()
