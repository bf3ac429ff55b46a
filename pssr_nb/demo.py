"""The end-to-end quickstart on built-in phantoms (``pssr-nb demo``).

Runs every step that exists, in order, into one output folder: simulate
phantoms (training and held-out fields of view), write the crappifier that
matches the simulated microscope, crappify a batch of training tiles, predict
the held-out LR images, and score every prediction against the noiseless
truth. Until the model engine lands, the predictions are the honest
interpolation baselines (nearest, bilinear, bicubic with each LR sample at its
acquired position), and the report also shows what a half-pixel geometry
error (PSSR2's bilinear convention) costs.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import __version__
from .crappify import Crappifier
from .data import HRDataset, Source, load_sources
from .io import write_tiff
from .metrics import nrmse, psnr, ssim
from .params import param, to_dict
from .phantoms import SimulateParams, simulate
from .phantoms import run as simulate_run
from .sampling import upsample


@dataclasses.dataclass
class DemoParams:
    """Settings of the quickstart."""

    specimen: str = param(
        "em", "Phantom to use: em or fluorescence.", choices=("em", "fluorescence")
    )
    size: int = param(256, "HR image size in pixels.")
    scale: int = param(4, "Super-resolution factor.")
    n_train: int = param(4, "Training fields of view.")
    n_test: int = param(2, "Held-out fields of view (different seeds).")
    seed: int = param(0, "Random seed.")


def run(params: DemoParams, out_dir: str | Path) -> dict[str, Any]:
    """Run the quickstart into ``out_dir`` and return the report (also written as ``report.json``)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    train = SimulateParams(
        params.specimen, params.size, params.scale, n_images=params.n_train, seed=params.seed
    )
    test = dataclasses.replace(train, n_images=params.n_test, seed=params.seed + 1000)
    simulate_run(train, out / "data" / "train", overwrite=True)
    simulate_run(test, out / "data" / "test", overwrite=True)
    timings["simulate"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    reference = simulate(
        params.specimen, (params.size, params.size), params.scale, seed=params.seed
    )
    crappifier = reference.equivalent_crappifier()
    crappifier.save(out / "crappifier.json")
    sources = load_sources(out / "data" / "train" / "hr")
    tiles = HRDataset(
        sources, tile=min(128, params.size), scale=params.scale, length=8, seed=params.seed
    )
    batch = np.stack([tiles[i].numpy() for i in range(len(tiles))])
    crappified = crappifier(batch, seed=params.seed)
    timings["crappify"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    scores = _predict_and_score(params, out, crappifier)
    timings["predict_and_score"] = time.perf_counter() - t2

    report = {
        "pssr_nb_version": __version__,
        "params": to_dict(params),
        "steps_run": ["simulate", "crappify", "baseline prediction", "benchmark"],
        "steps_pending": ["calibrate", "train", "model prediction"],
        "crappifier": crappifier.to_dict(),
        "crappified_batch_shape": list(crappified.shape),
        "noise_check": _noise_check(reference, crappifier, params.seed),
        "scores": scores,
        "summary": _summary(scores),
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    _overview_figure(reference, crappifier, params, out / "overview.png")
    return report


def _predict_and_score(
    params: DemoParams, out: Path, crappifier: Crappifier
) -> list[dict[str, Any]]:
    """Interpolation baselines on the held-out LR images, scored against the truth."""
    scores = []
    s = params.scale
    for name in sorted(p.name for p in (out / "data" / "test" / "lr").glob("*.tif")):
        seed = int(Path(name).stem.split("_")[-1])
        ps = simulate(params.specimen, (params.size, params.size), s, seed=seed)
        lr = ps.normalization("lr").apply(Source(out / "data" / "test" / "lr" / name).data)
        truth = ps.truth
        data_range = float(truth.max() - truth.min())
        methods = {
            f"{m}": upsample(lr, s, crappifier.offset, m)
            for m in ("nearest", "bilinear", "bicubic")
        }
        # what a crappifier whose geometry is off by (s-1)/2 HR pixels would teach a model to expect
        methods["bicubic_misaligned"] = upsample(lr, s, (s - 1) / 2, "bicubic")
        for method, pred in methods.items():
            if method == "bicubic":
                write_tiff(
                    out / "predictions" / method / name,
                    pred.astype(np.float32),
                    "YX",
                    ps.pixel_size,
                    overwrite=True,
                )
            scores.append(
                {
                    "image": name,
                    "method": method,
                    "psnr": psnr(pred, truth, data_range),
                    "ssim": ssim(pred, truth, data_range),
                    "nrmse": nrmse(pred, truth),
                }
            )
    return scores


def _summary(scores: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for method in dict.fromkeys(s["method"] for s in scores):
        rows = [s for s in scores if s["method"] == method]
        out[method] = {
            f"{k}_{stat}": float(fn([r[k] for r in rows]))
            for k in ("psnr", "ssim", "nrmse")
            for stat, fn in (("mean", np.mean), ("sd", np.std))
        }
    return out


def _noise_check(reference, crappifier: Crappifier, seed: int) -> dict[str, float]:
    """Compare the real LR scan with the crappified truth: residual spread about the truth."""
    truth_lr = reference.truth[:: reference.scale, :: reference.scale]
    real = reference.normalization("lr").apply(reference.lr) - truth_lr
    synthetic = crappifier(reference.truth, seed=seed) - truth_lr
    return {
        "real_lr_residual_sd": float(real.std()),
        "crappified_residual_sd": float(synthetic.std()),
    }


def _overview_figure(reference, crappifier: Crappifier, params: DemoParams, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plotting import image_grid

    lr = reference.normalization("lr").apply(reference.lr)
    fig = image_grid(
        {
            "truth (noiseless HR)": reference.truth,
            "HR scan": reference.hr,
            "LR scan (real-like)": reference.lr,
            "crappified HR": crappifier(
                reference.normalization("hr").apply(reference.hr), seed=params.seed
            ),
            "bicubic, aligned": upsample(lr, params.scale, crappifier.offset, "bicubic"),
            "bicubic, misaligned": upsample(lr, params.scale, (params.scale - 1) / 2, "bicubic"),
        }
    )
    fig.savefig(path, dpi=80)
    plt.close(fig)
