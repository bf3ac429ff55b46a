"""Image quality metrics with an explicit data range (scikit-image underneath).

Every score states its normalisation: ``fixed`` scores the images as given
with a stated data range; ``care`` (CARE / PSSR) percentile-normalises the
ground truth and fits the prediction to it by least squares first
(:func:`care_normalize`), so a gain or offset difference is not an error.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from skimage import metrics as skm

from .noise_model import local_noise
from .normalize import DEFAULT_PERCENTILES

__all__ = [
    "NORMALIZATIONS",
    "care_fit",
    "care_normalize",
    "mean_sd",
    "ms_ssim",
    "nrmse",
    "psnr",
    "psnr_ceiling",
    "sample_sd",
    "score",
    "ssim",
    "ssim_map",
    "tile_scores",
]

NORMALIZATIONS = ("fixed", "care")


def _check(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} differ in shape")
    return pred, truth


def psnr(pred: np.ndarray, truth: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB for a stated ``data_range`` of the truth."""
    pred, truth = _check(pred, truth)
    return float(skm.peak_signal_noise_ratio(truth, pred, data_range=data_range))


#: Wang et al. (2004): Gaussian window of sigma 1.5, population statistics.
_SSIM_SETTINGS = {"gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}


def ssim(pred: np.ndarray, truth: np.ndarray, data_range: float) -> float:
    """Structural similarity (Gaussian-weighted, as in Wang et al. 2004) of 2-D images."""
    pred, truth = _check(pred, truth)
    return float(skm.structural_similarity(truth, pred, data_range=data_range, **_SSIM_SETTINGS))


def ssim_map(pred: np.ndarray, truth: np.ndarray, data_range: float) -> np.ndarray:
    """The local SSIM of every pixel (:func:`ssim` is its mean away from the border)."""
    pred, truth = _check(pred, truth)
    _, full = skm.structural_similarity(
        truth, pred, data_range=data_range, full=True, **_SSIM_SETTINGS
    )
    return full.astype(np.float32)


def nrmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square error divided by the truth's range (max - min)."""
    pred, truth = _check(pred, truth)
    return float(skm.normalized_root_mse(truth, pred, normalization="min-max"))


def _percentile_units(
    truth: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES
) -> np.ndarray:
    """``truth`` with its ``percentiles`` at 0 and 1: the units CARE scores in."""
    low, high = np.percentile(truth, percentiles)
    return (truth - low) / max(high - low, 1e-12)


def care_fit(
    pred: np.ndarray, truth: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES
) -> tuple[float, float, np.ndarray]:
    """The gain ``a``, offset ``b`` and normalised truth of :func:`care_normalize`.

    The gain also converts a prediction's uncertainty or noise to the scored units.
    """
    pred, truth = _check(pred, truth)
    target = _percentile_units(truth, percentiles)
    a, b = np.polyfit(pred.ravel(), target.ravel(), 1)
    return float(a), float(b), target


def care_normalize(
    pred: np.ndarray, truth: np.ndarray, percentiles: tuple[float, float] = DEFAULT_PERCENTILES
) -> tuple[np.ndarray, np.ndarray]:
    """Put a prediction on its ground truth's scale, as CARE and PSSR score them.

    The truth is percentile-normalised (``percentiles`` to 0 and 1); the
    prediction is mapped onto it by the least-squares affine fit
    ``a * pred + b``, so a gain or offset difference (two detectors, or two
    independently contrast-stretched files) is not counted as error. Score
    the result with ``data_range=1``.

    Examples
    --------
    >>> truth = np.linspace(0, 100, 1000).reshape(10, 100)
    >>> fitted, target = care_normalize(3 * truth + 7, truth)
    >>> float(np.abs(fitted - target).max()) < 1e-9
    True
    """
    pred, truth = _check(pred, truth)
    a, b, target = care_fit(pred, truth, percentiles)
    return a * pred + b, target


def psnr_ceiling(
    reference: np.ndarray,
    normalization: str = "care",
    data_range: float = 1.0,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
) -> float:
    """The PSNR a perfect, noise-free restoration would score against a noisy ``reference``.

    A real high-SNR or HR scan carries noise of its own, so no output can score above
    ``10 log10(range**2 / noise variance)`` against it. The variance comes from the
    reference alone: the mean square of its mixed second differences
    (:func:`~pssr_nb.noise_model.local_noise`), which for white noise of any kind
    (Poisson, Gaussian, 8-bit rounding) is the mean noise variance. A method's score can
    then be read against the gap between the best baseline and this ceiling.

    Parameters
    ----------
    reference : ndarray
        The 2-D reference plane, as scored.
    normalization : {"care", "fixed"}
        As in :func:`score`: ``care`` takes the variance in the reference's percentile
        units (what CARE-fitted scores see); ``fixed`` relative to ``data_range``.
    data_range : float
        Used with ``fixed``.
    percentiles : (float, float)
        CARE's normalisation percentiles.

    Returns
    -------
    float
        The ceiling in dB; infinite for a noiseless reference.

    Notes
    -----
    An estimate, wrong in known directions: structure finer than two pixels counts as
    noise (the ceiling of a sharp, nearly clean reference reads low), and noise that is
    correlated between neighbouring pixels (a resampled or filtered reference) partly
    cancels (the ceiling reads high).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0.0, 1.0, 256), (256, 1))
    >>> noisy = clean + rng.normal(0, 0.05, clean.shape)  # 26 dB on a unit range
    >>> round(psnr_ceiling(noisy, "fixed"), 1)
    26.0
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    plane = np.asarray(reference, dtype=np.float64)
    if normalization == "care":
        plane, data_range = _percentile_units(plane, percentiles), 1.0
    _, noise = local_noise(plane)
    variance = float(np.mean(noise * noise))
    if variance <= 0:
        return float("inf")
    return float(10 * np.log10(data_range**2 / variance))


def ms_ssim(pred: np.ndarray, truth: np.ndarray, data_range: float) -> float:
    """Multi-scale SSIM (Wang et al. 2003), its scales adapted to the image size."""
    import torch

    from .losses import ms_ssim as ms_ssim_torch

    pred, truth = _check(pred, truth)
    x, y = (torch.from_numpy(a)[None, None] for a in (pred, truth))
    return float(ms_ssim_torch(x, y, data_range=data_range)[0])


def score(
    pred: np.ndarray, truth: np.ndarray, normalization: str = "care", data_range: float = 1.0
) -> dict[str, float]:
    """PSNR, SSIM, MS-SSIM and NRMSE of one 2-D prediction against its ground truth.

    Parameters
    ----------
    pred, truth : ndarray
        Same shape.
    normalization : {"care", "fixed"}
        ``care``: :func:`care_normalize` first, then data range 1. ``fixed``: as given,
        with ``data_range``.
    data_range : float
        Used with ``fixed``.

    Examples
    --------
    >>> truth = np.linspace(0, 1, 4096).reshape(64, 64)
    >>> score(2 * truth + 1, truth)["psnr"] > 100  # a gain is not an error under CARE
    True
    """
    if normalization not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
    if normalization == "care":
        pred, truth = care_normalize(pred, truth)
        data_range = 1.0
    return {
        "psnr": psnr(pred, truth, data_range),
        "ssim": ssim(pred, truth, data_range),
        "ms_ssim": ms_ssim(pred, truth, data_range),
        "nrmse": nrmse(pred, truth),
    }


def tile_scores(
    pred: np.ndarray, truth: np.ndarray, tile: int = 128, normalization: str = "care"
) -> list[dict[str, float]]:
    """:func:`score` of every whole ``tile x tile`` block, with its position (``y``, ``x``)."""
    pred, truth = _check(pred, truth)
    rows = []
    for y in range(0, truth.shape[0] - tile + 1, tile):
        for x in range(0, truth.shape[1] - tile + 1, tile):
            block = (slice(y, y + tile), slice(x, x + tile))
            rows.append({"y": y, "x": x, **score(pred[block], truth[block], normalization)})
    return rows


def sample_sd(values: ArrayLike) -> float:
    """The spread every pssr_nb table reports: the sample SD (n − 1), 0 for one value.

    Examples
    --------
    >>> sample_sd([1.0, 2.0, 3.0]), sample_sd([5.0])
    (1.0, 0.0)
    """
    values = np.asarray(values, np.float64).ravel()
    return float(values.std(ddof=1)) if values.size > 1 else 0.0


def mean_sd(rows: list[dict[str, float]], keys=("psnr", "ssim", "ms_ssim", "nrmse")) -> dict:
    """Mean and :func:`sample_sd` of each score over rows (images or tiles)."""
    return {
        f"{k}_{stat}": float(fn([r[k] for r in rows]))
        for k in keys
        for stat, fn in (("mean", np.mean), ("sd", sample_sd))
    }
