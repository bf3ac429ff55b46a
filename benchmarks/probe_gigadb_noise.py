"""Is the GigaDB gap the crappifier's noise? Score trained models on three kinds of LR.

Run from the repository root (needs ../shared/data), on models trained on the training
region by ``bench_transfer.py`` (its ``--out`` folder keeps them)::

    python benchmarks/bench_transfer.py --held-out "GigaDB confocal" --minutes 8 \\
        --pretrained pssr_nb/sample_models/fluorescence_x4.pt --arms fine-tuned --out /tmp/g
    python benchmarks/probe_gigadb_noise.py --models /tmp/g/GigaDB_confocal/fine-tuned_*/model_best.pt

Two questions about the real low-SNR scan of the mito pair:

1. **What noise does the detector make?** Where the scan is photon-limited, a pixel is 0
   exactly when it counted no photon, so the fraction of zeros at a signal level gives the
   photon count there (``-ln P(0)``) whatever the detector's gain. With the mean and
   variance of the same pixels it gives the mean pulse height of one photon and the excess
   noise factor ``F = E[A²] / E[A]²`` (1: every photon the same height, as the
   crappifier's Poisson step draws; 2: exponential pulse heights, as an electron-
   multiplying detector gives). The calibration's photon count, fitted from the variance
   alone, is the true count divided by ``F``.
2. **Does that shape cost the model anything?** The held-out columns are scored as
   ``bench_transfer.py`` scores them (``report_gigadb.score_held_out``: the same prediction
   path, CARE, every baseline), with three LRs at the same pixels: the real low-SNR scan;
   the calibrated crappifier's Poisson noise drawn on the high-SNR scan (what the models
   were trained on); Poisson counts at ``F`` times the calibrated photons with exponential
   pulse heights (the same variance, the detector's shape). If the models did much
   better on the crappifier's own noise than on the real scan, the noise model would be
   what limits them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report_gigadb import (  # noqa: E402
    FOLDER,
    SPLIT,
    held_out_pairs,
    score_held_out,
    training_region,
)

from pssr_nb.crappify import Crappifier, Poisson  # noqa: E402
from pssr_nb.data import Source  # noqa: E402
from pssr_nb.io import ImageData, read_image  # noqa: E402
from pssr_nb.point_scan import PointScanParams  # noqa: E402

SCALE = 4
#: Signal-level bins of the detector table; only those with 5-95 % zeros are photon-limited.
BINS = 20


def detector_table(low: np.ndarray, high: np.ndarray) -> list[dict[str, float]]:
    """Photons, mean pulse height and excess noise factor per signal level of the low-SNR scan."""
    level = ndimage.gaussian_filter(high, 1.0)  # the high-SNR scan, smoothed, sorts pixels
    edges = np.percentile(level, np.linspace(0, 100, BINS + 1))
    index = np.digitize(level, edges[1:-1])
    rows = []
    for i in range(BINS):
        values = low[index == i]
        zeros = float(np.mean(values == 0))
        if not 0.05 < zeros < 0.95:
            continue
        photons = -np.log(zeros)
        mean, var = float(values.mean()), float(values.var())
        rows.append(
            {
                "level": float(level[index == i].mean()),
                "zeros": zeros,
                "photons": photons,
                "pulse": mean / photons,
                "excess": var * photons / mean**2,
            }
        )
    return rows


def noisy_copies(high: np.ndarray, photons: float, excess: float, seed: int) -> dict:
    """The high-SNR scan with the crappifier's Poisson noise, and with the detector's shape.

    Both at the HR pixel size (the benchmark decimates) and in the HR's normalised units,
    the units training crappified in (an affine change of an LR changes no score: the model
    measures its own input units and every score is CARE-fitted).
    """
    x = Source(ImageData(high.astype(np.float32), "YX", {})).normalization.apply(high)
    poisson = Crappifier([Poisson(photons)])(x.astype(np.float32), seed=seed)
    rng = np.random.default_rng(seed)
    counted = rng.poisson(np.clip(x, 0, None) * photons * excess)
    shape = 1 / (excess - 1)  # pulse heights Gamma(shape), mean 1; a sum of n is Gamma(n shape)
    heights = np.where(counted > 0, rng.gamma(np.maximum(counted * shape, 1e-9)) / shape, 0.0)
    return {"crappifier": np.asarray(poisson), "detector": heights / (photons * excess)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--models", nargs="+", required=True, help="models trained on columns 0-767"
    )
    parser.add_argument("--seed", type=int, default=7, help="noise seed of the synthetic LRs")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    if not FOLDER.is_dir():
        raise SystemExit(f"{FOLDER} not found: this benchmark needs ../shared/data")
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_probe_gigadb_"))
    low = read_image(FOLDER / "mito-confocal_lowsnr.png").data.astype(np.float64)
    high = read_image(FOLDER / "mito-confocal_highsnr.png").data.astype(np.float64)
    table = detector_table(low[:, :SPLIT], high[:, :SPLIT])
    print("| high-SNR level | zeros | photons | mean pulse (grey) | excess noise factor |")
    print("|---|---|---|---|---|")
    for r in table:
        print(
            f"| {r['level']:.1f} | {r['zeros']:.2f} | {r['photons']:.2f} | {r['pulse']:.1f} "
            f"| {r['excess']:.2f} |"
        )
    excess = float(np.median([r["excess"] for r in table]))
    crappifier = training_region(SCALE)[2]
    photons = PointScanParams.from_crappifier(crappifier.typical()).photons  # a range: its centre
    print(
        f"calibrated: {photons:.2f} photons at intensity 1 (Poisson); detector: excess noise "
        f"factor {excess:.2f}, so about {photons * excess:.1f} photons counted"
    )
    lrs = {"real scan": low, **noisy_copies(high, photons, excess, args.seed)}
    print(
        "| LR of the held-out columns | gain over the best baseline (dB), per model | mean | SSIM gain, mean |"
    )
    print("|---|---|---|---|")
    for name, lr in lrs.items():
        folder = out / name.replace(" ", "_")
        pairs = held_out_pairs(folder, low=lr.astype(np.float32))
        scores = [score_held_out(m, folder / f"bench{i}", pairs) for i, m in enumerate(args.models)]
        gains = [s["gain_db"] for s in scores]
        ssims = [s["gain_ssim"] for s in scores]
        print(
            f"| {name} | {', '.join(f'{g:+.2f}' for g in gains)} | {np.mean(gains):+.2f} ± "
            f"{np.std(gains, ddof=1) if len(gains) > 1 else 0:.2f} | {np.mean(ssims):+.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
