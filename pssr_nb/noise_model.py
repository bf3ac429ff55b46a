"""Poisson-Gaussian noise: how pixel variance grows with the signal, measured from images.

A point-scanning detector counts photons (or electrons): shot noise, whose
variance is proportional to the signal, plus the electronics' read noise,
the same everywhere. In normalised intensity units (0 = dark, 1 = bright):

    variance(signal) = gain * signal + constant,

with ``gain = 1 / photons`` (the photons per pixel at intensity 1) and
``constant = read_noise**2 - gain * zero_level``, where ``zero_level`` is the
signal at which no photon is counted (below 0 when there is background light,
above 0 when the image's dark end lies above the detector's zero).

Plotting variance against signal level gives a straight line whose slope and
intercept are these parameters: that is the whole physical estimator, and the
picture the calibrate notebook teaches with. The variance comes either from
a residual (real LR minus the HR image of the same field) or, for single
images, from the mixed second difference of neighbouring pixels, which
cancels smooth structure.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from scipy import ndimage

from .errors import InputError

__all__ = ["binned_variance", "fit_line", "image_noise_model", "local_noise", "NoiseModel"]


@dataclasses.dataclass(frozen=True)
class NoiseModel:
    """Pixel variance as a straight line in the signal, in normalised intensity units.

    Attributes
    ----------
    gain : float
        Variance added per unit of signal: ``1 / photons``.
    constant : float
        Variance at signal 0.
    zero_level : float
        Signal level of zero photons (0 unless the detector's dark level is known).

    Examples
    --------
    >>> model = NoiseModel.from_physical(photons=20, read_noise=0.1)
    >>> round(model.photons, 3), round(model.read_noise, 3), round(float(model.variance(1.0)), 3)
    (20.0, 0.1, 0.06)
    """

    gain: float
    constant: float
    zero_level: float = 0.0

    @classmethod
    def from_physical(
        cls, photons: float, read_noise: float, zero_level: float = 0.0
    ) -> NoiseModel:
        """The model of a detector with ``photons`` at intensity 1 and Gaussian ``read_noise``."""
        gain = 0.0 if math.isinf(photons) else 1.0 / photons
        return cls(gain, read_noise**2 - gain * zero_level, zero_level)

    @property
    def photons(self) -> float:
        """Photons per pixel at intensity 1 (infinite when there is no shot noise)."""
        return 1.0 / self.gain if self.gain > 0 else math.inf

    @property
    def read_noise(self) -> float:
        """Standard deviation of the signal-independent noise."""
        return math.sqrt(max(self.constant + self.gain * self.zero_level, 0.0))

    def variance(self, signal: np.ndarray | float) -> np.ndarray:
        """Noise variance at a signal level (never negative)."""
        return np.maximum(self.gain * np.asarray(signal, dtype=np.float64) + self.constant, 0.0)

    def scaled(self, factor: float) -> NoiseModel:
        """This noise after a linear filter that multiplies white-noise variance by ``factor``."""
        return dataclasses.replace(self, gain=self.gain * factor, constant=self.constant * factor)

    def plus(self, other: NoiseModel) -> NoiseModel:
        """The sum of this noise and an independent ``other``."""
        return dataclasses.replace(
            self, gain=self.gain + other.gain, constant=self.constant + other.constant
        )

    def minus(self, other: NoiseModel) -> NoiseModel:
        """The noise that, added to ``other``, gives this one (shot noise never below 0)."""
        return dataclasses.replace(
            self, gain=max(self.gain - other.gain, 0.0), constant=self.constant - other.constant
        )

    def to_dict(self) -> dict[str, float]:
        """Both parametrisations, rounded for reports."""
        return {
            "gain": self.gain,
            "constant": self.constant,
            "zero_level": self.zero_level,
            "photons": self.photons if self.gain > 0 else None,
            "read_noise": self.read_noise,
        }


def binned_variance(
    signal: np.ndarray, values: np.ndarray, bins: int = 12, robust: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean signal, variance of ``values`` and pixel count in equally populated signal bins.

    Parameters
    ----------
    signal, values : ndarray
        Same shape; ``values`` are noise samples (a residual, or scaled differences).
    bins : int
        Number of signal bins.
    robust : bool
        Use the squared median absolute deviation (x 1.4826) instead of the variance,
        so that a few edge pixels do not inflate it.
    """
    signal = np.asarray(signal, dtype=np.float64).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(signal, kind="stable")
    groups = np.array_split(order, bins)
    means = np.array([signal[g].mean() for g in groups])
    if robust:
        spread = [1.4826 * np.median(np.abs(values[g] - np.median(values[g]))) for g in groups]
        variances = np.square(spread)
    else:
        variances = np.array([values[g].var() for g in groups])
    return means, variances, np.array([g.size for g in groups])


def fit_line(
    means: np.ndarray, variances: np.ndarray, counts: np.ndarray, zero_level: float = 0.0
) -> NoiseModel:
    """Weighted least-squares line through variance-versus-signal points.

    A sample variance from ``n`` pixels has standard error ``variance * sqrt(2 / n)``,
    so each point is weighted by ``n / variance**2`` (iterated once with the
    fitted variances, which are less noisy than the measured ones). A negative
    slope (no detectable shot noise) is fitted again as a flat line.
    """
    means, variances = np.asarray(means, float), np.asarray(variances, float)
    counts = np.asarray(counts, float)
    if means.size < 2 or np.ptp(means) == 0:
        return NoiseModel(0.0, float(np.average(variances, weights=counts)), zero_level)
    expected = np.maximum(variances, 1e-12)
    for _ in range(2):
        w = counts / np.maximum(expected, 1e-12) ** 2
        slope, intercept = np.polyfit(means, variances, 1, w=np.sqrt(w))
        expected = np.maximum(slope * means + intercept, 1e-3 * variances.max() + 1e-12)
    if slope < 0:
        return NoiseModel(0.0, float(np.average(variances, weights=counts)), zero_level)
    return NoiseModel(float(slope), float(intercept), zero_level)


def local_noise(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel local signal and a noise sample from a single image.

    The mixed second difference ``(x[i,j] - x[i+1,j] - x[i,j+1] + x[i+1,j+1]) / 2``
    of white noise has the noise's variance and cancels smooth structure; its
    signal level is the mean of the same four pixels.

    Returns
    -------
    signal, noise : ndarray
        Two planes one pixel smaller than ``plane`` in Y and X.
    """
    x = np.asarray(plane, dtype=np.float64)
    if x.ndim != 2 or min(x.shape) < 3:
        raise InputError(f"Noise estimation needs a 2-D plane of at least 3x3, got {x.shape}.")
    a, b, c, d = x[:-1, :-1], x[1:, :-1], x[:-1, 1:], x[1:, 1:]
    return (a + b + c + d) / 4.0, (a - b - c + d) / 2.0


def image_noise_model(
    plane: np.ndarray, bins: int = 12, zero_level: float = 0.0, smooth: float = 1.0
) -> NoiseModel:
    """Estimate a Poisson-Gaussian model from one image alone (no reference needed).

    The local signal is smoothed (Gaussian ``smooth`` pixels) so that its own noise
    does not spread the bins; variances are robust (median absolute deviation)
    so that edges and fine texture, which the second difference does not fully
    cancel, do not count as noise.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0.1, 1.0, 512), (512, 1))
    >>> noisy = rng.poisson(clean * 50) / 50 + rng.normal(0, 0.05, clean.shape)
    >>> model = image_noise_model(noisy)
    >>> 45 < model.photons < 55, 0.045 < model.read_noise < 0.055
    (True, True)
    """
    signal, noise = local_noise(plane)
    if smooth > 0:
        signal = ndimage.gaussian_filter(signal, smooth, mode="reflect")
    return fit_line(*binned_variance(signal, noise, bins, robust=True), zero_level=zero_level)
