"""Fit the crappifier to a real microscope: the physical point-scan model and its noise profile.

A crappifier is only useful if its synthetic LR images look like the real
ones. This module holds the physical point-scanning model the notebooks
calibrate (blur, sampling, shot noise, read noise), and compares it with
real LR/HR pairs: the *noise profile* is what remains of a real LR image
after subtracting the downsampled HR image of the same field, once the two
are brought to the same contrast.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch

from .crappify import Blur, Crappifier, Downsample, Gaussian, Offset, Poisson
from .errors import InputError
from .normalize import percentile_normalization
from .params import param
from .sampling import DOWNSAMPLE_MODES


@dataclasses.dataclass
class PointScanParams:
    """A physical point-scanning crappifier, in the HR image's normalised intensity units.

    Intensity 1 is the HR image's bright end (99.9th percentile), 0 its dark end.
    """

    scale: int = param(4, "LR pixel size / HR pixel size.")
    mode: str = param(
        "decimate",
        "How the LR scan samples: decimate (a point scan), area (binning), bilinear.",
        choices=DOWNSAMPLE_MODES,
    )
    blur: float = param(0.0, "Extra blur before sampling, Gaussian sigma in HR pixels.")
    photons: float = param(
        20.0, "Photons (or electrons) per pixel at intensity 1: shot noise. 0 = none."
    )
    background: float = param(0.0, "Background light, in intensity units (adds shot noise).")
    read_noise: float = param(0.01, "Detector read noise, SD in intensity units.")

    def crappifier(self) -> Crappifier:
        """The :class:`~pssr_nb.crappify.Crappifier` these settings describe."""
        steps: list = []
        if self.blur > 0:
            steps.append(Blur(self.blur))
        steps.append(Downsample(self.scale, self.mode))
        if self.photons > 0:
            if self.background > 0:
                steps.append(Offset(self.background))
            steps.append(Poisson(self.photons))
            if self.background > 0:
                steps.append(Offset(-self.background))
        if self.read_noise > 0:
            steps.append(Gaussian(self.read_noise))
        return Crappifier(steps)

    @classmethod
    def from_crappifier(cls, crappifier: Crappifier) -> PointScanParams | None:
        """The settings of a crappifier of this form, or None if it has other steps or ranges."""
        values: dict[str, Any] = {"photons": 0.0, "read_noise": 0.0}
        for step in crappifier.steps:
            fields = dataclasses.asdict(step) if dataclasses.is_dataclass(step) else {"": None}
            if not all(np.isscalar(v) for v in fields.values()):
                return None  # a random range, or a custom step
            if isinstance(step, Downsample):
                values.update(scale=step.scale, mode=step.mode)
            elif isinstance(step, Blur):
                values["blur"] = float(step.sigma)
            elif isinstance(step, Poisson):
                values["photons"] = float(step.photons)
            elif isinstance(step, Offset):
                if step.value > 0:
                    values["background"] = float(step.value)
            elif isinstance(step, Gaussian):
                values["read_noise"] = float(step.sigma)
            else:
                return None
        params = cls(**values)
        return params if params.crappifier().to_dict() == crappifier.to_dict() else None


def matched_pair(
    lr: np.ndarray, hr: np.ndarray, scale: int, mode: str = "decimate"
) -> tuple[np.ndarray, np.ndarray]:
    """The downsampled HR and the LR image, both in the HR's normalised units.

    The HR plane is normalised by its percentiles (as in training) and
    downsampled; the LR plane is mapped onto it by the least-squares affine
    fit ``lr = a * hr_down + b`` (detectors differ in gain and offset).

    Returns
    -------
    signal, lr_matched : ndarray
        float64 planes of the LR shape; ``lr_matched - signal`` is the noise profile.
    """
    lr = np.asarray(lr, dtype=np.float64)
    hr = np.asarray(hr, dtype=np.float64)
    if lr.ndim != 2 or hr.ndim != 2:
        raise InputError(f"Expected 2-D planes, got shapes {lr.shape} and {hr.shape}.")
    h, w = lr.shape
    if hr.shape[0] < h * scale or hr.shape[1] < w * scale:
        raise InputError(
            f"The HR plane {hr.shape} is smaller than {scale} x the LR plane {lr.shape}.",
            fix="Check the scale, or crop both images to the same field of view.",
        )
    hr_n = percentile_normalization(hr).apply(hr[: h * scale, : w * scale])
    down = Downsample(scale, mode)(torch.from_numpy(hr_n)[None, None])[0, 0].numpy()
    a, b = np.polyfit(down.ravel(), lr.ravel(), 1)
    if a <= 0:
        raise InputError(
            "The LR image does not get brighter where the HR image does: they do not show "
            "the same field, or one is inverted.",
            fix="Check that the files are a pair (same cells, same orientation).",
        )
    return down, (lr - b) / a


def synthetic(hr: np.ndarray, crappifier: Crappifier, seed: int = 0) -> np.ndarray:
    """The crappified HR plane, normalised by its percentiles first (as in training)."""
    hr = np.asarray(hr, dtype=np.float64)
    return crappifier(percentile_normalization(hr).apply(hr).astype(np.float32), seed=seed)


def noise_profiles(
    lr: np.ndarray, hr: np.ndarray, crappifier: Crappifier, seed: int = 0
) -> dict[str, np.ndarray]:
    """Real and synthetic noise profiles of one pair, with the signal they sit on.

    The synthetic LR is the crappified HR; both go through :func:`matched_pair`
    the same way, so any difference between the two residuals is the
    crappifier's mismatch.

    Returns
    -------
    dict
        ``signal``, ``real`` (residual of the real LR) and ``synthetic`` (of the
        crappified HR), flattened float64 arrays of equal length.
    """
    scale = crappifier.scale
    mode = next((s.mode for s in crappifier.steps if isinstance(s, Downsample)), "decimate")
    signal, real = matched_pair(lr, hr, scale, mode)
    h, w = signal.shape
    synthetic_lr = synthetic(np.asarray(hr)[: h * scale, : w * scale], crappifier, seed)
    _, synthetic_matched = matched_pair(synthetic_lr, hr, scale, mode)
    return {
        "signal": signal.ravel(),
        "real": (real - signal).ravel(),
        "synthetic": (synthetic_matched - signal).ravel(),
    }


def variance_by_level(
    signal: np.ndarray, residual: np.ndarray, bins: int = 12
) -> tuple[np.ndarray, np.ndarray]:
    """Mean signal and residual variance in ``bins`` equally populated signal bins.

    Shot noise makes the variance grow linearly with the signal; read noise is
    the variance at zero signal.
    """
    edges = np.quantile(signal, np.linspace(0, 1, bins + 1))
    which = np.clip(np.searchsorted(edges, signal, side="right") - 1, 0, bins - 1)
    means = np.array([signal[which == i].mean() for i in range(bins)])
    variances = np.array([residual[which == i].var() for i in range(bins)])
    return means, variances
