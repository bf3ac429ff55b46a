"""Real LR/HR pairs brought onto one grid and one intensity scale: the noise profile.

From a real LR/HR pair of the same field this module builds a
:class:`PairProfile`:

1. *register*: measure where the LR pixels were acquired on the HR grid, which
   tells a point scan (one HR position per LR pixel) from binning (block
   centres); integer shifts are cropped away, a sub-pixel remainder is reported;
2. *match contrast*: map the LR onto the HR's normalised intensities by an
   affine fit, corrected for the HR's own noise (which would otherwise bias
   the slope towards 0);
3. *residual*: real LR minus the downsampled HR, the *noise profile*, with the
   signal level it sits on.

The HR image is not noise-free: its noise is measured from the HR alone
(:func:`~pssr_nb.noise_model.image_noise_model`) and removed from the
residual's variance (:func:`level_variances`, :func:`estimate_noise`, the
physical estimator) and from the comparison with synthetic residuals
(:func:`residuals`), where a crappified HR carries that noise too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .crappify import Blur, Crappifier, Downsample
from .errors import InputError
from .noise_model import NoiseModel, binned_variance, fit_line, image_noise_model
from .normalize import percentile_normalization
from .registration import measure_lr_offset

__all__ = [
    "SHIFT_TOLERANCE_HR_PX",
    "estimate_noise",
    "level_variances",
    "noise_overlap",
    "PairProfile",
    "profile_pair",
    "residuals",
    "Surround",
]

#: A misregistration (HR pixels) above this is reported: edges leak into the residual.
#: Whole pixels are cropped away, so only the fraction can remain; phase correlation of
#: a decimated, noisy LR is itself uncertain by up to ~0.3 HR pixel.
SHIFT_TOLERANCE_HR_PX = 0.35


class Surround:
    """The mean of the HR pixels that ring each LR pixel's own: its sample, or its block.

    A linear operator from the HR grid to the LR grid, like a downsampling,
    but it shares no HR pixel with it: HR noise is white, so this level is
    independent of the HR noise inside the downsampled HR (and of a
    crappified HR's), yet follows the same structure.
    """

    def __init__(self, reference: Downsample):
        s = reference.scale
        inner = 1 if reference.mode == "decimate" else s
        kernel = torch.ones(inner + 2, inner + 2, dtype=torch.float64)
        kernel[1:-1, 1:-1] = 0
        self.kernel = (kernel / kernel.sum())[None, None]
        self.scale = s

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
        return F.conv2d(padded, self.kernel.to(x.dtype), stride=self.scale)


def _linear_steps(op: Crappifier | Callable) -> list:
    if isinstance(op, Crappifier):
        return [s for s in op.steps if isinstance(s, (Blur, Downsample))]
    return [op]


def noise_overlap(
    first: Crappifier | Callable, second: Crappifier | Callable | None = None
) -> float:
    """How much white HR noise the outputs of two operators share, per output pixel.

    Of a crappifier only the blur and downsampling steps count (the rest is
    noise it adds); any other callable is taken as linear. The overlap is the
    dot product of the HR weights of one output pixel of each: 1 for
    decimation against itself, ``1 / scale**2`` when either bins, 0 between a
    downsampling and its :class:`Surround`. ``second`` defaults to ``first``:
    the fraction of HR noise variance that survives the operator.
    """
    ops = [_linear_steps(first), _linear_steps(first if second is None else second)]
    blur = max((float(np.max(b.sigma)) for b in ops[0] + ops[1] if isinstance(b, Blur)), default=0)
    scale = max(getattr(step, "scale", 1) for step in ops[0] + ops[1])
    blocks = 4 + 2 * int(np.ceil(4 * blur / scale))
    x = torch.zeros(1, 1, blocks * scale, blocks * scale, dtype=torch.float64, requires_grad=True)

    def weights(steps: list) -> torch.Tensor:
        y = x
        for step in steps:
            y = step(y, torch.Generator().manual_seed(0))
        centre = y.shape[-1] // 2  # the same HR position for equal scales
        (grad,) = torch.autograd.grad(y[0, 0, centre, centre], x)
        return grad

    return float((weights(ops[0]) * weights(ops[1])).sum())


@dataclasses.dataclass
class PairProfile:
    """A real LR/HR pair on one grid and one intensity scale.

    Attributes
    ----------
    hr : ndarray
        The aligned HR crop, percentile-normalised (what training crappifies), float32.
    lr : ndarray
        The aligned real LR crop, mapped onto the HR's intensities, float64.
    signal : ndarray
        The HR crop downsampled as the LR was acquired (``reference``), LR shape.
    level : ndarray
        The signal level from the HR pixels *around* each LR pixel's own
        (:class:`Surround`), LR shape: binning by it, unlike by ``signal``, does not
        select on the HR noise.
    scale : int
        LR pixel size / HR pixel size.
    mode : str
        The sampling the registration points to: ``decimate`` (point scan) or ``area``.
    offset : (float, float)
        Measured HR position of the original LR pixel 0 (Y, X).
    misregistration : float
        Sub-pixel shift (HR pixels) left after cropping to the nearest sampling geometry.
    contrast : (float, float)
        ``(a, b)`` of ``lr_file = a * hr_units + b``.
    hr_noise : NoiseModel
        The HR image's own noise, estimated from the HR alone.
    zero_level : float
        Signal level of zero photons (from a known dark level, else 0).
    name : str
        For reports.
    warnings : list of str
        What the user should know (misregistration).
    """

    hr: np.ndarray
    lr: np.ndarray
    signal: np.ndarray
    level: np.ndarray
    scale: int
    mode: str
    offset: tuple[float, float]
    misregistration: float
    contrast: tuple[float, float]
    hr_noise: NoiseModel
    zero_level: float = 0.0
    name: str = ""
    warnings: list[str] = dataclasses.field(default_factory=list)

    @property
    def reference(self) -> Downsample:
        """The downsampling that turns ``hr`` into ``signal``."""
        return Downsample(self.scale, self.mode)

    def reference_noise(self) -> NoiseModel:
        """The HR's own noise as it survives into ``signal`` (the downsampled HR)."""
        return self.hr_noise.scaled(noise_overlap(Crappifier([self.reference])))

    @property
    def residual(self) -> np.ndarray:
        """Real LR minus the downsampled HR: the noise profile."""
        return self.lr - self.signal

    def summary(self) -> dict[str, Any]:
        """JSON-ready description for the calibration report."""
        return {
            "name": self.name,
            "lr_shape": list(self.lr.shape),
            "scale": self.scale,
            "sampling": self.mode,
            "lr_offset_hr_px": [round(v, 3) for v in self.offset],
            "misregistration_hr_px": round(self.misregistration, 3),
            "contrast": {"gain": self.contrast[0], "offset": self.contrast[1]},
            "hr_noise": self.hr_noise.to_dict(),
            "zero_level": self.zero_level,
            "warnings": list(self.warnings),
        }


def _geometry(offsets: tuple[float, float], scale: int) -> tuple[str, list[int], float]:
    """Sampling mode, integer HR crop per axis (negative: drop LR pixels) and remainder."""
    best: tuple[float, str, list[int]] | None = None
    centres = {"decimate": 0.0} if scale == 1 else {"decimate": 0.0, "area": (scale - 1) / 2}
    for mode, centre in centres.items():
        step = 1 if mode == "decimate" else scale
        shifts = [int(round((o - centre) / step)) * step for o in offsets]
        error = max(abs(o - centre - k) for o, k in zip(offsets, shifts, strict=True))
        if best is None or error < best[0] - 1e-9:
            best = (error, mode, shifts)
    error, mode, shifts = best
    return mode, shifts, error


def _apply(op: Callable, plane: np.ndarray) -> np.ndarray:
    return op(torch.from_numpy(plane)[None, None], None)[0, 0].numpy()


def _align(lr: np.ndarray, hr: np.ndarray, scale: int, shifts: list[int]):
    """Crop so that LR pixel ``i`` sits at HR pixel ``scale * i`` (plus the mode's centre)."""
    lr_slices, hr_slices = [], []
    for axis, k in enumerate(shifts):
        drop_lr = 0 if k >= 0 else -(k // scale)  # k < 0: LR starts before the HR
        start = k + drop_lr * scale
        n = min(lr.shape[axis] - drop_lr, (hr.shape[axis] - start) // scale)
        lr_slices.append(slice(drop_lr, drop_lr + n))
        hr_slices.append(slice(start, start + n * scale))
    return lr[tuple(lr_slices)], hr[tuple(hr_slices)]


def profile_pair(
    lr: np.ndarray,
    hr: np.ndarray,
    scale: int,
    dark_level: float | None = None,
    name: str = "",
) -> PairProfile:
    """Register, match and subtract one real LR/HR pair (2-D planes of the same field).

    Parameters
    ----------
    lr, hr : ndarray
        The LR plane and the HR plane (``scale`` times larger).
    scale : int
        LR pixel size / HR pixel size (1 for a low-/high-SNR pair at one pixel size).
    dark_level : float, optional
        Grey value of zero photons in the LR file (the detector offset), if known;
        it separates background light from read noise.
    name : str
        Shown in reports and messages.

    Raises
    ------
    InputError
        If the planes are not 2-D, the sizes do not fit the scale, or the LR does not
        get brighter where the HR does (not a pair).
    """
    lr = np.asarray(lr, dtype=np.float64)
    hr = np.asarray(hr, dtype=np.float64)
    label = f" ({name})" if name else ""
    if lr.ndim != 2 or hr.ndim != 2:
        raise InputError(f"Expected 2-D planes{label}, got shapes {lr.shape} and {hr.shape}.")
    offset = measure_lr_offset(lr, hr, scale)
    mode, shifts, error = _geometry(offset, scale)
    lr, hr = _align(lr, hr, scale, shifts)
    if min(lr.shape) < 16:
        raise InputError(
            f"The LR/HR pair{label} overlaps on only {lr.shape} LR pixels after registration "
            f"(the LR sits at HR offset {offset[0]:.1f}, {offset[1]:.1f}).",
            fix="Check that the files show the same field of view and that the scale is right.",
        )
    warnings = []
    if error > SHIFT_TOLERANCE_HR_PX:
        warnings.append(
            f"The pair{label} is misregistered by {error:.2f} HR pixels beyond the sampling "
            "grid; edges add to the noise profile, so noise will be overestimated. Register "
            "the two images first (e.g. with registration.estimate_shift)."
        )
    hr_units = percentile_normalization(hr).apply(hr)
    hr_noise = image_noise_model(hr_units)
    reference = Downsample(scale, mode)
    signal = _apply(reference, hr_units)
    # Least squares of lr on the noisy signal; the HR noise in the regressor is removed
    # from its variance (errors in variables), else the slope is biased towards 0.
    own = float(hr_noise.variance(signal).mean()) * noise_overlap(Crappifier([reference]))
    dx, dy = signal - signal.mean(), lr - lr.mean()
    spread = max(float(np.mean(dx * dx)) - own, 1e-12)
    a = float(np.mean(dx * dy)) / spread
    if a <= 0:
        raise InputError(
            f"The LR image{label} does not get brighter where the HR image does: they do not "
            "show the same field, or one is inverted.",
            fix="Check that the files are a pair (same cells, same orientation).",
        )
    b = float(lr.mean() - a * signal.mean())
    return PairProfile(
        hr=hr_units.astype(np.float32),
        lr=(lr - b) / a,
        signal=signal,
        level=_apply(Surround(reference), hr_units),
        scale=scale,
        mode=mode,
        offset=offset,
        misregistration=float(error),
        contrast=(a, b),
        hr_noise=hr_noise,
        zero_level=0.0 if dark_level is None else (dark_level - b) / a,
        name=name,
        warnings=warnings,
    )


def level_variances(
    profiles: Sequence[PairProfile], bins: int = 12
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Variance of the LR microscope's noise by signal level, pooled over pairs.

    The residual's variance, less the HR noise that the reference carries.

    Returns
    -------
    means, variances, counts : ndarray
        One value per signal bin.
    """
    signal = np.concatenate([p.signal.ravel() for p in profiles])
    level = np.concatenate([p.level.ravel() for p in profiles])
    residual = np.concatenate([p.residual.ravel() for p in profiles])
    hr_own = np.concatenate([p.reference_noise().variance(p.signal.ravel()) for p in profiles])
    _, variances, counts = binned_variance(level, residual, bins)
    groups = np.array_split(np.argsort(level, kind="stable"), bins)  # the same bins
    means = np.array([signal[g].mean() for g in groups])
    own = np.array([hr_own[g].mean() for g in groups])
    return means, variances - own, counts


def estimate_noise(profiles: PairProfile | Sequence[PairProfile], bins: int = 12) -> NoiseModel:
    """The physical estimator: the LR microscope's Poisson-Gaussian noise, from real pairs.

    A weighted straight line through variance versus signal level (see
    :func:`level_variances`): its slope is ``1 / photons``, its intercept the
    read noise (offset by the zero level, when a dark level was given).
    """
    profiles = [profiles] if isinstance(profiles, PairProfile) else list(profiles)
    zero = float(np.mean([p.zero_level for p in profiles]))
    return fit_line(*level_variances(profiles, bins), zero_level=zero)


def residuals(profile: PairProfile, crappifier: Crappifier, seed: int = 0) -> dict[str, np.ndarray]:
    """Real and synthetic LR minus the surrounding HR level, comparable pixel for pixel.

    The synthetic LR is the crappified HR crop (what training feeds the
    network). Both are taken relative to the :class:`Surround` level, which
    shares no HR pixel with a decimated or binned HR, so the HR's own noise
    enters the real and the synthetic residual alike; the same structure
    (each pixel against its neighbours) is in both. A crappifier that blurs
    does share some HR noise with the surround: Gaussian noise of that
    missing variance (``2 * overlap * HR variance``) is added to the synthetic
    side.

    Returns
    -------
    dict
        ``level``, ``real`` and ``synthetic``: flattened float64 arrays of equal length.
    """
    if crappifier.scale != profile.scale:
        raise InputError(
            f"The crappifier downsamples by {crappifier.scale}, the pair by {profile.scale}.",
            fix="Calibrate a crappifier with the pair's scale.",
        )
    fake = np.asarray(crappifier(profile.hr, seed=seed), dtype=np.float64)
    fake = fake[: profile.level.shape[0], : profile.level.shape[1]] - profile.level
    shared = noise_overlap(crappifier, Surround(profile.reference))
    if shared > 1e-9:
        missing = 2 * shared * profile.hr_noise.variance(profile.level)
        fake += np.random.default_rng(seed).standard_normal(fake.shape) * np.sqrt(missing)
    return {
        "level": profile.level.ravel(),
        "real": (profile.lr - profile.level).ravel(),
        "synthetic": fake.ravel(),
    }
