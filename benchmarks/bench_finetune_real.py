"""Fine-tuned vs scratch vs pretrained-only vs the best baseline, on real EM the sample model never saw.

Run from the repository root (needs ../shared/data)::

    python benchmarks/bench_finetune_real.py --minutes 3 --seeds 0 1 2

Data (semi-synthetic: real HR slices, crappified): the ISBI 2012 ssTEM volume (slices 0-11
train, 12-14 held out) and the EMDiffuse vEM slices (``*_0`` train, ``*_1`` held out).
Both are crappified with the shipped ``em_x4``'s own crappifier (its simulated SEM's noise,
the case where a user's microscope matches the sample model), training on the fly and the
held-out slices once with fixed seeds. Every held-out LR slice goes through
``predict_image`` and is scored on the one scoreboard (:mod:`pssr_nb.benchmark`: CARE
PSNR against the HR slice, bicubic + a Gaussian tuned on the crappified training slices).
The sample model was trained on phantoms only, so both datasets are unseen by it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

import numpy as np

from pssr_nb.benchmark import BenchmarkParams, add_baselines, array_case, headline, score_cases
from pssr_nb.crappify import Crappifier
from pssr_nb.data import Source
from pssr_nb.io import ImageData, read_image
from pssr_nb.model_file import TrainedModel, load_sample_model
from pssr_nb.train import TrainParams
from pssr_nb.train import run as train

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def datasets() -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """name -> (training HR planes, held-out HR planes), uint8 as stored."""
    isbi = read_image(DATA / "isbi2012_sstem_stack" / "isbi2012_train_volume_z00-14_15x512x512.tif")
    em = DATA / "emdiffuse_vem_slices"
    return {
        "ISBI ssTEM": (list(isbi.data[:12]), list(isbi.data[12:])),
        "EMDiffuse vEM": (
            [read_image(em / f"{n}_0.tif").data for n in ("microns", "mouse_liver")],
            [read_image(em / f"{n}_1.tif").data for n in ("microns", "mouse_liver")],
        ),
    }


def _pairs(planes: list[np.ndarray], crappifier: Crappifier, seed: int):
    """(LR in the HR's normalised units, HR normalised) for each plane."""
    out = []
    for i, plane in enumerate(planes):
        norm = Source(ImageData(np.asarray(plane, np.float32), "YX", {})).normalization
        hr = norm.apply(np.asarray(plane, np.float32))
        out.append((crappifier(hr, seed=seed + i), hr))
    return out


def score(model: TrainedModel, tests, tuning) -> dict[str, float]:
    params = BenchmarkParams(data="pairs", tta=False, device="cpu")
    cases = [array_case(model, f"slice {i}", lr, hr, params) for i, (lr, hr) in enumerate(tests)]
    add_baselines(cases, model, params, tuning)
    rows = score_cases(cases, params)
    h = headline(rows)
    model_psnr = float(np.mean([r["psnr"] for r in rows if r["method"] == "model"]))
    base = h["psnr"]["best_baseline"]
    return {
        "model_psnr": model_psnr,
        "baseline_psnr": float(np.mean([r["psnr"] for r in rows if r["method"] == base])),
        "best_baseline": base,
        "gain_db": h["psnr"]["gain_mean"],
        "gain_ssim": h["ssim"]["gain_mean"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["pretrained", "fine-tuned", "scratch"])
    parser.add_argument("--results", default="finetune_real.jsonl")
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} not found: this benchmark needs ../shared/data")
    sample = load_sample_model("em_x4")
    crappifier = Crappifier.from_dict(sample.crappifier)
    rows = []
    for name, (train_planes, test_planes) in datasets().items():
        tests = _pairs(test_planes, crappifier, seed=10_000)
        tuning = _pairs(train_planes, crappifier, seed=20_000)
        for arm in args.arms:
            for seed in args.seeds if arm != "pretrained" else [0]:
                if arm == "pretrained":
                    model, steps = sample, 0
                else:
                    out = Path(tempfile.mkdtemp(prefix="pssr_nb_ft_"))
                    sources = [Source(ImageData(p, "YX", {})) for p in train_planes]
                    result = train(
                        TrainParams(
                            minutes=args.minutes,
                            init="em_x4" if arm == "fine-tuned" else "",
                            modality="serial-section EM",
                            seed=seed,
                        ),
                        sources,
                        out,
                        crappifier=crappifier,
                        progress=False,
                    )
                    model = TrainedModel.load(out / "model_best.pt")
                    steps = result.summary["steps"]
                row = {
                    "data": name,
                    "arm": arm,
                    "seed": seed,
                    "minutes": args.minutes,
                    "steps": steps,
                }
                row.update(score(model, tests, tuning))
                print(json.dumps(row), flush=True)
                with open(args.results, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                rows.append(row)
    print("| data | arm | seeds | model PSNR | best baseline | gain dB | gain SSIM |")
    print("|---|---|---|---|---|---|---|")
    for key in dict.fromkeys((r["data"], r["arm"]) for r in rows):
        mine = [r for r in rows if (r["data"], r["arm"]) == key]

        def ms(k: str, d: int, rows=mine) -> str:
            v = [r[k] for r in rows]
            return f"{statistics.mean(v):+.{d}f} ± {statistics.stdev(v) if len(v) > 1 else 0:.{d}f}"

        print(
            f"| {key[0]} | {key[1]} | {len(mine)} | {statistics.mean(r['model_psnr'] for r in mine):.2f} | "
            f"{mine[0]['best_baseline']} {mine[0]['baseline_psnr']:.2f} | {ms('gain_db', 2)} | {ms('gain_ssim', 3)} |"
        )


if __name__ == "__main__":
    main()
