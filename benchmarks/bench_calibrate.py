"""Time calibration of a 1024 x 1024 pair (target: under 30 s on 2 CPU cores).

Run from the repository root:

    python benchmarks/bench_calibrate.py

Times the physical estimate alone and the full calibration (12 families,
Bayesian optimisation, ranking) on a simulated EM pair (scale 4: a 256 x 256 LR
scan of a 1024 x 1024 HR field) and, when ../shared/data is present, on the
real GigaDB mito-confocal low/high-SNR pair (1024 x 1024, scale 1).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from pssr_nb import __version__
from pssr_nb.calibrate import CalibrateParams, calibrate_pairs
from pssr_nb.io import read_image
from pssr_nb.phantoms import simulate

GIGADB = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gigadb_hagen_pairs"


def pairs() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    ps = simulate("em", (1024, 1024), 4, seed=0)
    out = {"phantom EM, 1024 HR / 256 LR (scale 4)": (ps.lr, ps.hr, 4)}
    if GIGADB.is_dir():
        low = read_image(GIGADB / "mito-confocal_lowsnr.png").data
        high = read_image(GIGADB / "mito-confocal_highsnr.png").data
        out["GigaDB mito-confocal, 1024 (scale 1)"] = (low, high, 1)
    return out


def main() -> None:
    print(
        f"pssr_nb {__version__}, python {platform.python_version()}, torch {torch.__version__}, "
        f"{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}"
    )
    print("| pair | physical estimate (s) | full calibration (s) | chosen family | families |")
    print("|---|---|---|---|---|")
    for name, (lr, hr, scale) in pairs().items():
        params = CalibrateParams(scale=scale)
        t = time.perf_counter()
        calibrate_pairs([(lr, hr)], params, fit=False)
        physical = time.perf_counter() - t
        t = time.perf_counter()
        calibration = calibrate_pairs([(lr, hr)], params)
        full = time.perf_counter() - t
        chosen = calibration.ranking.chosen.family
        n = len(calibration.ranking.results)
        print(f"| {name} | {physical:.2f} | {full:.1f} | {chosen} | {n} |")


if __name__ == "__main__":
    main()
