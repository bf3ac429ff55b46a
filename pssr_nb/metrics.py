"""Image quality metrics with an explicit data range (scikit-image underneath)."""

from __future__ import annotations

import numpy as np
from skimage import metrics as skm


def _check(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, np.float64), np.asarray(truth, np.float64)
    if pred.shape != truth.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {truth.shape} differ in shape")
    return pred, truth


def psnr(pred: np.ndarray, truth: np.ndarray, data_range: float) -> float:
    """Peak signal-to-noise ratio in dB for a stated ``data_range`` of the truth."""
    pred, truth = _check(pred, truth)
    return float(skm.peak_signal_noise_ratio(truth, pred, data_range=data_range))


def ssim(pred: np.ndarray, truth: np.ndarray, data_range: float) -> float:
    """Structural similarity (Gaussian-weighted, as in Wang et al. 2004) of 2-D images."""
    pred, truth = _check(pred, truth)
    return float(
        skm.structural_similarity(
            truth,
            pred,
            data_range=data_range,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
    )


def nrmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root-mean-square error divided by the truth's range (max - min)."""
    pred, truth = _check(pred, truth)
    return float(skm.normalized_root_mse(truth, pred, normalization="min-max"))


def care_normalize(
    pred: np.ndarray, truth: np.ndarray, percentiles: tuple[float, float] = (0.1, 99.9)
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
    low, high = np.percentile(truth, percentiles)
    target = (truth - low) / max(high - low, 1e-12)
    a, b = np.polyfit(pred.ravel(), target.ravel(), 1)
    return a * pred + b, target
