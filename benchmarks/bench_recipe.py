"""The quickstart under training recipes and seeds: gain over the best baseline.

Run from the repository root, e.g.::

    python benchmarks/bench_recipe.py --variants default scratch --seeds 0 1 2
    python benchmarks/bench_recipe.py --specimen fluorescence --minutes 3 --variants default scratch l1

Every run is ``pssr_nb.demo.run`` (simulate, calibrate, train, predict, score on the
one scoreboard) with the quickstart's defaults except what the variant changes. Each
line of ``--results`` (JSON lines, appended, so a long sweep can be stopped and
continued) holds one run: variant, seed, steps, and the gain over the best baseline
(mean over the held-out images). The table printed at the end is mean ± SD over seeds.
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from pssr_nb.demo import DemoParams
from pssr_nb.demo import run as demo
from pssr_nb.models import PRESETS

#: name -> (DemoParams fields, TrainParams fields, CalibrateParams fields)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "default": ({}, {}, {}),  # start auto: the sample model of the specimen, else scratch
    "sample": ({"start": "sample"}, {}, {}),
    "sample_lr1e-3": ({"start": "sample"}, {"learning_rate": 1e-3}, {}),
    "sample_lr1e-4": ({"start": "sample"}, {"learning_rate": 1e-4}, {}),
    "sample_dose2": ({"start": "sample"}, {}, {"dose_range": 2.0}),
    "sample_l1": ({"start": "sample"}, {"loss": "l1"}, {}),
    "sample_mse": ({"start": "sample"}, {"loss": "mse"}, {}),
    "scratch": ({"start": "scratch"}, {}, {}),
    "dose2": ({"start": "scratch"}, {}, {"dose_range": 2.0}),
    "msssim_l1": ({"start": "scratch"}, {"loss": "msssim_l1"}, {}),
    "sample_msssim_l1": ({"start": "sample"}, {"loss": "msssim_l1"}, {}),
    "l1": ({"start": "scratch"}, {"loss": "l1"}, {}),
    "mse": ({"start": "scratch"}, {"loss": "mse"}, {}),
    "lr3e-3": ({"start": "scratch"}, {"learning_rate": 3e-3}, {}),
    "lr3e-4": ({"start": "scratch"}, {"learning_rate": 3e-4}, {}),
    "tile64": ({"start": "scratch"}, {"tile": 64, "batch_size": 16}, {}),
    "batch4": ({"start": "scratch"}, {"batch_size": 4}, {}),
    "medium": ({"start": "scratch", "preset": "medium"}, {}, {}),
    "medium_shuffle": ({"start": "scratch", "preset": "medium"}, {}, {}),
    "scratch_shuffle": ({"start": "scratch"}, {}, {}),
}
#: Variants that change the network of every preset (``ModelConfig`` fields).
NETWORK: dict[str, dict[str, Any]] = {
    "scratch_shuffle": {"upsampler": "shuffle"},
    "medium_shuffle": {"upsampler": "shuffle"},
}


def _one(variant: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    demo_fields, training, calibration = VARIANTS[variant]
    params = DemoParams(specimen=args.specimen, minutes=args.minutes, seed=seed, **demo_fields)
    out = Path(tempfile.mkdtemp(prefix="pssr_nb_recipe_"))
    saved = copy.deepcopy(PRESETS)
    for preset in PRESETS.values():
        preset.update(NETWORK.get(variant, {}))
    try:
        report = demo(params, out, progress=False, training=training, calibration=calibration)
    finally:
        PRESETS.clear()
        PRESETS.update(saved)
    psnr, ssim = report["headline"]["psnr"], report["headline"]["ssim"]
    return {
        "specimen": args.specimen,
        "minutes": args.minutes,
        "variant": variant,
        "seed": seed,
        "steps": report["training"]["steps"],
        "training_seconds": report["training"]["training_seconds"],
        "best_baseline": psnr["best_baseline"],
        "gain_db": psnr["gain_mean"],
        "gain_ssim": ssim["gain_mean"],
        "model_psnr": report["summary"]["model"]["psnr_mean"],
        "grid_excess_db": {m: s.get("grid_excess_db_mean") for m, s in report["summary"].items()},
    }


def _mean_sd(values: list[float], digits: int) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.{digits}f} ± {sd:.{digits}f}"


def table(rows: list[dict[str, Any]]) -> str:
    """Mean ± SD over seeds per (specimen, minutes, variant)."""
    keys = dict.fromkeys((r["specimen"], r["minutes"], r["variant"]) for r in rows)
    lines = ["| data | minutes | variant | seeds | steps | gain dB | gain SSIM |", "|---" * 7 + "|"]
    for spec, minutes, variant in keys:
        mine = [
            r
            for r in rows
            if (r["specimen"], r["minutes"], r["variant"]) == (spec, minutes, variant)
        ]

        steps = round(statistics.mean(r["steps"] for r in mine))
        lines.append(
            f"| {spec} phantoms | {minutes:g} | {variant} | {len(mine)} | {steps} | "
            f"{_mean_sd([r['gain_db'] for r in mine], 2)} | "
            f"{_mean_sd([r['gain_ssim'] for r in mine], 3)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["default"], choices=sorted(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--specimen", default="em", choices=("em", "fluorescence"))
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--results", default="recipe_results.jsonl")
    args = parser.parse_args()
    path = Path(args.results)
    for seed in args.seeds:  # seeds outermost: a stopped sweep has every variant at some seeds
        for variant in args.variants:
            row = _one(variant, seed, args)
            print(json.dumps(row), flush=True)
            with open(path, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(table(rows))


if __name__ == "__main__":
    main()
