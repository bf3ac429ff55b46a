"""Input units at prediction: does the model see, on a whole LR scan, the units it was trained on?

Run from the repository root::

    python benchmarks/bench_units.py [--model em_x4|FILE] [--seeds 1000 1001 1002]

For held-out phantom LR scans (256 x 256 HR, seeds unseen in training) at the training
dose and at half and twice the electrons (photons) per pixel, prints the CARE PSNR
against the noiseless truth of the model

- as ``predict_image`` normalises a scan (:func:`pssr_nb.units.input_normalization`),
- with the scan's plain 0.1/99.9 percentiles (the per-image normalisation before it),
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
from pssr_nb.trust import units_check

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
    args = parser.parse_args()
    model = (
        load_sample_model(args.model)
        if args.model in SAMPLE_MODELS
        else TrainedModel.load(args.model)
    )
    specimen = args.specimen or ("em" if "EM" in model.modality else "fluorescence")
    params = PredictParams(device="cpu")
    print(f"model {args.model}: {model.describe()}")
    print(
        f"{'dose':>5s} {'per image':>16s} {'plain pct':>16s} {'oracle':>16s} {'gap':>6s} {'baseline':>16s}"
    )
    for dose in DOSES:
        tuning = [_phantom(specimen, seed, dose) for seed in (500, 501)]
        sigma = tune_gaussian([(t.lr.astype(np.float32), t.truth) for t in tuning], 4, 0.0)
        rows = []
        for seed in args.seeds:
            ps = _phantom(specimen, seed, dose)
            ours = units_check(model, ps.lr, ps.truth, params)
            plain = units_check(
                model, ps.lr, ps.truth, params, percentile_normalization(ps.lr), (1.0,), (0.0,)
            )
            base = score(smooth(ps.lr.astype(np.float32), 4, ps.offset, sigma), ps.truth)["psnr"]
            rows.append((ours["psnr"], plain["psnr"], ours["oracle_psnr"], ours["gap_db"], base))
        r = np.array(rows)
        cells = [f"{m:6.2f} ± {s:4.2f}" for m, s in zip(r.mean(0), r.std(0), strict=True)]
        print(
            f"{dose:5.1f} {cells[0]:>16s} {cells[1]:>16s} {cells[2]:>16s} {r[:, 3].max():6.2f} {cells[4]:>16s}"
        )


if __name__ == "__main__":
    main()
