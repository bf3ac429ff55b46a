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
  output was invented. It is measured as the standard deviation of the
  output after smoothing at the scale of one LR pixel (pixel noise averages
  out, blobs and lines do not), beside the same number for bicubic
  interpolation of the same noise, in the library's normalised units
  (0 to 1 spans the training images' contrast).
- **Uncertainty against error.** The spread of test-time augmentations is an
  uncertainty map; where the truth is known, the rank correlation of
  uncertainty with actual error, and the mean error in each uncertainty
  decile, say whether high uncertainty marks the wrong places.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import ndimage, stats

from .baselines import interpolate
from .crappify import Crappifier
from .data import Source
from .errors import InputError
from .io import ImageData
from .metrics import score
from .model_file import TrainedModel
from .normalize import Normalization
from .phantoms import PhantomSet
from .predict import PredictParams, predict_normalized
from .units import input_normalization, source_units

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


def flat_noise_check(
    model: TrainedModel,
    crappifier: Crappifier | None = None,
    levels: Sequence[float] = FLAT_LEVELS,
    size: int = 64,
    seed: int = 0,
    params: PredictParams | None = None,
) -> dict[str, Any]:
    """Feed noise-only flat fields to a model and measure the structure it invents.

    Parameters
    ----------
    model : TrainedModel
    crappifier : Crappifier, optional
        The noise to feed (default: the one the model was trained with, else the default).
    levels : sequence of float
        Flat-field brightness in normalised units.
    size : int
        LR side length in pixels.
    seed : int
        Noise seed.
    params : PredictParams, optional
        Inference settings (tiles, device).

    Returns
    -------
    dict
        ``rows``: per level the input noise SD and, for ``model`` and ``bicubic`` (or the
        input, at scale 1), the output's SD and its structure SD (:func:`structure_sd`);
        ``images``: the first level's LR input, bicubic and model output, for figures.
    """
    c = model.config
    if crappifier is None:
        crappifier = (
            Crappifier.from_dict(model.crappifier)
            if model.crappifier
            else Crappifier.default(c.scale)
        )
    baseline = "bicubic" if c.scale > 1 else "input"
    low, span = model.training_units  # crappified normalised HR -> the network's units
    rows, images = [], {}
    for i, level in enumerate(levels):
        flat = np.full((c.frames, size * c.scale, size * c.scale), level, np.float32)
        lr = crappifier(flat[None], seed=seed + i)[0]
        pred, _ = predict_normalized(model, (lr - low) / span, params)
        pred = pred * span + low  # back to the units of ``levels``, as bicubic's are
        base = interpolate(lr[c.frames // 2], c.scale, c.offset, baseline)
        rows.append(
            {
                "level": float(level),
                "input_sd": float(lr.std()),
                f"{baseline}_sd": float(base.std()),
                "model_sd": float(pred.std()),
                f"{baseline}_structure_sd": structure_sd(base, c.scale),
                "model_structure_sd": structure_sd(pred, c.scale),
            }
        )
        if i == 0:
            images = {"noisy flat input": lr[c.frames // 2], baseline: base, "model": pred}
    return {"rows": rows, "images": images, "crappifier": crappifier.describe()}


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
