"""The two-point resolution test on the shipped sample models: P(resolved) with CIs.

Run from the repository root, e.g.::

    python benchmarks/bench_resolution.py --specimen em --draws 4 --seeds 0 1
    python benchmarks/bench_resolution.py --specimen fluorescence --kind points

For each seed a :func:`pssr_nb.pair_target.make_target` field (50 pairs per
separation, 200 single-object controls) is scanned ``--draws`` times; every
method's output of every draw is judged by :func:`pssr_nb.resolution.compare`,
beside the bicubic and the model over-sharpened (an unsharp mask, then a gamma curve),
which the test must not call finer, and the model blurred, which it must call coarser
(:mod:`pssr_nb.bad_models`).
The model predicts each LR scan as users do (``predict_image`` on the grey
values, no TTA). The restoration baselines (Gaussian, Wiener, non-local means) are
tuned on phantom training pairs of the specimen, never on the target. Prints one table row per
method and seed and writes everything to ``--out`` (JSON).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from pssr_nb import bad_models
from pssr_nb.baselines import tune
from pssr_nb.model_file import load_sample_model
from pssr_nb.pair_target import make_target
from pssr_nb.phantoms import MICROSCOPES, simulate
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.resolution import compare, standard_outputs

SAMPLE_MODELS = {"em": "em_x4", "fluorescence": "fluorescence_x4"}


def _fmt(row: dict, level: int) -> str:
    nm, lo, hi = (row[f"d{level}_{k}"] for k in ("nm", "ci_low", "ci_high"))
    if nm is None:
        return "not reached"
    return f"{nm:.1f} [{lo:.1f}, {'>max' if hi is None else f'{hi:.1f}'}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--specimen", default="em", choices=sorted(SAMPLE_MODELS))
    parser.add_argument("--kind", choices=("points", "lines"), default=None)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--pairs", type=int, default=50)
    parser.add_argument("--out", default="resolution_results.json")
    args = parser.parse_args()

    model = load_sample_model(SAMPLE_MODELS[args.specimen])
    microscope = MICROSCOPES["sem" if args.specimen == "em" else "confocal"]
    scale = model.config.scale
    training = [simulate(args.specimen, (256, 256), scale, seed=100 + s) for s in range(4)]
    tuned = tune([(p.lr, p.truth) for p in training], scale, 0.0)
    params = PredictParams(tta=False)
    results = []
    for seed in args.seeds:
        start = time.perf_counter()
        target = make_target(microscope, scale, args.kind, args.pairs, seed=seed)
        outputs = standard_outputs(
            target,
            args.draws,
            predict=lambda lr: predict_image(model, lr, params).data,
            tuned=tuned,
        )
        # a check must be able to fail: over-sharpening must not look finer, a blur must look
        # coarser (pssr_nb.bad_models)
        for base in ("bicubic", "model"):
            outputs[f"{base} + over-sharpener"] = [
                bad_models.over_sharpen(im) for im in outputs[base]
            ]
        outputs["model + blur"] = [bad_models.blur(im) for im in outputs["model"]]
        result = compare(target, outputs)
        result.update(seed=seed, kind=target.kind, seconds=time.perf_counter() - start)
        results.append(result)
        print(f"seed {seed}: {target.kind}, field {target.truth.shape}, {result['seconds']:.0f} s")
        print("| method | d50 nm [95% CI] | d95 nm [95% CI] | false 'two' at d50 |")
        for row in result["rows"]:
            false = row["false_resolved_at_d50"]
            print(
                f"| {row['method']} | {_fmt(row, 50)} | {_fmt(row, 95)} | "
                f"{'-' if false is None else f'{false:.2f}'} |"
            )
    Path(args.out).write_text(
        json.dumps({"specimen": args.specimen, "tuned": vars(tuned), "runs": results}, indent=1)
    )


if __name__ == "__main__":
    main()
