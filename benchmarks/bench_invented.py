"""Do the invented-structure checks catch a model that paints, over-sharpens or blurs?

Run from the repository root::

    python benchmarks/bench_invented.py [--images 3]

For each sample model (``em_x4``, ``fluorescence_x4``) on fresh phantoms (seeds 1000+),
the model's output is damaged three ways (:mod:`pssr_nb.bad_models`: another field's
lines painted on, an unsharp mask with a gamma curve, a Gaussian of 2 pixels) and every
output goes through the benchmark's checks: the traced lines and the small objects,
each method held against the best baseline over the images, and the flat-field check.
Prints one table per check and specimen. The two-point test's answer to the same
damage is in ``bench_resolution.py``.
"""

from __future__ import annotations

import argparse

import numpy as np

from pssr_nb import bad_models
from pssr_nb.baselines import baselines, tune
from pssr_nb.benchmark import DETECTION_FLAG
from pssr_nb.crappify import Crappifier
from pssr_nb.detection import object_detection
from pssr_nb.io import ImageData
from pssr_nb.model_choice import open_model
from pssr_nb.phantoms import MICROSCOPES, default_microscope, simulate
from pssr_nb.predict import PredictParams, predict_image
from pssr_nb.structure import Lines, judge, structure_check
from pssr_nb.trust import flat_field_check, flat_predictor

SIZE = 256


def damaged(output: np.ndarray, detail: np.ndarray) -> dict[str, np.ndarray]:
    return {
        "model + painter": bad_models.paint(output, detail),
        "model + over-sharpener": bad_models.over_sharpen(output),
        "model + blur": bad_models.blur(output),
    }


def flag(value: bool) -> str:
    return "**yes**" if value else "no"


def run(specimen: str, images: int, model_file: str | None = None) -> None:
    mic = default_microscope(specimen)
    model = open_model(model_file or f"{specimen}_x4")
    lines = Lines.of_specimen(specimen, MICROSCOPES[mic])
    spare = simulate(specimen, (SIZE, SIZE), 4, seed=1500, microscope=mic)
    tuned = tune([(spare.normalization("lr").apply(spare.lr), spare.truth)], 4, 0.0)
    detail = bad_models.specimen_detail(specimen, (SIZE, SIZE), 40, mic)
    traced, found = [], []
    for seed in range(1000, 1000 + images):
        ps = simulate(specimen, (SIZE, SIZE), 4, seed=seed, microscope=mic)
        lr = ps.normalization("lr").apply(ps.lr)
        pred = predict_image(model, ImageData(lr, "YX", {}), PredictParams(tta=False))
        model_out = pred.normalization.invert(pred.data, "float32")
        outputs = {
            "model": model_out,
            **baselines(lr, 4, 0.0, tuned, interpolations=("bicubic",)),
            "HR scan": ps.normalization("hr").apply(ps.hr),
            **damaged(model_out, detail),
        }
        traced.append(structure_check(outputs, ps.truth, lines)["rows"])
        found.append(object_detection(outputs, ps.truth, ps.objects)["rows"])
    best = "nl-means+bicubic" if specimen == "em" else "bicubic+gaussian"
    print(f"## {specimen}: {images} phantoms, held against {best}\n")
    print("Flags: against the best baseline (as the benchmark reports) / against the model")
    print("undamaged (the damage's own effect).\n")
    print("| method | line precision | line recall | regions vs truth | invents | loses |")
    print("|---|---|---|---|---|---|")
    against_model = {r["method"]: r for r in judge(traced, "model")}
    for r in judge(traced, best):
        m = against_model[r["method"]]
        print(f"| {r['method']} | {r['precision']:.3f} ± {r['precision_sd']:.3f} "
              f"| {r['recall']:.3f} ± {r['recall_sd']:.3f} | {r['regions_excess']:+.1f} "
              f"| {flag(r['invents'])} / {flag(m['invents'])} "
              f"| {flag(r['loses'])} / {flag(m['loses'])} |")  # fmt: skip
    print("\n| method | object AP | invented | lost | lower AP |")
    print("|---|---|---|---|---|")
    numbers = ("ap", "fp", "fn")
    against_model = {r["method"]: r for r in judge(found, "model", numbers, flags=DETECTION_FLAG)}
    for r in judge(found, best, numbers, flags=DETECTION_FLAG):
        m = against_model[r["method"]]
        print(f"| {r['method']} | {r['ap']:.3f} ± {r['ap_sd']:.3f} | {r['fp']:.1f} "
              f"| {r['fn']:.1f} | {flag(r['worse'])} / {flag(m['worse'])} |")  # fmt: skip
    crappifier = Crappifier.from_dict(model.crappifier)
    honest = flat_predictor(model)
    flat_detail = bad_models.specimen_detail(specimen, (64 * 4, 64 * 4), 41, mic)
    predictors = {
        "model": honest,
        "model + painter": lambda lr: bad_models.paint(honest(lr), flat_detail, contrast=1.0),
        "model + over-sharpener": lambda lr: bad_models.over_sharpen(honest(lr)),
    }
    print("\n| flat field | level 0.2 | level 0.5 | level 0.8 |")
    print("|---|---|---|---|")
    for name, predict in predictors.items():
        result = flat_field_check(predict, crappifier, 4, lines, 0.0, 1, tuned)
        cells = [
            f"{100 * r['model long_lines']:.2f} % vs {100 * r[result['bar'] + ' long_lines']:.2f} %"
            + (" **invents**" if r["invents"] else "")
            for r in result["rows"]
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=3)
    parser.add_argument("--specimens", nargs="+", default=["em", "fluorescence"])
    parser.add_argument(
        "--model", default=None, help="a model file instead of the sample model (one specimen)"
    )
    args = parser.parse_args()
    if args.model and len(args.specimens) != 1:
        parser.error("--model needs exactly one --specimens")
    for specimen in args.specimens:
        run(specimen, args.images, args.model)


if __name__ == "__main__":
    main()
