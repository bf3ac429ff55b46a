"""Input units at prediction: does the model see, on a whole LR scan, the units it was trained on?

Run from the repository root::

    python benchmarks/bench_units.py [--model em_x4|FILE] [--seeds 1000 1001 1002] [--doses 0.5 1 2]

For held-out phantom LR scans (256 x 256 HR, seeds unseen in training) at the training
dose and at half and twice the electrons (photons) per pixel, prints the CARE PSNR
against the noiseless truth of the model

- as ``predict_image`` normalises a scan (:func:`pssr_nb.units.input_normalization`),
- with the scan's plain 0.1/99.9 percentiles (the per-image normalisation before it),
- with the units training gave this field of view: its HR scan crappified with the
  model's crappifier and measured (:func:`pssr_nb.trust.seen_units`), i.e. what the
  network saw in training (the "oracle units"),
- with the best gain and offset of the input on a grid (an oracle that knows the truth),

beside bicubic at the acquired positions plus a Gaussian tuned on other phantoms (the
best simple baseline). Mean and SD over the seeds.
"""

from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from pssr_nb.baselines import smooth, tune_gaussian
from pssr_nb.metrics import score
from pssr_nb.model_file import SAMPLE_MODELS, TrainedModel, load_sample_model
from pssr_nb.normalize import percentile_normalization
from pssr_nb.phantoms import MICROSCOPES, simulate
from pssr_nb.predict import PredictParams
from pssr_nb.trust import seen_units, units_check

DOSES = (0.5, 1.0, 2.0)  # electrons (photons) per pixel, relative to the training scans


def _phantom(specimen: str, seed: int, dose: float):
    micro = MICROSCOPES["sem" if specimen == "em" else "confocal"]
    micro = dataclasses.replace(micro, lr_dwell_us=micro.lr_dwell_us * dose)
    return simulate(specimen, (256, 256), 4, seed=seed, microscope=micro)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="em_x4")
    parser.add_argument("--specimen", default="", help="default: from the model's modality")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1000, 1001, 1002])
    parser.add_argument("--doses", type=float, nargs="+", default=list(DOSES))
    args = parser.parse_args()
    model = (
        load_sample_model(args.model)
        if args.model in SAMPLE_MODELS
        else TrainedModel.load(args.model)
    )
    specimen = args.specimen or ("em" if "EM" in model.modality else "fluorescence")
    params = PredictParams(device="cpu")
    print(f"model {args.model}: {model.describe()}")
    heads = ("per image", "plain pct", "training units", "grid oracle", "baseline")
    print(f"{'dose':>5s} " + " ".join(f"{h:>16s}" for h in heads) + "  worst gap")
    for dose in args.doses:
        tuning = [_phantom(specimen, seed, dose) for seed in (500, 501)]
        sigma = tune_gaussian(
            [(t.normalization("lr").apply(t.lr), t.truth) for t in tuning], 4, 0.0
        )
        rows = []
        for seed in args.seeds:
            ps = _phantom(specimen, seed, dose)
            lr = ps.normalization("lr").apply(ps.lr)  # physical units, shared with the HR
            once = {"gains": (1.0,), "offsets": (0.0,)}
            ours = units_check(model, lr, ps.truth, params)
            plain = units_check(model, lr, ps.truth, params, percentile_normalization(lr), **once)
            seen = units_check(model, lr, ps.truth, params, seen_units(ps, model), **once)
            base = score(smooth(lr, 4, ps.offset, sigma), ps.truth)["psnr"]
            rows.append((ours["psnr"], plain["psnr"], seen["psnr"], ours["oracle_psnr"], base))
        r = np.array(rows)
        cells = [f"{m:6.2f} ± {s:4.2f}" for m, s in zip(r.mean(0), r.std(0, ddof=1), strict=True)]
        worst = (r[:, 2] - r[:, 0]).max()  # per-image units below the training units
        print(f"{dose:5.1f} " + " ".join(f"{c:>16s}" for c in cells) + f" {worst:6.2f}")


if __name__ == "__main__":
    main()
