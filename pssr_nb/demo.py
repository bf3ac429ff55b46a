"""The end-to-end quickstart on built-in phantoms (``pssr-nb demo``).

Runs the whole workflow into one output folder: simulate phantoms (training
and held-out fields of view with different seeds), calibrate the crappifier on
the training pairs (the physical estimate, fast), train a model within a time budget, predict
the held-out LR images, and score the model and every baseline against the noiseless truth
with the benchmark's scoreboard (:mod:`pssr_nb.benchmark`). The headline is the model's
gain over the best baseline. The report also shows what a half-pixel geometry error
(PSSR2's bilinear convention) costs the bicubic baseline.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import __version__
from .benchmark import (
    BenchmarkParams,
    Case,
    add_baselines,
    array_case,
    headline,
    score_cases,
    summarize,
)
from .calibrate import CalibrateParams, calibrate_pairs
from .crappify import Crappifier
from .data import HRDataset, load_sources
from .errors import InputError
from .files import claim_folder
from .io import read_image, write_tiff
from .model_choice import matching_sample_model
from .model_file import TrainedModel
from .models import PRESETS
from .noise_model import NoiseModel
from .normalize import Normalization, percentile_normalization
from .params import Checked, param, setting_error, to_dict
from .phantoms import Microscope, SimulateParams, scan_noise
from .phantoms import run as simulate_run
from .run_files import RUN_FILES
from .sampling import scale_setting, upsample
from .train import TrainParams
from .train import run as train_run

__all__ = ["TEST_SEEDS", "TRAIN_SEEDS", "DemoParams", "field_cases", "reference_modality", "run"]


@dataclasses.dataclass
class DemoParams(Checked):
    """Settings of the quickstart."""

    #: Quick mode (CI, a first look): the starting values a form takes instead.
    QUICK: ClassVar[dict[str, Any]] = {"size": 128, "n_train": 2, "n_test": 1, "steps": 30}

    specimen: str = param(
        "em", "Phantom to use: em or fluorescence.", choices=("em", "fluorescence")
    )
    size: int = param(256, "HR image size in pixels.", minimum=64)
    scale: int = scale_setting()
    n_train: int = param(8, "Training fields of view.", minimum=1)
    n_test: int = param(2, "Held-out fields of view (different seeds).", minimum=1)
    minutes: float = param(3.0, "Training time budget in minutes (used when steps is 0).", above=0)
    steps: int = param(0, "Training steps; 0 fits the training into the time budget.", minimum=0)
    preset: str = param("small", "Network size.", choices=tuple(PRESETS))
    start: str = param(
        "auto",
        "Weights to start from: sample (fine-tune the shipped sample model of this specimen, "
        "of this scale or one that fits any scale), scratch (random), auto (sample when "
        "there is one, else scratch), or a model file.",
    )
    seed: int = param(0, "Random seed.", minimum=0)

    def check_together(self) -> None:
        if self.size % self.scale:
            raise setting_error(self, "size", f"a multiple of scale = {self.scale}")


#: Phantom seeds of the quickstart's training and held-out fields (plus ``seed``): apart from
#: each other and from the sample models' training phantoms (seeds below 100), so that a
#: run that fine-tunes a sample model is validated and scored on fields it never saw.
TRAIN_SEEDS, TEST_SEEDS = 100, 1000


@dataclasses.dataclass
class _WrittenSet:
    """One simulated field of view as read back from the files ``phantoms.run`` wrote."""

    name: str
    truth: np.ndarray
    hr: np.ndarray
    lr: np.ndarray
    hr_norm: Normalization
    lr_norm: Normalization
    microscope: dict[str, Any]
    pixel_size: float


def _read_sets(folder: Path, record: dict[str, Any]) -> list[_WrittenSet]:
    return [
        _WrittenSet(
            name=img["file"],
            truth=read_image(folder / "truth" / img["file"]).data,
            hr=read_image(folder / "hr" / img["file"]).data,
            lr=read_image(folder / "lr" / img["file"]).data,
            hr_norm=Normalization.from_dict(img["hr_normalization"]),
            lr_norm=Normalization.from_dict(img["lr_normalization"]),
            microscope=img["microscope"],
            pixel_size=img["hr_pixel_size_nm"],
        )
        for img in record["images"]
    ]


def run(
    params: DemoParams,
    out_dir: str | Path,
    progress: bool = True,
    training: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run the quickstart into ``out_dir`` and return the report (also written as ``report.json``).

    Running it again into the same folder replaces the previous results, except that
    an interrupted training run (``model/checkpoint.pt`` without ``model/train.json``)
    is continued where it stopped. It writes only into a new or empty folder or one an
    earlier quickstart made (:func:`~pssr_nb.files.claim_folder`), and replaces only
    the files it made: a training run of ``pssr-nb train`` in ``model`` is never removed. ``training`` overrides fields of the
    :class:`~pssr_nb.train.TrainParams` the quickstart trains with, ``calibration``
    fields of its :class:`~pssr_nb.calibrate.CalibrateParams` (for experiments with the
    recipe, e.g. ``{"loss": "mse"}`` and ``{"dose_range": 1}``).
    """
    out = claim_folder(out_dir, "demo")
    model_dir = claim_folder(out / "model", "demo")  # before any work: refuse others' runs
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    train = SimulateParams(
        params.specimen,
        params.size,
        params.scale,
        n_images=params.n_train,
        seed=params.seed + TRAIN_SEEDS,
    )
    test = dataclasses.replace(train, n_images=params.n_test, seed=params.seed + TEST_SEEDS)
    train_sets = _read_sets(
        out / "data" / "train", simulate_run(train, out / "data" / "train", overwrite=True)
    )
    test_sets = _read_sets(
        out / "data" / "test", simulate_run(test, out / "data" / "test", overwrite=True)
    )
    timings["simulate"] = time.perf_counter() - t0

    t1 = time.perf_counter()
    reference = train_sets[0]
    calibration = calibrate_pairs(
        [(ws.lr, ws.hr) for ws in train_sets],
        CalibrateParams(scale=params.scale, **(calibration or {})),
        [ws.name for ws in train_sets],
        fit=False,
    )
    crappifier = calibration.crappifier
    calibration.save(out, overwrite=True)  # out is claimed by the quickstart
    timings["calibrate"] = time.perf_counter() - t1
    t1 = time.perf_counter()
    sources = load_sources(out / "data" / "train" / "hr")
    tiles = HRDataset(
        sources, tile=min(128, params.size), scale=params.scale, length=8, seed=params.seed
    )
    batch = np.stack([tiles[i].numpy() for i in range(len(tiles))])
    crappified = crappifier(batch, seed=params.seed)
    timings["crappify"] = time.perf_counter() - t1

    t2 = time.perf_counter()
    if (model_dir / "train.json").exists():  # a finished earlier quickstart run: start afresh
        for name in RUN_FILES:
            (model_dir / name).unlink(missing_ok=True)
    trained = train_run(
        dataclasses.replace(_training_params(params), **(training or {})),
        out / "data" / "train" / "hr",
        model_dir,
        crappifier=crappifier,
        resume=(model_dir / "checkpoint.pt").exists(),
        progress=progress,
    )
    timings["train"] = time.perf_counter() - t2

    t3 = time.perf_counter()
    model = TrainedModel.load(model_dir / "model_best.pt")
    scores, first_prediction = _predict_and_score(params, out, test_sets, train_sets, model)
    timings["predict_and_score"] = time.perf_counter() - t3

    summary = {row.pop("method"): row for row in summarize(scores)}
    best = headline(scores)
    report = {
        "pssr_nb_version": __version__,
        "params": to_dict(params),
        "steps_run": ["simulate", "calibrate", "crappify", "train", "predict", "benchmark"],
        "crappifier": crappifier.to_dict(),
        "crappified_batch_shape": list(crappified.shape),
        "noise_check": _noise_check(reference, calibration.lr_noise),
        "training": {
            k: trained.summary[k]
            for k in ("steps", "stopped", "training_seconds", "best", "params")
        },
        "scores": scores,
        "summary": summary,
        "headline": best,
        "seconds": {k: round(v, 3) for k, v in timings.items()},
    }
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    _overview_figure(
        reference, test_sets[0], first_prediction, crappifier, params, out / "overview.png"
    )
    return report


