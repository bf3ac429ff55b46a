"""Train a sample model shipped in ``pssr_nb/sample_models/`` (reproducible from its seed).

Usage (from the repository root, after ``python -m pip install -e .``)::

    python scripts/train_sample_model.py                          # em_x4 (about 55 CPU minutes)
    python scripts/train_sample_model.py --specimen fluorescence  # fluorescence_x4

Two stages. **Phantoms:** simulates phantoms of the specimen imaged by its simulated
microscope (scanning EM or confocal), calibrates the crappifier on their LR/HR pairs
(physical estimate, in the percentile units training uses, as a user would) and trains the
small preset with it. **Real images** (``--real-stage``, the default for EM; needs
``../shared/data``): fine-tunes that model on
the real public images whose licence allows shipping derived weights
(``benchmarks/real_sets.py``) together with some of the phantoms and a few featureless
fields (noise over nothing must stay nothing). In both stages every sample is crappified
at a photon count drawn over a range around the calibrated one, 2x either side by default
(a user's scan is rarely at the calibration's dose). The best model is written in float16,
its origin naming both stages, the real datasets and their licences. Everything except timings is a function
of the seed and step counts.

``--hold-out NAME`` trains a leave-one-dataset-out model instead (every real set of the
specimen but NAME, shippable or not): a measurement for ``benchmarks/bench_transfer.py``,
never shipped. ``--init MODEL`` skips the phantom stage and starts the real stage from
MODEL (the phantom stage's output).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from scipy import ndimage

from pssr_nb.calibrate import CalibrateParams, calibrate_pairs
from pssr_nb.crappify import Crappifier
from pssr_nb.data import Source
from pssr_nb.demo import reference_modality
from pssr_nb.io import ImageData, read_image
from pssr_nb.losses import LOSSES
from pssr_nb.model_file import TrainedModel, sample_model_path
from pssr_nb.models import ResUNet, config_for
from pssr_nb.phantoms import SimulateParams
from pssr_nb.phantoms import run as simulate
from pssr_nb.sampling import DOWNSAMPLE_MODES
from pssr_nb.train import TrainParams
from pssr_nb.train import run as train
from pssr_nb.train_settings import LEARNING_RATES

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from real_sets import training_sets  # noqa: E402

#: The loss the shipped models were trained with (L1 since session 14: +0.45 dB on EM
#: phantoms over MS-SSIM + L1, benchmarks/RESULTS.md, "Sample model"); kept separate from
#: training's default so that this script rebuilds what ships.
SHIPPED_LOSS = "l1"
#: (steps, phantoms, dose range factor) of the phantom stage (benchmarks/RESULTS.md,
#: "Sample model"): every sample's photon count is drawn log-uniformly from the calibrated
#: one divided by the factor to it multiplied by the factor (1: that dose only). 2 is
#: calibration's default range, with which both shipped files were trained.
RECIPES = {"em": (30000, 48, 2.0), "fluorescence": (6000, 16, 2.0)}
#: (steps, phantoms kept beside the real images, dose range factor) of the real stage,
#: the factor around the phantom stage's calibrated count.
REAL_RECIPES = {"em": (6000, 12, 2.0), "fluorescence": (6000, 16, 2.0)}
#: Whether the shipped model has the real stage: chosen by the leave-one-dataset-out
#: benchmark (RESULTS.md, "Leave one real dataset out"). For fluorescence it made the model
#: worse on the one real set no shipped model may see, so it ships from phantoms alone.
SHIPPED_WITH_REAL_STAGE = {"em": True, "fluorescence": False}
#: Featureless fields in the real stage's mix (0: none): smooth 256 x 256 brightness
#: fields with no structure finer than a quarter of their side, so that the network sees
#: noise over nothing and learns to draw nothing there. Without them the EM model drew
#: lines into pure noise (flagged by the flat-noise check of ``pssr_nb.trust``); two cured
#: it (benchmarks/RESULTS.md, "Sample model"). Fluorescence ships without the real stage.
FEATURELESS = {"em": 2, "fluorescence": 0}


def featureless_fields(n: int, seed: int, size: int = 256) -> list[np.ndarray]:
    """``n`` smooth brightness fields spanning their whole range, from ``seed``."""
    rng = np.random.default_rng([seed, 7])
    fields = []
    for _ in range(n):
        field = ndimage.gaussian_filter(rng.standard_normal((size, size)), size / 4, mode="wrap")
        low, high = field.min(), field.max()
        fields.append(((field - low) / (high - low)).astype(np.float32))
    return fields


def _scale_option(args: argparse.Namespace) -> str:
    """The ``--scale`` option for an origin string ("" at the shipped models' 4x)."""
    return f" --scale {args.scale}" if args.scale != 4 else ""


def phantom_stage(args: argparse.Namespace, folder: Path, run: Path) -> TrainedModel:
    """Train on phantoms with a crappifier calibrated on their own pairs."""
    record = simulate(
        SimulateParams(
            args.specimen, size=256, scale=args.scale, n_images=args.images, seed=args.seed
        ),
        folder,
    )
    pairs = [
        (read_image(folder / "lr" / i["file"]).data, read_image(folder / "hr" / i["file"]).data)
        for i in record["images"]
    ]
    calibration = CalibrateParams(scale=args.scale, dose_range=args.dose_range)
    crappifier = calibrate_pairs(pairs, calibration, fit=False).crappifier
    print(crappifier.describe())
    from_untrained = {}
    if args.skip_sigma:  # an untrained network with that skip, "fine-tuned" at scratch's rate
        torch.manual_seed(args.seed)
        config = config_for("small", args.scale, 1, crappifier.offset)
        untrained = ResUNet(dataclasses.replace(config, skip_sigma=args.skip_sigma))
        TrainedModel(network=untrained).save(run.parent / "untrained.pt")
        from_untrained = {
            "init": str(run.parent / "untrained.pt"),
            "head": "keep",
            "learning_rate": LEARNING_RATES["scratch"],
        }
    result = train(
        TrainParams(
            preset="small",
            scale=args.scale,
            steps=args.steps,
            loss=args.loss,
            modality=reference_modality(args.specimen),
            device=args.device,
            seed=args.seed,
            also_sampling=args.also_sampling,
            **from_untrained,
        ),
        folder / "hr",
        run,
        crappifier=crappifier,
    )
    print(json.dumps(result.summary["best"], indent=2))
    model = TrainedModel.load(run / "model_best.pt")
    model.origin = (
        f"scripts/train_sample_model.py --specimen {args.specimen} --steps {args.steps} "
        f"--images {args.images} --seed {args.seed} --device {args.device} --loss {args.loss} "
        f"--dose-range {args.dose_range:g}{_scale_option(args)}"
        f"{f' --skip-sigma {args.skip_sigma:g}' if args.skip_sigma else ''}"
        f"{_sampling_option(args)}"
    )
    return model


def _sampling_option(args: argparse.Namespace) -> str:
    return f" --also-sampling {args.also_sampling}" if args.also_sampling else ""


def real_stage(args: argparse.Namespace, init: Path, folder: Path, run: Path) -> TrainedModel:
    """Fine-tune ``init`` on real images and phantoms over a range of doses."""
    steps, n_phantoms, dose_range = REAL_RECIPES[args.specimen]
    steps, dose_range = args.real_steps or steps, args.real_dose_range or dose_range
    start = TrainedModel.load(init)
    sets = training_sets(args.specimen, args.hold_out)
    record = simulate(
        SimulateParams(
            args.specimen, size=256, scale=args.scale, n_images=n_phantoms, seed=args.seed
        ),
        folder,
    )
    sources = [Source(folder / "hr" / i["file"]) for i in record["images"]]
    for real in sets:
        sources += [Source(ImageData(np.asarray(p), "YX", {})) for p in real.planes()[0]]
    fields = featureless_fields(args.featureless, args.seed)
    sources += [Source(ImageData(f, "YX", {})) for f in fields]
    # the calibrated count at this scale, then the stage's own range (a range already there
    # would be kept)
    crappifier = Crappifier.from_dict(start.crappifier).typical().at_scale(args.scale)
    crappifier = crappifier.with_dose_range(dose_range)
    print(f"real stage on {[s.name for s in sets]} + {n_phantoms} phantoms + {len(fields)} fields")
    print(crappifier.describe())
    result = train(
        TrainParams(
            init=str(init),
            scale=args.scale,
            steps=steps,
            loss=args.loss,
            modality=start.modality.replace("(simulated)", "(simulated and real)"),
            device=args.device,
            seed=args.seed,
            also_sampling=args.also_sampling,
        ),
        sources,
        run,
        crappifier=crappifier,
    )
    print(json.dumps(result.summary["best"], indent=2))
    model = TrainedModel.load(run / "model_best.pt")
    real = "; ".join(f"{s.name} ({s.licence})" for s in sets)
    model.origin = (
        f"{start.origin}, then scripts/train_sample_model.py --specimen {args.specimen} "
        f"--seed {args.seed} --loss {args.loss}{_scale_option(args)}"
        f"{f' --hold-out {args.hold_out!r}' if args.hold_out else ''}"
        f"{f' --real-dose-range {dose_range:g}' if args.real_dose_range else ''}"
        f"{_sampling_option(args)}: "
        f"{steps} steps on real images [{real}], {n_phantoms} phantoms"
        f"{f' and {len(fields)} featureless fields' if fields else ''}, photon count "
        f"drawn up to {dose_range:g}x either side of the calibrated one"
    )
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=None, help="default: the specimen's recipe")
    parser.add_argument("--images", type=int, default=None, help="default: the specimen's recipe")
    parser.add_argument("--real-steps", type=int, default=None, help="default: the recipe")
    parser.add_argument(
        "--real-dose-range",
        type=float,
        default=None,
        help="of the real stage, around the phantom stage's calibrated count; default: the recipe",
    )
    parser.add_argument(
        "--dose-range", type=float, default=None, help="of the phantom stage; default: the recipe"
    )
    parser.add_argument(
        "--skip-sigma",
        type=float,
        default=0.0,
        help="phantom stage: start at bicubic + a Gaussian of this width (HR px) instead of "
        "the one tuned on the phantoms (0)",
    )
    parser.add_argument(
        "--featureless", type=int, default=None, help="of the real stage; default: the recipe"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--loss", default=SHIPPED_LOSS, choices=LOSSES, help="default: the shipped models' loss"
    )
    parser.add_argument("--device", default="cpu", help="cpu gives bit-reproducible weights")
    parser.add_argument("--specimen", default="em", choices=("em", "fluorescence"))
    parser.add_argument(
        "--scale",
        type=int,
        default=4,
        help="of the model; with --init of another scale (a model whose weights fit any "
        "scale) the real stage starts from that model's features",
    )
    parser.add_argument("--init", default="", help="skip the phantom stage: start from this model")
    parser.add_argument("--hold-out", default="", help="leave this real set out (not shipped)")
    parser.add_argument(
        "--also-sampling",
        default="",
        choices=("", *DOWNSAMPLE_MODES),
        help="train on this sampling too, every other step (TrainParams.also_sampling)",
    )
    parser.add_argument(
        "--real-stage",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="default: as the shipped model of the specimen (always with --hold-out)",
    )
    parser.add_argument("--out", default=None, help="default: the shipped file of the specimen")
    args = parser.parse_args()
    steps, images, dose_range = RECIPES[args.specimen]
    args.steps, args.images = args.steps or steps, args.images or images
    args.dose_range = args.dose_range or dose_range
    if args.featureless is None:
        args.featureless = FEATURELESS[args.specimen]
    if args.hold_out and not args.out:
        raise SystemExit("a --hold-out model is a measurement: give --out outside the package")
    if args.real_stage is None:
        args.real_stage = bool(args.hold_out) or SHIPPED_WITH_REAL_STAGE[args.specimen]
    name = f"{args.specimen}_x{args.scale}"
    args.out = args.out or str(Path(sample_model_path("em_x4")).parent / f"{name}.pt")

    work = Path(tempfile.mkdtemp(prefix="pssr_nb_sample_"))
    try:
        init = Path(args.init) if args.init else work / "phantom_stage.pt"
        if not args.init:
            # float16, as the shipped phantom model the real stage was built from
            phantom_stage(args, work / "phantoms", work / "run").save(init, half=True)
        model = (
            real_stage(args, init, work / "real_phantoms", work / "real_run")
            if args.real_stage
            else TrainedModel.load(init)
        )
        model.save(args.out, half=True)
        print(model.origin)
        print(f"wrote {args.out} ({Path(args.out).stat().st_size / 1e6:.1f} MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
