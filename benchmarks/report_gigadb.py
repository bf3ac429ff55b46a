"""The semi-synthetic benchmark report on a real confocal pair (GigaDB mito, held-out region).

Run from the repository root (needs ../shared/data), after training a model on the
training region with ``calibration_gigadb.py``::

    python benchmarks/calibration_gigadb.py --steps 600 --scale 4 --out /tmp/gigadb_x4
    python benchmarks/report_gigadb.py --model /tmp/gigadb_x4/calibrated/model_best.pt

Columns 768-1023 of the 1024 x 1024 low-/high-SNR pair were never used for
calibration or training. They are cut into a top and a bottom half (two pairs, so
the Gaussian baseline of each is tuned on the other), written as TIFFs, and
benchmarked with ``data="semi-synthetic"``: the LR is the low-SNR image decimated
by the model's scale; the reference is the high-SNR image.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from pssr_nb.benchmark import BenchmarkParams, gain_over_best_baseline, run
from pssr_nb.calibrate import CalibrateParams, calibrate_pairs
from pssr_nb.io import read_image, write_tiff

FOLDER = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "gigadb_hagen_pairs"
SPLIT = 768


def held_out_pairs(out: Path, low: np.ndarray | None = None) -> list[tuple[Path, Path]]:
    """The held-out region of the mito pair as two (low-SNR, high-SNR) TIFF pairs.

    ``low``, a whole-field image at the HR pixel size, replaces the real low-SNR scan
    (``probe_gigadb_noise.py`` scores synthetic noise at the same pixels).
    """
    pairs = []
    images = {
        snr: read_image(FOLDER / f"mito-confocal_{snr}.png").data for snr in ("lowsnr", "highsnr")
    }
    if low is not None:
        images["lowsnr"] = low
    for half, rows in (("top", slice(0, 512)), ("bottom", slice(512, 1024))):
        paths = []
        for snr, data in images.items():
            path = out / snr / f"mito_{half}.tif"
            write_tiff(path, data[rows, SPLIT:], "YX", {}, overwrite=True)
            paths.append(path)
        pairs.append((paths[0], paths[1]))
    return pairs


def training_pair_files(out: Path) -> tuple[Path, Path]:
    """The training region's pair (columns 0-767) as TIFFs: the low-SNR scan at the HR
    pixel size and the high-SNR scan, for ``--val-lr/--val-hr --val-semi-synthetic``."""
    paths = []
    for snr in ("lowsnr", "highsnr"):
        data = read_image(FOLDER / f"mito-confocal_{snr}.png").data
        path = out / snr / "mito_train.tif"
        write_tiff(path, data[:, :SPLIT], "YX", {}, overwrite=True)
        paths.append(path)
    return paths[0], paths[1]


def training_region(scale: int) -> tuple[np.ndarray, np.ndarray, Any]:
    """The training region's pair (LR = low-SNR decimated by ``scale``, HR = high-SNR,
    columns 0-767, float32) and the crappifier calibrated on it, as a user would."""
    low = read_image(FOLDER / "mito-confocal_lowsnr.png").data.astype(np.float32)
    high = read_image(FOLDER / "mito-confocal_highsnr.png").data.astype(np.float32)
    lr, hr = low[::scale, :SPLIT:scale], high[:, :SPLIT]
    calibration = calibrate_pairs([(lr, hr)], CalibrateParams(scale=scale), ["train"])
    return lr, hr, calibration.crappifier


def score_held_out(model: Any, out: Path, pairs: list[tuple[Path, Path]]) -> dict[str, Any]:
    """``pssr-nb benchmark``'s scores of ``model`` on the held-out pairs (semi-synthetic,
    CARE, no TTA): the best baseline, the gains over it, the room the noisy reference
    leaves above that baseline and the benchmark's summary."""
    bench = run(BenchmarkParams(data="semi-synthetic", tta=False), model, out, pairs=pairs)
    psnr = gain_over_best_baseline(bench.scores, "psnr")
    ssim = gain_over_best_baseline(bench.scores, "ssim")
    return {
        "best_baseline": psnr["best_baseline"],
        "gain_db": psnr["gain_mean"],
        "gain_sd_images": psnr["gain_sd"],
        "gain_ssim": ssim["gain_mean"],
        "ceiling": {k: v for k, v in bench.headline["ceiling"].items() if k != "text"},
        "summary": bench.summary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a model trained on columns 0-767")
    parser.add_argument("--out", default=None, help="report folder (default: a temporary one)")
    args = parser.parse_args()
    if not FOLDER.is_dir():
        raise SystemExit(f"{FOLDER} not found: this benchmark needs ../shared/data")
    out = Path(args.out or tempfile.mkdtemp(prefix="pssr_nb_report_gigadb_"))
    pairs = held_out_pairs(out / "held_out")
    result = run(
        BenchmarkParams(data="semi-synthetic"),
        args.model,
        out / "report",
        pairs=pairs,
        overwrite=True,
    )
    print("| method | PSNR (dB) | SSIM | MS-SSIM | geometry errors |")
    print("|---|---|---|---|---|")
    for r in result.summary:
        print(
            f"| {r['method']} | {r['psnr_mean']:.2f} ± {r['psnr_sd']:.2f} | {r['ssim_mean']:.3f} "
            f"| {r['ms_ssim_mean']:.3f} | {r['geometry_errors']} |"
        )
    print(result.headline["text"])
    print(result.headline["ceiling"]["text"])
    for name, by_method in result.frc.items():
        for method, curve in by_method.items():
            print(f"FRC {name} {method}: {curve.summary()}")
    print("uncertainty vs error, Spearman:", result.uncertainty and result.uncertainty["spearman"])
    print("flat noise:", result.flat_noise["rows"])
    print(f"{result.seconds:.0f} s; report: {out / 'report' / 'report.html'}")


if __name__ == "__main__":
    main()
