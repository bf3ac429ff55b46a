"""The quickstart under training recipes and seeds: gain over the best baseline.

Run from the repository root, e.g.::

    python benchmarks/bench_recipe.py --variants default scratch --seeds 0 1 2
    python benchmarks/bench_recipe.py --specimen fluorescence --minutes 3 --variants default scratch l1
    python benchmarks/bench_recipe.py --variants sample_dose1 sample_dose2 --doses 0.5 1 2

Every run is ``pssr_nb.demo.run`` (simulate, calibrate, train, predict, score on the
one scoreboard) with the quickstart's defaults except what the variant changes. Each
line of ``--results`` (JSON lines, appended, so a long sweep can be stopped and
continued) holds one run: variant, seed, steps, and the gain over the best baseline
(mean over the held-out images). The table printed at the end is mean ± SD over seeds.

``--doses`` also scores each trained model on scans at other doses than the training
pairs': the quickstart's held-out fields of view simulated again with the LR dwell time
scaled (0.5 = half the electrons or photons per pixel: twice as noisy), against the
baselines with the Gaussian tuned on training fields of view *at that dose* (a baseline that
knows the test scan's noise; the model was trained at the calibrated dose or range).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from pssr_nb.benchmark import BenchmarkParams, headline, score_cases
from pssr_nb.demo import TEST_SEEDS, TRAIN_SEEDS, DemoParams, field_cases
from pssr_nb.demo import run as demo
from pssr_nb.model_file import TrainedModel
from pssr_nb.models import PRESETS
from pssr_nb.phantoms import MICROSCOPES, default_microscope, simulate

#: name -> (DemoParams fields, TrainParams fields, CalibrateParams fields)
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any], dict[str, Any]]] = {
    "default": ({}, {}, {}),  # start auto: the sample model of the specimen, else scratch
    "sample": ({"start": "sample"}, {}, {}),
    "sample_lr1e-3": ({"start": "sample"}, {"learning_rate": 1e-3}, {}),
    "sample_lr1e-4": ({"start": "sample"}, {"learning_rate": 1e-4}, {}),
    "sample_dose2": ({"start": "sample"}, {}, {"dose_range": 2.0}),  # the default since 2026-12-06
    "sample_dose1": ({"start": "sample"}, {}, {"dose_range": 1.0}),  # the calibrated dose only
    "sample_l1": ({"start": "sample"}, {"loss": "l1"}, {}),
    "sample_mse": ({"start": "sample"}, {"loss": "mse"}, {}),
    "scratch": ({"start": "scratch"}, {}, {}),
    "dose2": ({"start": "scratch"}, {}, {"dose_range": 2.0}),
    "dose1": ({"start": "scratch"}, {}, {"dose_range": 1.0}),
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


def at_dose(model: TrainedModel, params: DemoParams, dose: float) -> dict[str, float]:
    """Gain over the best baseline on the run's held-out fields scanned at ``dose`` x the dwell."""
    microscope = MICROSCOPES[default_microscope(params.specimen)]
    microscope = dataclasses.replace(microscope, lr_dwell_us=microscope.lr_dwell_us * dose)

    def fields(first: int, n: int):
        shape = (params.size, params.size)
        return [
            simulate(params.specimen, shape, params.scale, seed=first + i, microscope=microscope)
            for i in range(n)
        ]

    tests = [
        (f"field {i}", ps.normalization("lr").apply(ps.lr), ps.truth, ps.pixel_size)
        for i, ps in enumerate(fields(params.seed + TEST_SEEDS, params.n_test))
    ]
    tuning = [
        (ps.normalization("lr").apply(ps.lr), ps.truth)
        for ps in fields(params.seed + TRAIN_SEEDS, params.n_train)
    ]
    cases = field_cases(model, tests, tuning)
    best = headline(score_cases(cases, BenchmarkParams()))
    return {
        "best_baseline": best["psnr"]["best_baseline"],
        "gain_db": best["psnr"]["gain_mean"],
        "gain_ssim": best["ssim"]["gain_mean"],
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
    model = TrainedModel.load(out / "model" / "model_best.pt")
    doses = {f"{dose:g}": at_dose(model, params, dose) for dose in args.doses}
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
        "doses": doses,
        "run_folder": str(out),
    }


def _mean_sd(values: list[float], digits: int) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):+.{digits}f} ± {sd:.{digits}f}"


def _groups(rows: list[dict[str, Any]]) -> dict[tuple[str, float, str], list[dict[str, Any]]]:
    """The runs of each (specimen, minutes, variant), in the order first met."""
    groups: dict[tuple[str, float, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["specimen"], r["minutes"], r["variant"]), []).append(r)
    return groups


def table(rows: list[dict[str, Any]]) -> str:
    """Mean ± SD over seeds per (specimen, minutes, variant), then per test dose."""
    lines = ["| data | minutes | variant | seeds | steps | gain dB | gain SSIM |", "|---" * 7 + "|"]
    for (spec, minutes, variant), mine in _groups(rows).items():
        steps = round(statistics.mean(r["steps"] for r in mine))
        lines.append(
            f"| {spec} phantoms | {minutes:g} | {variant} | {len(mine)} | {steps} | "
            f"{_mean_sd([r['gain_db'] for r in mine], 2)} | "
            f"{_mean_sd([r['gain_ssim'] for r in mine], 3)} |"
        )
    return "\n".join(lines + _dose_table(rows))


def _dose_table(rows: list[dict[str, Any]]) -> list[str]:
    """Gain over the best baseline per test dose, mean ± SD over seeds (``--doses`` runs)."""
    rows = [r for r in rows if r.get("doses")]
    doses = list(dict.fromkeys(d for r in rows for d in r["doses"]))
    if not doses:
        return []
    lines = ["", "| data | minutes | variant | " + " | ".join(f"dose {d}x" for d in doses) + " |"]
    lines.append("|---" * (len(doses) + 3) + "|")
    for (spec, minutes, variant), mine in _groups(rows).items():
        cells = []
        for d in doses:
            gains = [r["doses"][d]["gain_db"] for r in mine if d in r["doses"]]
            cells.append(_mean_sd(gains, 2) if gains else "—")
        lines.append(f"| {spec} phantoms | {minutes:g} | {variant} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", nargs="+", default=["default"], choices=sorted(VARIANTS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--specimen", default="em", choices=("em", "fluorescence"))
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--results", default="recipe_results.jsonl")
    parser.add_argument(
        "--doses",
        nargs="+",
        type=float,
        default=[],
        help="also score on scans at these multiples of the training dwell (e.g. 0.5 1 2)",
    )
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
