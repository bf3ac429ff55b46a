"""Leave one real dataset out: pretrained alone, fine-tuned, scratch and the best baseline.

Run from the repository root (needs ../shared/data)::

    python benchmarks/bench_transfer.py --held-out "ISBI ssTEM" --minutes 3 --seeds 0 1 2
    python benchmarks/bench_transfer.py --held-out "EMDiffuse vEM" \\
        --pretrained /tmp/em_without_emdiffuse.pt --minutes 3
    python benchmarks/bench_transfer.py --held-out "GigaDB confocal" \\
        --pretrained pssr_nb/sample_models/fluorescence_x4.pt --minutes 8 \\
        --arms fine-tuned scratch --out /tmp/gigadb
    python benchmarks/bench_transfer.py --held-out "ISBI ssTEM" --scale 2 \\
        --arms fine-tuned scratch --minutes 3      # em_x4's weights fine-tuned at 2x

For each held-out dataset of ``real_sets.py``, the pretrained model is one that never saw
it: the shipped sample model of its specimen when the dataset is not shippable (no shipped
model trains on it), otherwise ``--pretrained``, a leave-one-dataset-out model from
``scripts/train_sample_model.py --hold-out NAME``. Three arms, as a user with that data
would meet them:

- ``pretrained``: the model as it is;
- ``blended``: the model with what its network adds scaled and its skip's width set, both
  tuned on the dataset's training planes (:func:`pssr_nb.blend.tune_blend`; seconds, no
  training step; for GigaDB on the training region's real pair);
- ``fine-tuned``: ``--minutes`` of training on the dataset's training planes, starting from it;
- ``scratch``: the same budget from random weights.

Scoring, on the one scoreboard (:mod:`pssr_nb.benchmark`: every held-out LR through
``predict_image``, CARE PSNR, every baseline):

- GigaDB confocal is a real pair: the crappifier is calibrated on the training region's
  pair, and the held-out columns are scored semi-synthetically (the real low-SNR scan
  decimated by 4 against the high-SNR scan; ``report_gigadb.score_held_out``). With
  ``--pair-validation`` the training also validates on the training region's real pair
  (``--val-lr/--val-hr``), which then chooses ``model_best.pt``.
- The others have no LR: training and held-out planes are crappified with the pretrained
  model's calibrated crappifier at its calibrated dose (the case where the user's
  microscope matches the model's), and the Gaussian is tuned on the crappified training
  planes.

With ``--scale`` other than the pretrained model's, the data are crappified at that scale
(the model's noise and dose kept; GigaDB's real scan decimated by it) and the pretrained
model, whose weights must fit any scale, is only fine-tuned: there is no "alone" arm.
``--mode area`` crappifies the data by block averaging instead of the model's decimation:
the model alone is scored with its skip moved to that sampling's offset.

One JSON line per run goes to ``--results``; a Markdown table (mean ± SD over seeds) is
printed at the end. Each run's folder (its ``model_best.pt``, ``log.csv``, and for GigaDB its
benchmark report) stays under ``--out``, one folder per dataset.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from real_sets import SETS, RealSet  # noqa: E402
from report_gigadb import (  # noqa: E402
    held_out_pairs,
    score_held_out,
    training_pair_files,
    training_region,
)

from pssr_nb.benchmark import (  # noqa: E402
    BenchmarkParams,
    add_baselines,
    array_case,
    headline,
    score_cases,
)
from pssr_nb.blend import blend, tune_blend  # noqa: E402
from pssr_nb.crappify import Crappifier  # noqa: E402
from pssr_nb.data import Source  # noqa: E402
from pssr_nb.io import ImageData  # noqa: E402
from pssr_nb.losses import LOSSES  # noqa: E402
from pssr_nb.model_file import TrainedModel, sample_model_path  # noqa: E402
from pssr_nb.sampling import DOWNSAMPLE_MODES  # noqa: E402
from pssr_nb.train import TrainParams  # noqa: E402
from pssr_nb.train import run as train  # noqa: E402

#: The arms that score the pretrained model without training it.
ALONE = ("pretrained", "blended")


def _pairs(planes: list[np.ndarray], crappifier: Crappifier, seed: int):
    """(LR in the HR's normalised units, HR normalised) for each plane, cropped to a
    multiple of the scale (the crappifier's LR covers that much)."""
    out, s = [], crappifier.scale
    for i, plane in enumerate(planes):
        plane = np.asarray(plane, np.float32)
        plane = plane[: plane.shape[0] // s * s, : plane.shape[1] // s * s]
        hr = Source(ImageData(plane, "YX", {})).normalization.apply(plane)
        out.append((crappifier(hr, seed=seed + i), hr))
    return out


def _score_crappified(model: TrainedModel, tests, tuning) -> dict[str, float]:
    params = BenchmarkParams(data="pairs", tta=False, device="cpu")
    cases = [array_case(model, f"plane {i}", lr, hr, params) for i, (lr, hr) in enumerate(tests)]
    add_baselines(cases, model, params, tuning)
    rows = score_cases(cases, params)
    h = headline(rows)
    base = h["psnr"]["best_baseline"]
    return {
        "model_psnr": float(np.mean([r["psnr"] for r in rows if r["method"] == "model"])),
        "baseline_psnr": float(np.mean([r["psnr"] for r in rows if r["method"] == base])),
        "best_baseline": base,
        "gain_db": h["psnr"]["gain_mean"],
        "gain_sd_images": h["psnr"]["gain_sd"],
        "gain_ssim": h["ssim"]["gain_mean"],
    }


def _blended(init: str, model: TrainedModel, held_out: HeldOut) -> str:
    """The pretrained model blended with the baseline on the held-out set's training planes."""
    model = TrainedModel.load(_at_offset(init, model, held_out))
    tuned = tune_blend(model, held_out.tuning)
    print(f"blend: {tuned}", flush=True)
    model = blend(model, tuned.gain, tuned.skip_sigma)
    model.history = [*model.history, tuned.log_row()]
    held_out.work.mkdir(parents=True, exist_ok=True)
    path = held_out.work / "pretrained_blended.pt"
    model.save(path)
    return str(path)


def _at_offset(init: str, model: TrainedModel, held_out: HeldOut) -> str:
    """The pretrained model file ``init`` (loaded as ``model``), or a copy serving the
    held-out data's sampling offset when that differs (``--mode``;
    ``ModelConfig.at_offset``)."""
    offset = held_out.crappifier.offset
    if held_out.pairs is not None or offset == model.config.offset:
        return init
    model = TrainedModel.load(init)  # a copy: the caller's model keeps its offset
    model.network.config = model.config.at_offset(offset)
    path = held_out.work / "pretrained_at_offset.pt"
    model.save(path)
    return str(path)


class HeldOut:
    """A held-out dataset: what a user fine-tunes on, with which crappifier, and its score."""

    #: The one set that is a real LR/HR pair, scored on its real low-SNR scan.
    REAL_PAIR = "GigaDB confocal"

    def __init__(self, real: RealSet, pretrained: TrainedModel, work: Path, scale: int, mode: str):
        self.work, self.pairs, self.validation = work, None, {}
        if real.name == self.REAL_PAIR:
            if mode:
                raise SystemExit(f"{real.name} is a real scan: its sampling is not a choice")
            lr, hr, self.crappifier = training_region(scale)
            self.train_planes = [hr]
            self.tuning = [(lr, hr)]  # the real pair a user with this scan has
            self.pairs = held_out_pairs(work / "held_out")
            low, high = training_pair_files(work / "training_pair")
            # --val-lr/--val-hr as a user with this pair gives them (notebook 01's pairs)
            self.validation = {"val_lr": str(low), "val_hr": str(high), "val_semi_synthetic": True}
        else:
            train_planes, test_planes = real.planes()
            typical = Crappifier.from_dict(pretrained.crappifier).typical()
            self.crappifier = typical.at_scale(scale, mode)
            self.train_planes = train_planes
            self.tests = _pairs(test_planes, self.crappifier, seed=10_000)
            self.tuning = _pairs(train_planes, self.crappifier, seed=20_000)

    def score(self, model_path: str | Path, name: str) -> dict[str, float]:
        """Scores of the model file at ``model_path``; ``name`` names its report folder."""
        if self.pairs is None:
            return _score_crappified(TrainedModel.load(model_path), self.tests, self.tuning)
        scores = score_held_out(model_path, self.work / name, self.pairs)
        psnr = {r["method"]: r["psnr_mean"] for r in scores.pop("summary")}
        return {
            **scores,
            "model_psnr": psnr["model"],
            "baseline_psnr": psnr[scores["best_baseline"]],
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--held-out", nargs="+", default=["ISBI ssTEM"], choices=list(SETS))
    parser.add_argument(
        "--pretrained", default="", help="the model that never saw the held-out set"
    )
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--arms", nargs="+", default=["pretrained", "fine-tuned", "scratch"])
    parser.add_argument("--results", default="transfer.jsonl")
    parser.add_argument(
        "--out", default=None, help="folder for the runs (default: a temporary one)"
    )
    parser.add_argument("--loss", default=TrainParams.loss, choices=LOSSES, help="training loss")
    parser.add_argument(
        "--pair-validation",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="for a real pair set: validate on the training region's real pair, so that "
        "model_best.pt is chosen by the real noise, not the crappified blocks",
    )
    parser.add_argument(
        "--smooth-skip",
        action=argparse.BooleanOptionalAction,
        default=TrainParams.smooth_skip,
        help="scratch runs start from bicubic + the tuned Gaussian (TrainParams.smooth_skip)",
    )
    parser.add_argument(
        "--head",
        default=TrainParams.head,
        choices=("auto", "keep", "fresh"),
        help="where fine-tuned runs start (TrainParams.head)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=4,
        help="the held-out data's scale; a pretrained model of another scale (its weights "
        "must fit any scale) is only fine-tuned, its crappifier's noise kept",
    )
    parser.add_argument(
        "--mode",
        default="",
        choices=DOWNSAMPLE_MODES,
        help="crappify the held-out data with this sampling instead of the pretrained "
        "model's (the model alone is then scored with its skip at that sampling's offset)",
    )
    parser.add_argument(
        "--also-sampling",
        default="",
        choices=("", *DOWNSAMPLE_MODES),
        help="train arms also on this sampling, every other step (TrainParams.also_sampling)",
    )
    args = parser.parse_args()
    rows = []
    for name in args.held_out:
        real = SETS[name]
        if real.shippable and not args.pretrained:
            raise SystemExit(
                f"a shipped model trains on {name}: give --pretrained, a model from "
                f"scripts/train_sample_model.py --hold-out {name!r}"
            )
        init = args.pretrained or str(sample_model_path(f"{real.specimen}_x4"))
        pretrained = TrainedModel.load(init)
        work = (
            Path(args.out) / name.replace(" ", "_")
            if args.out
            else Path(tempfile.mkdtemp(prefix="pssr_nb_transfer_"))
        )
        held_out = HeldOut(real, pretrained, work, args.scale, args.mode)
        arms = args.arms
        if pretrained.config.scale != args.scale:
            print(f"{init} is {pretrained.config.scale}x: no model-alone arms at {args.scale}x")
            arms = [arm for arm in arms if arm not in ALONE]
        for arm in arms:
            for seed in args.seeds if arm not in ALONE else [0]:
                if arm == "pretrained":
                    model_path, steps, chosen = _at_offset(init, pretrained, held_out), 0, None
                elif arm == "blended":
                    model_path, steps, chosen = _blended(init, pretrained, held_out), 0, None
                else:
                    out = held_out.work / f"{arm}_{seed}"
                    result = train(
                        TrainParams(
                            scale=args.scale,
                            minutes=args.minutes,
                            init=init if arm == "fine-tuned" else "",
                            modality=pretrained.modality,
                            seed=seed,
                            loss=args.loss,
                            smooth_skip=args.smooth_skip,
                            head=args.head,
                            also_sampling=args.also_sampling,
                            **(held_out.validation if args.pair_validation else {}),
                        ),
                        [Source(ImageData(p, "YX", {})) for p in held_out.train_planes],
                        out,
                        crappifier=held_out.crappifier,
                        progress=False,
                    )
                    model_path, steps = out / "model_best.pt", result.summary["steps"]
                    chosen = result.summary["start"].get("head", "kept")
                row = {
                    "data": name,
                    "pretrained": init,
                    "arm": arm,
                    "scale": args.scale,
                    "mode": args.mode or None,
                    "seed": seed,
                    "minutes": args.minutes,
                    "steps": steps,
                    "loss": args.loss if arm not in ALONE else None,
                    "smooth_skip": args.smooth_skip if arm == "scratch" else None,
                    "head": f"{args.head}: {chosen}" if arm == "fine-tuned" else None,
                    "pair_validation": bool(args.pair_validation and held_out.validation),
                    "also_sampling": args.also_sampling or None,
                }
                row.update(held_out.score(model_path, f"{arm}_{seed}"))
                print(json.dumps(row), flush=True)
                with open(args.results, "a") as fh:
                    fh.write(json.dumps(row) + "\n")
                rows.append(row)
    print("| data | arm | seeds | steps | model PSNR | best baseline | gain dB | gain SSIM |")
    print("|---|---|---|---|---|---|---|---|")
    for key in dict.fromkeys((r["data"], r["arm"]) for r in rows):
        mine = [r for r in rows if (r["data"], r["arm"]) == key]

        def ms(k: str, d: int, rows=mine) -> str:
            v = [r[k] for r in rows]
            return f"{statistics.mean(v):+.{d}f} ± {statistics.stdev(v) if len(v) > 1 else 0:.{d}f}"

        print(
            f"| {key[0]} | {key[1]} | {len(mine)} | {round(statistics.mean(r['steps'] for r in mine))} | "
            f"{statistics.mean(r['model_psnr'] for r in mine):.2f} | "
            f"{mine[0]['best_baseline']} {mine[0]['baseline_psnr']:.2f} | {ms('gain_db', 2)} | "
            f"{ms('gain_ssim', 3)} |"
        )


if __name__ == "__main__":
    main()
