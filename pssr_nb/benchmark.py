"""Benchmark a model on held-out data: scores beside baselines, resolution, hallucination, trust.

Three kinds of test data:

- ``phantoms``: fresh simulated fields (seeds the model never saw) of the
  model's specimen, scored against the noiseless truth; the only data where
  resolution targets, known small objects and independent repeat scans exist.
- ``pairs``: real LR/HR pairs matched by name, scored against the HR scan (which
  has noise of its own, so scores are lower than against a truth would be).
- ``semi-synthetic``: real low-/high-SNR pairs at one pixel size; the LR is the
  low-SNR image decimated by the model's scale, which is what a point scan with
  ``scale`` times larger pixels and the same dwell records. Real noise, synthetic
  undersampling: the report says so.

Every image is scored for the model and for every baseline
(:mod:`pssr_nb.baselines`) with the same normalisation, and each output's
sub-pixel shift against the reference is measured: above a tenth of a pixel it
is flagged as a geometry error. :func:`run` adds Fourier ring correlation,
the two-point test, object detection, the flat-noise check and uncertainty,
and writes the report (:mod:`pssr_nb.report`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import __version__
from .baselines import Tuned, baselines, tune
from .detection import object_detection
from .errors import InputError
from .files import output_folder
from .frc import average, frc, shifted_repeats
from .grid_artefacts import grid_excess_db
from .io import ImageData, read_image
from .metrics import (
    NORMALIZATIONS,
    care_fit,
    mean_sd,
    psnr_ceiling,
    sample_sd,
    score,
    ssim_map,
    tile_scores,
)
from .model_choice import MODEL_HELP, open_model
from .model_file import TrainedModel
from .pair_target import make_target
from .params import Checked, param, setting_error, to_dict
from .phantoms import MICROSCOPES, PhantomSet, default_microscope, simulate, specimen_of
from .predict import PredictParams, predict_image
from .registration import shift_is_real, shift_with_error
from .resolution import compare, standard_outputs
from .structure import Lines, judge, structure_check
from .trust import flat_noise_check, uncertainty_against_trivial, uncertainty_calibration

__all__ = [
    "DATA_KINDS",
    "DETECTION_FLAG",
    "FRC_DRAWS",
    "NOT_BASELINES",
    "NOT_TRACED",
    "SHIFT_LIMIT_PX",
    "SUMMARY_SCORES",
    "add_baselines",
    "array_case",
    "BenchmarkInputs",
    "BenchmarkParams",
    "BenchmarkResult",
    "Case",
    "evaluate",
    "file_cases",
    "frc_curves",
    "gain_over_best_baseline",
    "headline",
    "invented_structure",
    "known_objects",
    "maps",
    "match_files",
    "phantom_cases",
    "resolution_target",
    "run",
    "score_cases",
    "summarize",
    "summary_rows",
    "uncertainty_and_error",
]

DATA_KINDS = ("phantoms", "pairs", "semi-synthetic")
#: A shift against the reference above this many pixels (and beyond its measurement
#: error, :func:`~pssr_nb.registration.shift_is_real`) is a geometry error.
SHIFT_LIMIT_PX = 0.1


@dataclasses.dataclass
class BenchmarkInputs(Checked):
    """Which model to score on which real images (notebook 05, ``pssr-nb benchmark``)."""

    model: str = param("", MODEL_HELP)
    lr: tuple[str, ...] = param(
        (),
        "For real data: the LR (or low-SNR) files or folder. Empty: in notebook 05 the "
        "pairs recorded in notebook 01, else the held-out sample pairs.",
    )
    hr: tuple[str, ...] = param(
        (), "For real data: the HR (or high-SNR) files or folder, paired with lr by name."
    )

    def check_together(self) -> None:
        if bool(self.lr) != bool(self.hr):
            raise setting_error(
                self,
                "hr" if self.lr else "lr",
                "the other side of the real pairs",
                fix="Give both --lr and --hr (lr=, hr=), or neither.",
            )


@dataclasses.dataclass
class BenchmarkParams(Checked):
    """Settings of a benchmark (the benchmark notebook's form and ``pssr-nb benchmark``)."""

    #: Quick mode (CI, a first look): the starting values a form takes instead.
    QUICK: ClassVar[dict[str, Any]] = {
        "size": 128,
        "n_images": 1,
        "resolution_pairs": 6,
        "resolution_draws": 2,
        "tta": True,  # so that a first look shows the uncertainty checks too
    }

    data: str = param(
        "phantoms",
        "Test data: fresh phantoms, real LR/HR pairs, or low/high-SNR pairs (semi-synthetic).",
        choices=DATA_KINDS,
    )
    specimen: str = param(
        "auto",
        "Phantom specimen; auto follows the model's modality.",
        choices=("auto", "em", "fluorescence"),
    )
    n_images: int = param(2, "Phantom fields of view to score.", minimum=1)
    size: int = param(256, "Phantom HR image size in pixels.", minimum=32)
    seed: int = param(
        1000, "Seed of the phantoms (the sample model was trained on seeds < 100).", minimum=0
    )
    normalization: str = param(
        "care",
        "care: fit each output to the percentile-normalised reference first (gain and "
        "offset are not errors); fixed: score as given with the reference's data range.",
        choices=NORMALIZATIONS,
    )
    tile: int = param(128, "Tile size in HR pixels for per-tile scores.", minimum=16)
    resolution_pairs: int = param(
        50, "Pairs per separation in the two-point resolution test (phantoms; 0: skip it).",
        minimum=0,
    )  # fmt: skip
    resolution_draws: int = param(3, "Noise draws of the resolution target.", minimum=1)
    max_planes: int = param(4, "Planes scored per stack (evenly spaced).", minimum=1)
    tta: bool = param(
        False,
        "Predict with test-time augmentation, as predict --tta does (8 flips and rotations "
        "averaged: better and 8x slower), and check their spread as an uncertainty map. "
        "Off, as predict's default: the scores describe what predict gives.",
    )
    lr_token: str = param("", "Part of LR file names to ignore when pairing, e.g. lowsnr.")
    hr_token: str = param("", "Part of HR file names to ignore when pairing, e.g. highsnr.")
    device: str = param("auto", "auto, cpu, cuda or mps.")


@dataclasses.dataclass
class Case:
    """One scored 2-D plane: the LR input, the reference and every method's output."""

    name: str
    lr: np.ndarray
    reference: np.ndarray
    outputs: dict[str, np.ndarray]
    pixel_size: float | None = None
    data_range: float = 1.0
    uncertainty: np.ndarray | None = None
    phantom: PhantomSet | None = None
    tuned: Tuned | None = None  # the restoration baselines' parameters, tuned elsewhere


def _model_specimen(model: TrainedModel, specimen: str) -> str:
    if specimen != "auto":
        return specimen
    return specimen_of(model.modality)


def _microscope(specimen: str) -> str:
    return default_microscope(specimen)


def _predict(model: TrainedModel, image: ImageData, params: BenchmarkParams):
    """The model's prediction in the input's units, and its uncertainty in the same units."""
    settings = PredictParams(tta=params.tta, device=params.device)
    pred = predict_image(model, image, settings)
    data = pred.normalization.invert(pred.data, "float32")
    unc = None if pred.uncertainty is None else pred.uncertainty * pred.normalization.span
    return data, unc


def _planes(n: int, k: int) -> list[int]:
    return sorted({int(round(i)) for i in np.linspace(0, n - 1, min(n, k))})


def _data_range(reference: np.ndarray, dtype: np.dtype) -> float:
    if np.issubdtype(dtype, np.integer):
        return float(np.iinfo(dtype).max - np.iinfo(dtype).min)
    return float(np.ptp(reference)) or 1.0


def phantom_cases(model: TrainedModel, params: BenchmarkParams) -> list[Case]:
    """Fresh phantoms of the model's specimen, in physical units, with their predictions."""
    c = model.config
    specimen = _model_specimen(model, params.specimen)
    size = max(params.size // c.scale, 8) * c.scale
    cases = []
    for i in range(params.n_images):
        ps = simulate(
            specimen, (size, size), c.scale, c.frames, "T", params.seed + i, _microscope(specimen)
        )
        lr = ps.normalization("lr").apply(ps.lr)
        axes = "YX" if c.frames == 1 else "TYX"
        pred, unc = _predict(model, ImageData(lr, axes, {}), params)

        def pick(a: np.ndarray) -> np.ndarray:
            return a if a.ndim == 2 else a[c.frames // 2]

        cases.append(
            Case(
                name=f"{specimen}_{params.seed + i}",
                lr=pick(lr),
                reference=pick(ps.truth),
                outputs={"model": pick(pred), "HR scan": pick(ps.normalization("hr").apply(ps.hr))},
                pixel_size=ps.pixel_size,
                data_range=float(np.ptp(ps.truth)),
                uncertainty=None if unc is None else pick(unc),
                phantom=ps,
            )
        )
    return cases


def array_case(
    model: TrainedModel,
    name: str,
    lr: np.ndarray,
    reference: np.ndarray,
    params: BenchmarkParams,
    pixel_size: float | None = None,
    data_range: float = 1.0,
) -> Case:
    """One 2-D LR plane (any units) and its reference, with the model's prediction.

    The prediction goes through :func:`~pssr_nb.predict.predict_image`, as for files.
    """
    pred, unc = _predict(model, ImageData(np.asarray(lr, np.float32), "YX", {}), params)
    return Case(
        name=name,
        lr=np.asarray(lr, np.float32),
        reference=reference,
        outputs={"model": pred},
        pixel_size=pixel_size,
        data_range=data_range,
        uncertainty=unc,
    )


def match_files(
    lr: str | Path | Sequence[str | Path],
    hr: str | Path | Sequence[str | Path],
    params: BenchmarkParams,
) -> list[tuple[Path, Path]]:
    """LR and HR files or folders paired by name (with the tokens of ``params``)."""
    from .data import find_pairs

    return find_pairs(lr, hr, params.lr_token, params.hr_token)


def file_cases(
    model: TrainedModel, params: BenchmarkParams, pairs: Sequence[tuple[Path, Path]]
) -> list[Case]:
    """Real pairs (``pairs``) or low/high-SNR pairs (``semi-synthetic``) with their predictions."""
    s = model.config.scale
    cases = []
    for lr_path, hr_path in ((Path(a), Path(b)) for a, b in pairs):
        low, high = read_image(lr_path), read_image(hr_path)
        lr_data = np.asarray(low.data, np.float32)
        if params.data == "semi-synthetic":
            if low.shape != high.shape:
                raise InputError(
                    f"A semi-synthetic pair needs one pixel size, but {lr_path.name} is "
                    f"{low.shape} and {hr_path.name} is {high.shape}.",
                    path=lr_path,
                    fix="Give low- and high-SNR images of the same field at the same pixel size, "
                    'or use data="pairs" for real LR/HR pairs.',
                )
            lr_data = lr_data[..., ::s, ::s]
        hr_plane_shape = tuple(n * s for n in lr_data.shape[-2:])
        if any(h < n for h, n in zip(high.shape[-2:], hr_plane_shape, strict=True)):
            raise InputError(
                f"{hr_path.name} {high.shape} is smaller than {s} x the LR "
                f"{lr_data.shape} of {lr_path.name}.",
                path=hr_path,
                fix="Check the model's scale and that the two files show the same field.",
            )
        reference = np.asarray(high.data, np.float32)[..., : hr_plane_shape[0], : hr_plane_shape[1]]
        pred, unc = _predict(model, ImageData(lr_data, low.axes, low.pixel_size, lr_path), params)
        n = int(np.prod(lr_data.shape[:-2], dtype=int))
        flat = [a.reshape(n, *a.shape[-2:]) for a in (lr_data, reference, pred)]
        flat_unc = None if unc is None else unc.reshape(n, *unc.shape[-2:])
        for k in _planes(n, params.max_planes):
            cases.append(
                Case(
                    name=lr_path.stem + (f"[{k}]" if n > 1 else ""),
                    lr=flat[0][k],
                    reference=flat[1][k],
                    outputs={"model": flat[2][k]},
                    pixel_size=high.pixel_size_xy,
                    data_range=_data_range(flat[1][k], high.data.dtype),
                    uncertainty=None if flat_unc is None else flat_unc[k],
                )
            )
    return cases


def add_baselines(
    cases: list[Case],
    model: TrainedModel,
    params: BenchmarkParams,
    tuning: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
) -> list[str]:
    """Put every baseline beside the model in each case; return warnings about tuning.

    The Gaussian of the denoising baseline is tuned on data that is not scored:
    ``tuning`` (LR, reference) pairs when given (e.g. the training images), else a
    separate phantom for phantoms and the other pairs (leave one out) for real data.
    """
    c = model.config
    warnings = []
    if tuning:
        settings = [tune(list(tuning), c.scale, c.offset)] * len(cases)
    elif params.data == "phantoms":
        ps = cases[0].phantom
        tuning = simulate(
            ps.specimen, ps.truth.shape[-2:], c.scale, 1, "T", params.seed + 500, ps.microscope
        )
        pair = (tuning.normalization("lr").apply(tuning.lr), tuning.truth)
        settings = [tune([pair], c.scale, c.offset)] * len(cases)
    elif len(cases) == 1:
        settings = [tune([(cases[0].lr, cases[0].reference)], c.scale, c.offset)]
        warnings.append(
            "Only one plane: the restoration baselines were tuned on the image they are scored "
            "on, which flatters them. Give two or more pairs for a fair baseline."
        )
    else:
        settings = [
            tune([(o.lr, o.reference) for j, o in enumerate(cases) if j != i], c.scale, c.offset)
            for i in range(len(cases))
        ]
    for case, tuned in zip(cases, settings, strict=True):
        case.tuned = tuned
        model_out = {"model": case.outputs.pop("model")}
        case.outputs = {**model_out, **baselines(case.lr, c.scale, c.offset, tuned), **case.outputs}
    return warnings


def score_cases(cases: list[Case], params: BenchmarkParams) -> list[dict[str, Any]]:
    """One row per case and method: scores, per-tile PSNR spread and the registration check."""
    rows = []
    for case in cases:
        scale = case.reference.shape[-1] // case.lr.shape[-1]
        for method, output in case.outputs.items():
            dy, dx, error = shift_with_error(output, case.reference)
            shift = float(np.hypot(dy, dx))
            tiles = tile_scores(output, case.reference, params.tile, params.normalization)
            rows.append(
                {
                    "image": case.name,
                    "method": method,
                    **score(output, case.reference, params.normalization, case.data_range),
                    "psnr_tile_sd": sample_sd([t["psnr"] for t in tiles]),
                    "shift_y_px": round(dy, 3),
                    "shift_x_px": round(dx, 3),
                    "shift_error_px": round(error, 3),
                    "geometry_ok": not shift_is_real(shift, error, SHIFT_LIMIT_PX),
                    "grid_excess_db": round(grid_excess_db(output, case.reference, scale), 3),
                }
            )
    return rows


#: Methods in the score rows that are not simple baselines.
NOT_BASELINES = ("model", "HR scan")


def gain_over_best_baseline(rows: list[dict[str, Any]], metric: str = "psnr") -> dict[str, Any]:
    """The headline: the model's score minus the best simple baseline's, image by image.

    The best baseline is the one with the highest mean ``metric`` over the images (never
    the weakest); the gain is taken per image against it, so its SD
    (:func:`~pssr_nb.metrics.sample_sd`) is the spread over images.

    Examples
    --------
    >>> rows = [{"image": i, "method": m, "psnr": v} for i, m, v in [
    ...     ("a", "model", 21.0), ("a", "bicubic", 19.0), ("a", "bicubic+gaussian", 20.0),
    ...     ("b", "model", 23.0), ("b", "bicubic", 21.0), ("b", "bicubic+gaussian", 21.5)]]
    >>> h = gain_over_best_baseline(rows)
    >>> h["best_baseline"], h["gain_mean"], h["gain_sd"]
    ('bicubic+gaussian', 1.25, 0.3536)
    """
    methods = dict.fromkeys(r["method"] for r in rows if r["method"] not in NOT_BASELINES)
    means = {m: float(np.mean([r[metric] for r in rows if r["method"] == m])) for m in methods}
    best = max(means, key=means.__getitem__)
    theirs = {r["image"]: r[metric] for r in rows if r["method"] == best}
    gains = [float(r[metric] - theirs[r["image"]]) for r in rows if r["method"] == "model"]
    return {
        "metric": metric,
        "best_baseline": best,
        "gain_mean": round(float(np.mean(gains)), 4),
        "gain_sd": round(sample_sd(gains), 4),
        "images": len(gains),
    }


def headline(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """:func:`gain_over_best_baseline` in PSNR and in SSIM, and one sentence of it."""
    psnr, ssim = gain_over_best_baseline(rows, "psnr"), gain_over_best_baseline(rows, "ssim")
    text = (
        f"model vs best baseline ({psnr['best_baseline']}): "
        f"{psnr['gain_mean']:+.2f} ± {psnr['gain_sd']:.2f} dB PSNR, "
        f"{ssim['gain_mean']:+.3f} ± {ssim['gain_sd']:.3f} SSIM "
        f"(vs {ssim['best_baseline']}) over {psnr['images']} image(s)"
    )
    return {"psnr": psnr, "ssim": ssim, "text": text}


def reference_ceiling(
    cases: Sequence[Case],
    rows: list[dict[str, Any]],
    normalization: str = "care",
    psnr: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """How much a noisy reference lets any method gain, and how much of it the model took.

    Against a real HR or high-SNR scan even a perfect restoration scores only
    :func:`~pssr_nb.metrics.psnr_ceiling`. The gap from the best baseline to that
    ceiling is the room there is; the model's gain is read as a share of it. ``psnr`` is
    :func:`gain_over_best_baseline` of ``rows`` in PSNR, where the caller has it already.
    """
    psnr = psnr or gain_over_best_baseline(rows, "psnr")
    theirs = {r["image"]: r["psnr"] for r in rows if r["method"] == psnr["best_baseline"]}
    ceilings = {c.name: psnr_ceiling(c.reference, normalization, c.data_range) for c in cases}
    room = float(np.mean([ceilings[name] - theirs[name] for name in ceilings]))
    share = psnr["gain_mean"] / room if room > 0 else None
    ceiling = float(np.mean(list(ceilings.values())))
    text = (
        f"A perfect restoration would score about {ceiling:.1f} dB PSNR against this noisy "
        "reference (its own noise, estimated from it); "
    )
    if share is None:  # structure finer than two pixels makes the estimate read low
        text += "the best baseline already reaches that estimate, so no room can be measured."
    else:
        taken = (
            "the model scores below the baseline"
            if psnr["gain_mean"] < 0
            else f"the model takes {share:.0%} of it"
        )
        text += f"the best baseline leaves {room:.1f} dB below that ceiling, and {taken}."
    return {
        "psnr_mean": round(ceiling, 3),
        "room_db": round(room, 3),
        "share_taken": None if share is None else round(share, 3),
        "text": text,
    }


#: The scores :func:`summarize` averages over images.
SUMMARY_SCORES = ("psnr", "ssim", "ms_ssim", "nrmse", "grid_excess_db")


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and SD of every score per method, over images."""
    out = []
    for method in dict.fromkeys(r["method"] for r in rows):
        mine = [r for r in rows if r["method"] == method]
        stats = mean_sd(mine, SUMMARY_SCORES)
        out.append(
            {
                "method": method,
                "images": len(mine),
                **{k: round(v, 4) for k, v in stats.items()},
                "geometry_errors": sum(not r["geometry_ok"] for r in mine),
            }
        )
    return out


def summary_rows(result: BenchmarkResult) -> list[dict[str, Any]]:
    """The summary table as printed by ``pssr-nb benchmark`` and notebook 05."""
    keys = ("method", "psnr_mean", "psnr_sd", "ssim_mean", "grid_excess_db_mean", "geometry_errors")
    return [{k: r[k] for k in keys} for r in result.summary]


def maps(case: Case, methods: Sequence[str] = ("model", "bicubic")) -> dict[str, np.ndarray]:
    """Absolute-error and SSIM maps of some methods on one case, on the CARE scale."""
    out = {}
    for m in methods:
        if m not in case.outputs:
            continue
        a, b, target = care_fit(case.outputs[m], case.reference)
        fitted = a * case.outputs[m] + b
        out[f"{m} |error|"] = np.abs(fitted - target).astype(np.float32)
        out[f"{m} SSIM"] = ssim_map(fitted, target, 1.0)
    return out


def uncertainty_and_error(case: Case) -> tuple[np.ndarray, np.ndarray]:
    """The model's TTA uncertainty and its absolute error, both on the CARE scale."""
    a, b, target = care_fit(case.outputs["model"], case.reference)
    error = np.abs(a * case.outputs["model"] + b - target)
    return abs(a) * case.uncertainty, error


#: Repeat pairs whose FRC is averaged (each a fresh pair of scans).
FRC_DRAWS = 3


def frc_curves(
    cases: Sequence[Case], model: TrainedModel, params: BenchmarkParams
) -> dict[str, Any]:
    """FRC of every method: its spectral agreement with the reference and, on phantoms, repeats.

    The agreement is averaged over every case of the first one's size (the spread of the
    images is kept per curve). The repeats, on the first phantom, are :data:`FRC_DRAWS` pairs of fresh LR (and HR) scans, the second of each
    on a grid offset by 4.5 LR pixels (another sampling phase, and far enough that texture
    fixed to the output grid no longer lines up, even at low frequencies), each processed
    alike by every method (the model without TTA for both), compared on their common field
    and averaged with the spread of the pairs (:func:`pssr_nb.frc.shifted_repeats`,
    :func:`pssr_nb.frc.average`).
    """
    case = cases[0]
    alike = [c for c in cases if c.reference.shape == case.reference.shape]
    against = {
        m: average([frc(c.outputs[m], c.reference, c.pixel_size) for c in alike])
        for m in case.outputs
    }
    repeats = {}
    ps = case.phantom
    if ps is not None and model.config.frames == 1:
        c = model.config
        shift = 4 * c.scale + c.scale // 2
        settings = dataclasses.replace(params, tta=False)
        lr_units, hr_units = ps.normalization("lr"), ps.normalization("hr")

        def outputs(draw: int, offset: int) -> dict[str, np.ndarray]:
            lr = lr_units.apply(ps.reacquire("lr", seed=10 + 2 * draw + bool(offset), shift=offset))
            hr = hr_units.apply(ps.reacquire("hr", seed=10 + 2 * draw + bool(offset), shift=offset))
            pred, _ = _predict(model, ImageData(lr, "YX", {}), settings)
            return {"model": pred, **baselines(lr, c.scale, c.offset, case.tuned), "HR scan": hr}

        pairs = {}
        for draw in range(FRC_DRAWS):
            first, second = outputs(draw, 0), outputs(draw, shift)
            for m in first:
                curve = shifted_repeats(first[m], second[m], shift, case.pixel_size)
                pairs.setdefault(m, []).append(curve)
        repeats = {m: average(curves) for m, curves in pairs.items()}
    return {"against_reference": against, "repeats": repeats}


def resolution_target(
    model: TrainedModel, params: BenchmarkParams, tuned: Tuned | None = None
) -> dict[str, Any] | None:
    """The two-point test (:mod:`pssr_nb.resolution`) for the model, its baselines and the HR scan.

    The target matches the model's specimen and microscope; the model predicts each noise
    draw of its LR scan as users predict (no TTA).
    """
    if model.config.frames != 1 or params.resolution_pairs == 0:
        return None
    c = model.config
    microscope = MICROSCOPES[_microscope(_model_specimen(model, params.specimen))]
    target = make_target(
        microscope,
        c.scale,
        pairs_per_separation=params.resolution_pairs,
        controls=4 * params.resolution_pairs,
        seed=params.seed,
        multiple=c.multiple,
    )
    settings = dataclasses.replace(params, tta=False)

    def predict(lr: np.ndarray) -> np.ndarray:
        return _predict(model, ImageData(lr, "YX", {}), settings)[0]

    outputs = standard_outputs(target, params.resolution_draws, predict, tuned, offset=c.offset)
    result = compare(target, outputs)
    result.update(
        kind=target.kind,
        psf_fwhm_nm=microscope.psf_fwhm,
        pixel_size=target.pixel_size,
        lr_pixel_size=target.pixel_size * c.scale,
        example={m: images[0] for m, images in outputs.items()},
    )
    return result


#: Outputs left out of the invented-structure checks (interpolations beaten by bicubic).
NOT_TRACED = ("nearest", "bilinear")


def _lines(case: Case) -> Lines | None:
    ps = case.phantom
    if ps is None or ps.specimen not in ("em", "fluorescence"):
        return None
    return Lines.of_specimen(ps.specimen, ps.microscope)


def invented_structure(cases: Sequence[Case], reference: str) -> dict[str, Any] | None:
    """Lines traced in every method's output on every phantom (:mod:`pssr_nb.structure`).

    Each method is held against ``reference`` (the best baseline) over the images.
    """
    lines = _lines(cases[0])
    if lines is None:
        return None
    per_image = [
        structure_check(
            {m: o for m, o in c.outputs.items() if m not in NOT_TRACED}, c.reference, lines
        )
        for c in cases
    ]
    return {
        "rows": judge([p["rows"] for p in per_image], reference),
        "reference": reference,
        "lines": per_image[0]["lines"],
        "maps": per_image[0]["maps"],
        "truth": cases[0].reference,
    }


#: Small objects are judged by average precision: the precision and recall at one F1
#: optimum jump with a handful of detections; the whole curve does not.
DETECTION_FLAG = {"worse": "ap"}


def known_objects(cases: Sequence[Case], reference: str) -> dict[str, Any] | None:
    """Precision-recall of the phantoms' small objects per method, over every phantom."""
    with_objects = [c for c in cases if c.phantom is not None and c.phantom.objects]
    if not with_objects:
        return None
    per_image = [
        object_detection(
            {m: o for m, o in c.outputs.items() if m not in NOT_TRACED},
            c.reference,
            c.phantom.objects,
        )
        for c in with_objects
    ]
    numbers = ("objects", "ap", "best_f1", "precision", "recall", "fp", "fn")
    return {
        "rows": judge([p["rows"] for p in per_image], reference, numbers, flags=DETECTION_FLAG),
        "reference": reference,
        "curves": per_image[0]["curves"],
        "match_radius": per_image[0]["match_radius"],
    }


@dataclasses.dataclass
class BenchmarkResult:
    """Everything a benchmark measured; :func:`pssr_nb.report.write_report` turns it into files."""

    settings: dict[str, Any]
    data: dict[str, Any]
    scores: list[dict[str, Any]]
    summary: list[dict[str, Any]]
    headline: dict[str, Any]
    warnings: list[str]
    cases: list[Case]
    maps: dict[str, np.ndarray]
    frc: dict[str, Any]
    two_point: dict[str, Any] | None
    structure: dict[str, Any] | None
    detection: dict[str, Any] | None
    flat_noise: dict[str, Any]
    uncertainty: dict[str, Any] | None
    #: The first image's TTA uncertainty and the model's |error| on the CARE scale.
    uncertainty_maps: dict[str, np.ndarray] | None = None
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record (numbers and tables; no images)."""

        def curve(c):
            return {"frequency": c.frequency.tolist(), "correlation": c.correlation.tolist(),
                    "half_bit": c.half_bit.tolist(), **c.summary()}  # fmt: skip

        return {
            "settings": self.settings,
            "data": self.data,
            "headline": self.headline,
            "summary": self.summary,
            "scores": self.scores,
            "warnings": self.warnings,
            "frc": {k: {m: curve(c) for m, c in v.items()} for k, v in self.frc.items()},
            "two_point": None
            if self.two_point is None
            else {k: v for k, v in self.two_point.items() if k != "example"},
            "structure": None
            if self.structure is None
            else {k: v for k, v in self.structure.items() if k not in ("maps", "truth")},
            "detection": self.detection,
            "flat_noise": {k: v for k, v in self.flat_noise.items() if k != "images"},
            "uncertainty": self.uncertainty,
            "seconds": self.seconds,
        }


def evaluate(
    model: TrainedModel,
    params: BenchmarkParams | None = None,
    lr: str | Path | Sequence[str | Path] | None = None,
    hr: str | Path | Sequence[str | Path] | None = None,
    pairs: Sequence[tuple[str | Path, str | Path]] | None = None,
) -> BenchmarkResult:
    """Run every check of a benchmark and return the measurements (no files written).

    Parameters
    ----------
    model : TrainedModel
    params : BenchmarkParams, optional
    lr, hr : path or paths, optional
        For ``pairs`` and ``semi-synthetic``: LR (or low-SNR) and HR (or high-SNR) files or
        folders, paired by name.
    pairs : sequence of (path, path), optional
        Instead of ``lr`` and ``hr``: the (LR, HR) file pairs themselves.
    """
    params = params or BenchmarkParams()
    if params.data not in DATA_KINDS:
        raise InputError(f"Unknown test data {params.data!r}.", fix=f"Use one of {DATA_KINDS}.")
    start = time.perf_counter()
    if params.data == "phantoms":
        cases = phantom_cases(model, params)
    else:
        if pairs is None and (lr is None or hr is None):
            raise InputError(
                f"data={params.data!r} needs LR and HR images.",
                fix="Give the LR (low-SNR) and HR (high-SNR) folders, or use data='phantoms'.",
            )
        cases = file_cases(model, params, pairs or match_files(lr, hr, params))
    if not cases:
        raise InputError("No images to benchmark.", fix="Check the folders.")
    warnings = add_baselines(cases, model, params)
    rows = score_cases(cases, params)
    warnings += [
        f"{r['image']}: {r['method']} is shifted by ({r['shift_y_px']}, {r['shift_x_px']}) "
        f"± {r['shift_error_px']} px against the reference (limit {SHIFT_LIMIT_PX} px): "
        "a geometry error (wrong sampling offset, or a misregistered pair)."
        for r in rows
        if not r["geometry_ok"] and r["method"] in ("model", "bicubic")
    ]
    first = cases[0]
    scores_headline = headline(rows)
    if params.tta:
        scores_headline["text"] += ", predicted with TTA (as predict --tta)"
    if params.data != "phantoms":  # the noiseless truth of phantoms has no ceiling
        scores_headline["ceiling"] = reference_ceiling(
            cases, rows, params.normalization, scores_headline["psnr"]
        )
    best_baseline = scores_headline["psnr"]["best_baseline"]
    uncertainty = uncertainty_maps = None
    if first.uncertainty is not None:
        measured = [
            (*uncertainty_and_error(c), c.outputs["model"])
            for c in cases
            if c.uncertainty is not None
        ]
        uncertainty = uncertainty_calibration(*measured[0][:2])
        uncertainty["against_trivial"] = uncertainty_against_trivial(measured)
        uncertainty_maps = {"uncertainty": measured[0][0], "error": measured[0][1]}
    data = {
        "kind": params.data,
        "images": [c.name for c in cases],
        "pixel_size_nm": first.pixel_size,
        "reference": "noiseless truth"
        if params.data == "phantoms"
        else "the high-SNR / HR scan (noisy)",
    }
    return BenchmarkResult(
        settings={
            "params": to_dict(params),
            "model": model.describe(),
            "model_config": model.config.to_dict(),
            "pssr_nb_version": __version__,
        },
        data=data,
        scores=rows,
        summary=summarize(rows),
        headline=scores_headline,
        warnings=warnings,
        cases=cases,
        maps=maps(first),
        frc=frc_curves(cases, model, params),
        two_point=resolution_target(model, params, first.tuned)
        if params.data == "phantoms"
        else None,
        structure=invented_structure(cases, best_baseline),
        detection=known_objects(cases, best_baseline),
        flat_noise=flat_noise_check(
            model,
            params=PredictParams(device=params.device),
            lines=_lines(first),
            tuned=first.tuned,
        ),
        uncertainty=uncertainty,
        uncertainty_maps=uncertainty_maps,
        seconds=round(time.perf_counter() - start, 2),
    )


def run(
    params: BenchmarkParams,
    model_path: str | Path,
    out_dir: str | Path,
    lr: str | Path | Sequence[str | Path] | None = None,
    hr: str | Path | Sequence[str | Path] | None = None,
    overwrite: bool = False,
    pairs: Sequence[tuple[str | Path, str | Path]] | None = None,
) -> BenchmarkResult:
    """Benchmark a model file and write the report (``report.html``, JSON, CSV) to ``out_dir``."""
    from .report import check_free, write_report

    check_free(out_dir, overwrite)  # before minutes of work, not after
    output_folder(out_dir)
    model = open_model(model_path)
    result = evaluate(model, params, lr, hr, pairs)
    result.settings["model_file"] = str(model_path)
    write_report(result, out_dir, overwrite)
    return result