def _training_params(params: DemoParams) -> TrainParams:
    return TrainParams(
        preset=params.preset,
        scale=params.scale,
        minutes=params.minutes,
        steps=params.steps,
        tile=min(128, params.size // 2),
        init=_start_model(params),
        modality=reference_modality(params.specimen),
        seed=params.seed,
    )


def _start_model(params: DemoParams) -> str:
    """The ``init`` of the training run: empty (scratch), a sample model's name or a file."""
    if params.start == "scratch":
        return ""
    if params.start not in ("sample", "auto"):
        return params.start
    name = matching_sample_model(params.specimen, params.scale)
    if not name and params.start == "sample":
        raise InputError(
            f"There is no sample model for {params.specimen} at {params.scale}x.",
            fix="Train from scratch (start=scratch), or give a model file to fine-tune.",
        )
    return name


def reference_modality(specimen: str) -> str:
    """The modality the phantom of a specimen simulates."""
    return "scanning EM (simulated)" if specimen == "em" else "confocal (simulated)"


def _predict_and_score(
    params: DemoParams,
    out: Path,
    test_sets: list[_WrittenSet],
    train_sets: list[_WrittenSet],
    model: TrainedModel,
) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Score the model and every baseline on the held-out LR images against the truth.

    The same scoreboard as ``pssr-nb benchmark`` (:mod:`pssr_nb.benchmark`): CARE
    normalisation, interpolations at the acquired positions, and bicubic + a Gaussian
    tuned on the training fields of view. Returns the score rows and the model's
    prediction of the first held-out image (in physical units).
    """
    cases = field_cases(
        model,
        [(ws.name, ws.lr_norm.apply(ws.lr), ws.truth, ws.pixel_size) for ws in test_sets],
        [(ws.lr_norm.apply(ws.lr), ws.truth) for ws in train_sets],
    )
    s = params.scale
    for case, ws in zip(cases, test_sets, strict=True):
        # what a crappifier whose geometry is off by (s-1)/2 HR pixels would teach a model
        case.outputs["bicubic_misaligned"] = upsample(case.lr, s, (s - 1) / 2, "bicubic")
        for method in ("model", "bicubic"):
            path = out / "predictions" / method / ws.name
            write_tiff(path, case.outputs[method], "YX", ws.pixel_size, overwrite=True)
    return score_cases(cases, BenchmarkParams()), cases[0].outputs["model"]


def field_cases(
    model: TrainedModel,
    tests: Sequence[tuple[str, np.ndarray, np.ndarray, float]],
    tuning: Sequence[tuple[np.ndarray, np.ndarray]],
) -> list[Case]:
    """The quickstart's scoreboard cases for simulated fields of view.

    Parameters
    ----------
    model : TrainedModel
        Predicts each held-out LR as ``pssr-nb predict`` does by default (no TTA).
    tests : sequence of (name, LR, truth, HR pixel size in nm)
        The held-out fields, LR in the simulator's physical units.
    tuning : sequence of (LR, truth)
        Training fields the baselines are tuned on (never scored).

    Returns
    -------
    list of Case
        Every case with the model's and every baseline's output, ready for
        :func:`~pssr_nb.benchmark.score_cases`.
    """
    scoring = BenchmarkParams()
    predicting = dataclasses.replace(scoring, tta=False)
    cases = [
        array_case(model, name, lr, truth, predicting, pixel_size, float(np.ptp(truth)))
        for name, lr, truth, pixel_size in tests
    ]
    add_baselines(cases, model, scoring, list(tuning))
    return cases


def _noise_check(ws: _WrittenSet, estimate: NoiseModel) -> dict[str, float]:
    """The calibrated LR noise beside the simulated microscope's, both in the HR's units."""
    microscope = Microscope(**ws.microscope)
    truth = scan_noise(
        microscope, microscope.lr_dwell_us, ws.hr_norm, percentile_normalization(ws.hr)
    )
    return {
        "lr_photons_calibrated": estimate.photons,
        "lr_photons_simulated": truth.photons,
    }


def _overview_figure(
    ws: _WrittenSet,
    test: _WrittenSet,
    prediction: np.ndarray,
    crappifier: Crappifier,
    params: DemoParams,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plotting import image_grid

    lr = test.lr_norm.apply(test.lr)
    fig = image_grid(
        {
            "HR scan (training)": ws.hr,
            "crappified HR (training input)": crappifier(
                percentile_normalization(ws.hr).apply(ws.hr), seed=params.seed
            ),
            "held-out LR scan": test.lr,
            "bicubic, aligned": upsample(lr, params.scale, crappifier.offset, "bicubic"),
            "model": prediction,
            "truth (noiseless)": test.truth,
        }
    )
    fig.savefig(path, dpi=80)
    plt.close(fig)
