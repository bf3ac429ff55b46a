"""Train a sample model shipped in ``pssr_nb/sample_models/`` (reproducible from its seed).

Usage (from the repository root, after ``python -m pip install -e .``)::

    python scripts/train_sample_model.py                          # em_x4 (about 40 CPU minutes)
    python scripts/train_sample_model.py --specimen fluorescence  # fluorescence_x4

Simulates phantoms of the specimen imaged by its simulated microscope (scanning
EM or confocal), calibrates the
crappifier on their LR/HR pairs (physical estimate, in the percentile units
training uses, as a user would), trains the small preset with it and writes
the best model in float16. Everything except timings is a function of the seed and step count.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from pssr_nb.calibrate import CalibrateParams, calibrate_pairs
from pssr_nb.demo import reference_modality
from pssr_nb.io import read_image
from pssr_nb.model_file import TrainedModel, sample_model_path
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.train import TrainParams
from pssr_nb.train import run as train

#: (steps, phantoms) each shipped model was built with (benchmarks/RESULTS.md, "Sample model").
RECIPES = {"em": (30000, 48), "fluorescence": (6000, 16)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="default: the specimen's recipe")
    parser.add_argument("--images", type=int, default=None, help="default: the specimen's recipe")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu gives bit-reproducible weights")
    parser.add_argument("--specimen", default="em", choices=("em", "fluorescence"))
    parser.add_argument("--out", default=None, help="default: the shipped file of the specimen")
    args = parser.parse_args()
    steps, images = RECIPES[args.specimen]
    args.steps, args.images = args.steps or steps, args.images or images
    name = f"{args.specimen}_x4"
    args.out = args.out or str(Path(sample_model_path("em_x4")).parent / f"{name}.pt")

    work = Path(tempfile.mkdtemp(prefix="pssr_nb_sample_"))
    try:
        record = simulate(
            SimulateParams(args.specimen, size=256, scale=4, n_images=args.images, seed=args.seed),
            work / "phantoms",
        )
        folder = work / "phantoms"
        pairs = [
            (read_image(folder / "lr" / i["file"]).data, read_image(folder / "hr" / i["file"]).data)
            for i in record["images"]
        ]
        crappifier = calibrate_pairs(pairs, CalibrateParams(scale=4), fit=False).crappifier
        print(crappifier.describe())
        result = train(
            TrainParams(
                preset="small",
                scale=4,
                steps=args.steps,
                modality=reference_modality(args.specimen),
                device=args.device,
                seed=args.seed,
            ),
            work / "phantoms" / "hr",
            work / "run",
            crappifier=crappifier,
        )
        model = TrainedModel.load(work / "run" / "model_best.pt")
        model.origin = (
            f"scripts/train_sample_model.py --specimen {args.specimen} --steps {args.steps} "
            f"--images {args.images} --seed {args.seed} --device {args.device}"
        )
        model.save(args.out, half=True)
        print(json.dumps(result.summary["best"], indent=2))
        print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
