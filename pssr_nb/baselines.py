"""The honest competitors a model must beat: interpolation and simple denoising.

Interpolation baselines put each LR sample back where it was acquired
(:func:`pssr_nb.sampling.upsample` with the data's sampling offset), so a
model is compared with the best interpolation of the same samples, not with a
copy shifted by a fraction of a pixel. The denoising baseline smooths that
interpolation with a Gaussian whose one parameter, its width, is tuned on
training pairs (:func:`tune_gaussian`), never on the image being scored.
At scale 1 (pure denoising) the interpolations are the noisy input itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from .metrics import care_normalize
from .sampling import UPSAMPLE_METHODS, upsample

#: Gaussian widths (HR pixels) tried when tuning the denoising baseline; 0 is no smoothing.
SIGMAS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)


def interpolation_names(scale: int) -> tuple[str, ...]:
    """The interpolation baselines at a scale: the noisy input alone at scale 1."""
    return ("input",) if scale == 1 else UPSAMPLE_METHODS


def interpolate(lr: np.ndarray, scale: int, offset: float, method: str) -> np.ndarray:
    """One interpolation baseline of a 2-D LR plane on the HR grid (``input`` at scale 1)."""
    lr = np.asarray(lr, dtype=np.float32)
    if method == "input" or scale == 1:
        return lr.copy()
    return upsample(lr, scale, offset, method)


def smooth(lr: np.ndarray, scale: int, offset: float, sigma: float) -> np.ndarray:
    """The denoising baseline: bicubic (or the input at scale 1), then a Gaussian of ``sigma``."""
    image = interpolate(lr, scale, offset, "bicubic")
    return ndimage.gaussian_filter(image, sigma, mode="reflect") if sigma > 0 else image


def _squared_error(pred: np.ndarray, truth: np.ndarray) -> float:
    fitted, target = care_normalize(pred, truth)
    return float(np.mean((fitted - target) ** 2))


def tune_gaussian(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    scale: int,
    offset: float,
    sigmas: Sequence[float] = SIGMAS,
) -> float:
    """The Gaussian width that minimises the mean squared error over training pairs.

    Parameters
    ----------
    pairs : sequence of (lr, hr)
        2-D training planes, ``hr`` ``scale`` times larger. Not the images that are scored.
    scale, offset : int, float
        Sampling geometry (see :func:`pssr_nb.sampling.lr_offset`).
    sigmas : sequence of float
        Candidate widths in HR pixels.

    Returns
    -------
    float
        The chosen width; the error is taken after CARE normalisation, as the scores are.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> hr = ndimage.gaussian_filter(rng.random((64, 64)), 4)
    >>> noisy = hr + rng.normal(0, 0.05, hr.shape)
    >>> tune_gaussian([(noisy, hr)], 1, 0.0) > 0
    True
    """
    if not pairs:
        raise ValueError("tune_gaussian needs at least one training pair")
    errors = [
        sum(_squared_error(smooth(lr, scale, offset, s), hr) for lr, hr in pairs) for s in sigmas
    ]
    return float(sigmas[int(np.argmin(errors))])


def baselines(
    lr: np.ndarray, scale: int, offset: float, sigma: float | None = None
) -> dict[str, np.ndarray]:
    """Every baseline of one LR plane: the interpolations and, given ``sigma``, the smoothed one."""
    out = {m: interpolate(lr, scale, offset, m) for m in interpolation_names(scale)}
    if sigma is not None:
        name = "input+gaussian" if scale == 1 else "bicubic+gaussian"
        out[name] = smooth(lr, scale, offset, sigma)
    return out
