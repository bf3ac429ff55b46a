"""The honest competitors a model must beat: interpolation, denoising and deconvolution.

Interpolation baselines put each LR sample back where it was acquired
(:func:`pssr_nb.sampling.upsample` with the data's sampling offset), so a
model is compared with the best interpolation of the same samples, not with a
copy shifted by a fraction of a pixel. Three classical restorations build on
bicubic, each with parameters tuned on training pairs (:func:`tune`), never on
the image being scored:

- ``bicubic+gaussian``: smoothed by a Gaussian (one width);
- ``bicubic+wiener``: a Wiener deconvolution with a Gaussian PSF (its width and
  the regularising balance), so that a network that merely deconvolves does not
  pass for super-resolution;
- ``nl-means+bicubic``: the LR samples denoised by non-local means (scikit-image,
  its strength relative to the estimated noise), then bicubic.

At scale 1 (pure denoising) the interpolations are the noisy input itself and the
names read ``input+gaussian``, ``input+wiener`` and ``nl-means``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np
from scipy import ndimage

from .metrics import care_normalize
from .normalize import DEFAULT_PERCENTILES
from .sampling import UPSAMPLE_METHODS, upsample

__all__ = [
    "NL_MEANS_H",
    "RESTORATIONS",
    "SIGMAS",
    "WIENER_BALANCES",
    "WIENER_SIGMAS",
    "baselines",
    "care_squared_error",
    "deconvolve",
    "interpolate",
    "interpolation_names",
    "nl_means",
    "restoration_names",
    "Restoration",
    "smooth",
    "tune",
    "tune_gaussian",
    "Tuned",
]

#: Gaussian widths (HR pixels) tried when tuning the denoising baseline; 0 is no smoothing.
SIGMAS = (0.0, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0)
#: PSF widths (HR pixels) and balances tried for the Wiener deconvolution.
WIENER_SIGMAS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
WIENER_BALANCES = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
#: Non-local means strengths tried, in units of the estimated noise SD.
NL_MEANS_H = (0.2, 0.3, 0.45, 0.6, 0.8, 1.0, 1.3, 1.7, 2.2, 3.0)


@dataclasses.dataclass(frozen=True)
class Tuned:
    """The parameters of the tuned baselines (None: that baseline is left out)."""

    gaussian_sigma: float | None = None
    wiener_sigma: float | None = None
    wiener_balance: float | None = None
    nl_means_h: float | None = None


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


def _unit(image: np.ndarray) -> tuple[np.ndarray, float, float]:
    """The image on a 0-1 scale of its 0.1/99.9 percentiles, and the map back."""
    lo, hi = np.percentile(image, DEFAULT_PERCENTILES)
    span = float(hi - lo) or 1.0
    return (image - lo) / span, float(lo), span


def deconvolve(lr: np.ndarray, scale: int, offset: float, sigma: float, balance: float):
    """The deconvolution baseline: bicubic, then Wiener with a Gaussian PSF of ``sigma``.

    Reflect-padded before the FFT so the image edges do not ring; ``balance`` weighs
    the smoothness prior against the data on the image's 0-1 scale.
    """
    from skimage.restoration import wiener

    unit, lo, span = _unit(interpolate(lr, scale, offset, "bicubic"))
    radius = int(np.ceil(4 * sigma))
    x = np.arange(-radius, radius + 1)
    g = np.exp(-0.5 * (x / sigma) ** 2)
    psf = np.outer(g, g) / np.outer(g, g).sum()
    pad = 2 * radius + 2
    padded = np.pad(unit, pad, mode="reflect")
    out = wiener(padded, psf, balance, clip=False)[pad:-pad, pad:-pad]
    return (out * span + lo).astype(np.float32)


def nl_means(lr: np.ndarray, scale: int, offset: float, h: float) -> np.ndarray:
    """The non-local means baseline: the LR samples denoised (strength ``h`` x noise SD), then bicubic.

    Denoising the acquired samples, whose noise is white, before interpolating them
    keeps the noise estimate honest; at scale 1 the input is denoised directly.
    """
    from skimage.restoration import denoise_nl_means

    from .describe import noise_sigma  # skimage's estimate_sigma would need PyWavelets

    unit, lo, span = _unit(np.asarray(lr, np.float64))
    noise = noise_sigma(unit)
    clean = denoise_nl_means(unit, patch_size=5, patch_distance=6, h=h * noise, sigma=noise)
    return interpolate(clean * span + lo, scale, offset, "bicubic")


def care_squared_error(pred: np.ndarray, truth: np.ndarray) -> float:
    """The mean squared error after CARE normalisation (a gain or offset is not an error),
    what the baselines are tuned to minimise."""
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
    (sigma,) = _best(pairs, [(s,) for s in sigmas], scale, offset, smooth)
    return float(sigma)


def _best(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    candidates: Sequence[tuple],
    scale: int,
    offset: float,
    make: Callable[..., np.ndarray],
) -> tuple:
    """The candidate setting with the lowest summed error over the pairs."""
    errors = [
        sum(care_squared_error(make(lr, scale, offset, *c), hr) for lr, hr in pairs)
        for c in candidates
    ]
    return candidates[int(np.argmin(errors))]


@dataclasses.dataclass(frozen=True)
class Restoration:
    """A classical restoration baseline: its names, how it is made, how it is tuned.

    Attributes
    ----------
    key : str
        Its name in ``which`` of :func:`tune`.
    names : tuple of str
        What the benchmark calls it at scale 1 and at larger scales.
    make : callable
        ``make(lr, scale, offset, *setting)``, the restored HR plane.
    grid : tuple of tuples
        The settings tried when tuning on training pairs.
    fields : tuple of str
        The :class:`Tuned` fields a setting fills, in order.
    """

    key: str
    names: tuple[str, str]
    make: Callable[..., np.ndarray]
    grid: tuple[tuple, ...]
    fields: tuple[str, ...]

    def name(self, scale: int) -> str:
        return self.names[0] if scale == 1 else self.names[1]


#: Every restoration baseline, each carrying its own tuning grid.
RESTORATIONS = (
    Restoration(
        "gaussian",
        ("input+gaussian", "bicubic+gaussian"),
        smooth,
        tuple((s,) for s in SIGMAS),
        ("gaussian_sigma",),
    ),
    Restoration(
        "wiener",
        ("input+wiener", "bicubic+wiener"),
        deconvolve,
        tuple((s, b) for s in WIENER_SIGMAS for b in WIENER_BALANCES),
        ("wiener_sigma", "wiener_balance"),
    ),
    Restoration(
        "nl-means",
        ("nl-means", "nl-means+bicubic"),
        nl_means,
        tuple((h,) for h in NL_MEANS_H),
        ("nl_means_h",),
    ),
)


def tune(
    pairs: Sequence[tuple[np.ndarray, np.ndarray]],
    scale: int,
    offset: float,
    which: Sequence[str] = ("gaussian", "wiener", "nl-means"),
) -> Tuned:
    """Tune the restoration baselines on training pairs (lowest CARE-normalised error).

    Parameters
    ----------
    pairs : sequence of (lr, hr)
        2-D training planes, never the images that are scored.
    scale, offset : int, float
        Sampling geometry.
    which : sequence of str
        The baselines to tune; the others are left out of :func:`baselines`.
    """
    if not pairs:
        raise ValueError("tune needs at least one training pair")
    settings = {}
    for r in RESTORATIONS:
        if r.key in which:
            best = _best(pairs, r.grid, scale, offset, r.make)
            settings.update(zip(r.fields, map(float, best), strict=True))
    return Tuned(**settings)


def restoration_names(scale: int) -> dict[str, str]:
    """The names of the restoration baselines at a scale (``input+...`` at scale 1)."""
    return {r.key: r.name(scale) for r in RESTORATIONS}


def baselines(
    lr: np.ndarray,
    scale: int,
    offset: float,
    tuned: Tuned | float | None = None,
    interpolations: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Every baseline of one LR plane: the interpolations and the tuned restorations.

    ``tuned`` is a :class:`Tuned` from :func:`tune`, or a Gaussian width alone;
    ``interpolations`` keeps only some of :func:`interpolation_names` (default: all).
    At scale 1 the only interpolation is the input, whatever is asked.
    """
    if tuned is not None and not isinstance(tuned, Tuned):
        tuned = Tuned(gaussian_sigma=float(tuned))
    kept = interpolation_names(scale)
    if interpolations is not None and scale > 1:
        kept = tuple(m for m in kept if m in interpolations)
    out = {m: interpolate(lr, scale, offset, m) for m in kept}
    if tuned is None:
        return out
    for r in RESTORATIONS:
        setting = [getattr(tuned, f) for f in r.fields]
        if setting[0] is not None:
            out[r.name(scale)] = r.make(lr, scale, offset, *setting)
    return out
