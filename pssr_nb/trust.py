"""Can the output be trusted? Structure from nothing, and whether uncertainty predicts error.

Three checks a sceptical microscopist asks for:

- **The right units.** A network only works on inputs in the units it was trained on.
  Where the truth is known, the score of the model on an LR image normalised as
  :func:`~pssr_nb.predict.predict_image` normalises it is compared with the best score
  over a grid of gains and offsets of those units (an oracle that knows the answer);
  the units training gave the same field (:func:`seen_units`) are the reference: the
  per-image units must score as well as those.

- **Structure from nothing.** Flat fields at a few brightness levels are
  crappified exactly as in training (so the input is pure microscope noise on
  a uniform specimen) and passed through the model. Any structure in the
  output was invented. The specimen's lines are traced in it
  (:mod:`pssr_nb.structure`'s ridge filter) where they are as strong as a line of a
  fifth of the training contrast, and the share of the field under such lines at
  least three LR pixels long is compared with that of a Gaussian of the same noise
  (the tuned denoising baseline, which cannot add structure), over several noise
  draws. A model that paints membranes onto noise fails it; the standard deviation
  after smoothing at one LR pixel (the old bar, beside bicubic) is kept as a second
  number, but a painter of thin lines can pass that one.
- **Uncertainty against error.** The spread of test-time augmentations is an
  uncertainty map; where the truth is known, the rank correlation of
  uncertainty with actual error, and the mean error in each uncertainty
  decile, say whether high uncertainty marks the wrong places.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import ndimage, stats
from skimage.morphology import skeletonize

from .baselines import Tuned, baselines, restoration_names
from .crappify import Crappifier
from .data import Source
from .errors import InputError
from .io import ImageData
from .metrics import sample_sd, score
from .model_file import TrainedModel
from .normalize import Normalization
from .phantoms import MICROSCOPES, PhantomSet, default_microscope, specimen_of
from .predict import PredictParams, predict_normalized
from .structure import Lines, pieces_of, ridge_response
from .units import input_normalization, source_units

__all__ = [
    "FLAT_LEVELS",
    "FLAT_MARGIN",
    "FLAT_Z",
    "LINE_CONTRAST",
    "LINE_LENGTH_LR",
    "UNIT_GAINS",
    "UNIT_OFFSETS",
    "flat_field_check",
    "flat_noise_check",
    "flat_predictor",
    "line_threshold",
    "long_lines",
    "seen_units",
    "structure_sd",
    "trivial_predictors",
    "uncertainty_against_trivial",
    "uncertainty_calibration",
    "units_check",
]

#: Flat-field brightness levels, in normalised units (fractions of the training contrast).
FLAT_LEVELS = (0.2, 0.5, 0.8)
#: The oracle's grid: gains and offsets applied to the per-image units.
UNIT_GAINS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.12, 1.25, 1.4)
UNIT_OFFSETS = (-0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.2)


def seen_units(phantom: PhantomSet, model: TrainedModel) -> Normalization:
    """The input units training gives a phantom's field of view, in physical units.

    Its HR scan, normalised as a training image, crappified with the model's
    crappifier and measured (:func:`~pssr_nb.units.training_units`): what the network
    saw in training, mapped onto ``phantom.normalization("lr").apply(phantom.lr)``.
    """
    hr = Source(ImageData(phantom.normalization("hr").apply(phantom.hr), "YX", {}))
    if not model.crappifier:
        raise InputError("This model file does not record its crappifier.")
    ((low, span),) = source_units([hr], Crappifier.from_dict(model.crappifier)).tolist()
    low = hr.normalization.low + low * hr.normalization.span
    return Normalization(low, low + span * hr.normalization.span)


def units_check(
    model: TrainedModel,
    lr: np.ndarray,
    truth: np.ndarray,
    params: PredictParams | None = None,
    normalization: Normalization | None = None,
    gains: Sequence[float] = UNIT_GAINS,
    offsets: Sequence[float] = UNIT_OFFSETS,
) -> dict[str, float]:
    """The model's CARE PSNR with the per-image input units, beside the best on a grid.

    Parameters
    ----------
    model : TrainedModel
    lr : ndarray
        A 2-D LR image in file units.
    truth : ndarray
        Its ground truth on the HR grid.
    params : PredictParams, optional
    normalization : Normalization, optional
        Units to check; default: what prediction uses (:func:`~pssr_nb.units.input_normalization`).
    gains, offsets : sequences of float
        The oracle tries ``gain * x + offset`` for every pair, ``x`` the input in those units.

    Returns
    -------
    dict
        ``psnr`` (with the units checked), ``oracle_psnr``, ``oracle_gain``,
        ``oracle_offset`` and ``gap_db`` (oracle minus checked, >= 0 when the grid holds 1, 0).
    """
    norm = normalization or input_normalization(lr, model.percentiles, model.input_smoothing)
    x = norm.apply(lr)

    def psnr_of(inputs: np.ndarray) -> float:
        return score(predict_normalized(model, inputs, params)[0], truth)["psnr"]

    checked = psnr_of(x)
    grid = {(g, o): psnr_of(g * x + o) for g in gains for o in offsets if (g, o) != (1.0, 0.0)}
    grid[(1.0, 0.0)] = checked
    (gain, offset), best = max(grid.items(), key=lambda kv: kv[1])
    return {
        "psnr": checked,
        "oracle_psnr": best,
        "oracle_gain": gain,
        "oracle_offset": offset,
        "gap_db": best - checked,
    }


def structure_sd(image: np.ndarray, scale: int) -> float:
    """Standard deviation of an image after Gaussian smoothing of ``scale / 2`` pixels.

    Removes pixel-to-pixel noise but keeps anything as large as one LR pixel.
    """
    smooth = ndimage.gaussian_filter(np.asarray(image, np.float64), max(scale / 2, 1.0))
    return float(smooth.std())


def long_lines(image: np.ndarray, lines: Lines, threshold: float, length: float) -> float:
    """Fraction of an image covered by traced lines at least ``length`` pixels long.

    The ridge response (:func:`pssr_nb.structure.ridge_response`) above ``threshold`` is
    reduced to a skeleton; pieces shorter than ``length`` (noise makes short ones) go.
    """
    _, sizes = pieces_of(skeletonize(ridge_response(image, lines) > threshold))
    return float(sizes[sizes >= length].sum() / image.size)


#: A traced line on a flat field is at least as strong as a line of this contrast, in the
#: normalised units (a fifth of the training images' range), of the specimen's width.
LINE_CONTRAST = 0.2
#: Lines shorter than this many LR pixels are not counted (noise makes short ones).
LINE_LENGTH_LR = 3


def line_threshold(lines: Lines, contrast: float = LINE_CONTRAST) -> float:
    """The peak ridge response to one straight line of ``contrast`` and the specimen's width."""
    size = int(12 * lines.sigma) + 16
    x = np.arange(size) - size / 2
    profile = np.exp(-0.5 * (x / lines.sigma) ** 2) * contrast
    image = np.tile(-profile if lines.dark else profile, (size, 1)) + 0.5
    return float(ridge_response(image, lines)[size // 2].max())


#: A flat-field output is flagged when its long-line cover exceeds the bar's by this many
#: standard errors of the draw-by-draw difference and by at least this fraction of the field
#: (a few short lines on a 256 x 256 field; the EM painters of the tests draw 1.5 % or more).
FLAT_Z = 2.0
FLAT_MARGIN = 0.001


def flat_field_check(
    predict: Callable[[np.ndarray], np.ndarray],
    crappifier: Crappifier,
    scale: int,
    lines: Lines,
    offset: float = 0.0,
    frames: int = 1,
    tuned: Tuned | None = None,
    levels: Sequence[float] = FLAT_LEVELS,
    size: int = 64,
    draws: int = 3,
    seed: int = 0,
) -> dict[str, Any]:
    """Feed noise-only flat fields to a predictor and measure the structure it invents.

    Parameters
    ----------
    predict : callable
        LR input ``(frames, h, w)`` in the flat field's units -> the 2-D HR output in them.
    crappifier : Crappifier
        The noise to feed.
    scale, offset, frames : int, float, int
        The model's scale, sampling offset and input frames.
    lines : Lines
        The specimen's lines, for :func:`long_lines`.
    tuned : Tuned, optional
        The restoration baselines' settings; the tuned Gaussian (it removes noise and
        cannot add structure) is the bar. Without it, bicubic is.
    levels : sequence of float
        Flat-field brightness in normalised units.
    size : int
        LR side length in pixels.
    draws : int
        Noise draws per level (the spread of each number).
    seed : int
        Seed of the first draw.

    Returns
    -------
    dict
        ``rows``: per level the input noise SD and, per method (``model``, ``bicubic`` and
        the bar), the mean over draws of its structure SD (:func:`structure_sd`) and of
        :func:`long_lines` (above :func:`line_threshold`), with their SDs; ``invents`` per level:
        the model's long lines exceed the bar's (:data:`FLAT_Z`, :data:`FLAT_MARGIN`);
        ``bar``: the bar's name; ``images``: the first draw, for figures.
    """
    bar = "bicubic"
    if tuned is not None and tuned.gaussian_sigma is not None:
        bar = restoration_names(scale)["gaussian"]
    kept = ("bicubic",) if scale > 1 else ("input",)
    names = tuple(dict.fromkeys(("model", kept[0], bar)))
    threshold = line_threshold(lines)
    rows, images = [], {}
    for i, level in enumerate(levels):
        measured: dict[str, dict[str, list[float]]] = {m: {"sd": [], "lines": []} for m in names}
        input_sd = []
        for k in range(draws):
            flat = np.full((frames, size * scale, size * scale), level, np.float32)
            lr = crappifier(flat[None], seed=seed + 100 * i + k)[0]
            centre = lr[frames // 2]
            outputs = {"model": np.asarray(predict(lr), np.float64)}
            outputs.update(baselines(centre, scale, offset, tuned, interpolations=kept))
            for m in names:
                measured[m]["sd"].append(structure_sd(outputs[m], scale))
                measured[m]["lines"].append(
                    long_lines(outputs[m], lines, threshold, LINE_LENGTH_LR * scale)
                )
            input_sd.append(float(centre.std()))
            if i == 0 and k == 0:
                images = {"noisy flat input": centre, **{m: outputs[m] for m in names[1:]},
                          "model": outputs["model"]}  # fmt: skip
        row: dict[str, Any] = {"level": float(level), "input_sd": float(np.mean(input_sd))}
        for m in names:
            for key, label in (("sd", "structure_sd"), ("lines", "long_lines")):
                values = np.array(measured[m][key])
                row[f"{m} {label}"] = float(values.mean())
                row[f"{m} {label} sd"] = sample_sd(values)
        diff = np.array(measured["model"]["lines"]) - np.array(measured[bar]["lines"])
        se = diff.std(ddof=1) / np.sqrt(draws) if draws > 1 else 0.0
        row["invents"] = bool(diff.mean() > max(FLAT_Z * se, FLAT_MARGIN))
        rows.append(row)
    return {"rows": rows, "images": images, "bar": bar, "crappifier": crappifier.describe(),
            "draws": draws}  # fmt: skip


def flat_noise_check(
    model: TrainedModel,
    crappifier: Crappifier | None = None,
    levels: Sequence[float] = FLAT_LEVELS,
    size: int = 64,
    seed: int = 0,
    params: PredictParams | None = None,
    lines: Lines | None = None,
    tuned: Tuned | None = None,
    draws: int = 3,
) -> dict[str, Any]:
    """:func:`flat_field_check` for a trained model, on the noise it was trained with.

    ``lines`` default to those of the model's modality on its sample microscope
    (:meth:`pssr_nb.structure.Lines.of_specimen`); ``params`` are the inference settings.
    """
    c = model.config
    if crappifier is None:
        crappifier = (
            Crappifier.from_dict(model.crappifier)
            if model.crappifier
            else Crappifier.default(c.scale)
        )
    if lines is None:
        specimen = specimen_of(model.modality)
        lines = Lines.of_specimen(specimen, MICROSCOPES[default_microscope(specimen)])
    predict = flat_predictor(model, params)
    return flat_field_check(predict, crappifier, c.scale, lines, c.offset, c.frames, tuned,
                            levels, size, draws, seed)  # fmt: skip


def flat_predictor(
    model: TrainedModel, params: PredictParams | None = None
) -> Callable[[np.ndarray], np.ndarray]:
    """The model as :func:`flat_field_check` calls it: crappified normalised units in and out."""
    low, span = model.training_units  # crappified normalised HR -> the network's units

    def predict(lr: np.ndarray) -> np.ndarray:
        pred, _ = predict_normalized(model, (lr - low) / span, params)
        return pred * span + low  # back to the units of the flat field, as the baselines' are

    return predict


def uncertainty_calibration(
    uncertainty: np.ndarray, error: np.ndarray, bins: int = 10
) -> dict[str, Any]:
    """How well an uncertainty map predicts the actual error.

    Parameters
    ----------
    uncertainty, error : ndarray
        Per-pixel uncertainty (e.g. TTA standard deviation) and absolute error, same shape
        and units.
    bins : int
        Number of uncertainty quantile bins.

    Returns
    -------
    dict
        ``spearman``: rank correlation of uncertainty and error over pixels;
        ``bins``: rows of mean uncertainty and mean error in each quantile bin.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> u = rng.uniform(0.01, 1, 10000)
    >>> uncertainty_calibration(u, np.abs(rng.normal(0, u)))["spearman"] > 0.3
    True
    """
    u, e = np.ravel(uncertainty).astype(np.float64), np.ravel(error).astype(np.float64)
    if u.shape != e.shape:
        raise ValueError(f"uncertainty {np.shape(uncertainty)} and error {np.shape(error)} differ")
    rho = stats.spearmanr(u, e).statistic if u.std() > 0 and e.std() > 0 else 0.0
    edges = np.quantile(u, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, u, side="right") - 1, 0, bins - 1)
    rows = [
        {"uncertainty": float(u[which == b].mean()), "error": float(e[which == b].mean())}
        for b in range(bins)
        if np.any(which == b)
    ]
    return {"spearman": float(rho), "bins": rows}


def trivial_predictors(prediction: np.ndarray) -> dict[str, np.ndarray]:
    """Error predictors that need no model: the prediction's intensity and its gradient.

    An uncertainty map earns its place only if it ranks the error better than these.
    """
    p = np.asarray(prediction, np.float64)
    return {"intensity": p, "darkness": -p, "|gradient|": np.hypot(*np.gradient(p))}


def uncertainty_against_trivial(
    cases: list[tuple[np.ndarray, np.ndarray, np.ndarray]],
) -> dict[str, Any]:
    """Spearman of TTA spread and of trivial predictors with the error, over images.

    Parameters
    ----------
    cases : list of (uncertainty, error, prediction)
        One per image, all on the same (CARE) scale.

    Returns
    -------
    dict
        ``rows``: per predictor the mean Spearman rho over images with a 95 % t-interval
        (none for one image); ``informative``: whether the TTA spread's interval lies above
        zero and above every trivial predictor's mean; ``verdict``: that in words.
    """
    per: dict[str, list[float]] = {}
    for unc, err, pred in cases:
        for name, field in {"TTA spread": unc, **trivial_predictors(pred)}.items():
            per.setdefault(name, []).append(uncertainty_calibration(field, err)["spearman"])
    rows = []
    for name, values in per.items():
        v = np.asarray(values)
        half = (
            float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
            if len(v) > 1
            else None
        )
        rows.append(
            {
                "predictor": name,
                "images": len(v),
                "spearman_mean": float(v.mean()),
                "ci_low": None if half is None else float(v.mean() - half),
                "ci_high": None if half is None else float(v.mean() + half),
            }
        )
    tta = rows[0]
    best_trivial = max(rows[1:], key=lambda r: r["spearman_mean"])
    low = tta["ci_low"] if tta["ci_low"] is not None else tta["spearman_mean"]
    informative = low > 0 and low > best_trivial["spearman_mean"]
    verdict = (
        "The TTA spread ranks the error better than any trivial predictor."
        if informative
        else f"The TTA spread is not informative here: {best_trivial['predictor']} alone ranks "
        f"the error as well or better (rho {best_trivial['spearman_mean']:.2f} vs "
        f"{tta['spearman_mean']:.2f})."
    )
    return {"rows": rows, "informative": bool(informative), "verdict": verdict}
