"""Fourier ring correlation: resolution measured from two images of the same field.

Two images that share the specimen but not the noise agree at coarse spatial
frequencies and disagree where noise (or invention) takes over. The Fourier
ring correlation (FRC) is their normalised cross-correlation on each ring of
spatial frequency:

    FRC(r) = Re sum F1 conj(F2) / sqrt(sum |F1|^2 * sum |F2|^2),   |k| in ring r.

The resolution is the period ``1 / f`` at the frequency ``f`` where the curve
first falls below a threshold: the fixed 1/7 (Rosenthal & Henderson), or the
half-bit criterion of van Heel & Schatz (2005), which depends on the number of
pixels in each ring. The thresholds belong to two independent acquisitions of
equal SNR: between two repeat scans, each processed alike, the crossing is the
resolution the data support. Between an output and a noiseless truth the curve
is only a *spectral agreement* (isotonic linear filtering cancels out of a
per-ring correlation, so a blurred truth agrees perfectly): it is reported, but
not as a resolution.

Crossings are read from the curve smoothed over :data:`SMOOTHING` rings, since
the first crossing of a raw curve is decided by noise. :func:`shifted_repeats`
compares repeats whose scan grids are offset (the benchmark uses 4.5 LR pixels), so
that texture a method fixes to its output grid does not count as agreement,
and :func:`average` pools several such pairs with their spread.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from .errors import InputError
from .metrics import sample_sd

__all__ = ["SMOOTHING", "THRESHOLDS", "average", "frc", "FRCCurve", "shifted_repeats"]

THRESHOLDS = ("1/7", "half-bit")
#: Rings averaged (a centred moving mean) before a crossing is read.
SMOOTHING = 3


@dataclasses.dataclass
class FRCCurve:
    """An FRC curve with its thresholds.

    Attributes
    ----------
    frequency : ndarray
        Ring centres in cycles per pixel (0 to 0.5).
    correlation : ndarray
        FRC value of each ring.
    half_bit : ndarray
        The half-bit threshold of each ring.
    pixel_size : float or None
        nm per pixel, to express resolution in nm.
    per_draw : tuple of dict
        For an :func:`average` of several repeat pairs: each pair's :meth:`summary`.
    """

    frequency: np.ndarray
    correlation: np.ndarray
    half_bit: np.ndarray
    pixel_size: float | None = None
    per_draw: tuple[dict[str, float | None], ...] = ()

    def smoothed(self) -> np.ndarray:
        """The correlation averaged over :data:`SMOOTHING` neighbouring rings (ring 0 kept)."""
        c = self.correlation.copy()
        k = SMOOTHING // 2
        for i in range(1, len(c)):
            lo, hi = max(1, i - k), min(len(c), i + k + 1)
            c[i] = self.correlation[lo:hi].mean()
        return c

    def crossing(self, threshold: str = "1/7") -> float | None:
        """Frequency (cycles/pixel) where the smoothed curve first falls below the threshold.

        Linear interpolation between the two rings around the crossing; ``None`` when
        it never falls below (resolution limited by the pixel size, not measured).
        """
        if threshold not in THRESHOLDS:
            raise InputError(
                f"Unknown FRC threshold {threshold!r}.", fix=f"Use one of {THRESHOLDS}."
            )
        limit = np.full_like(self.correlation, 1 / 7) if threshold == "1/7" else self.half_bit
        curve = self.smoothed()
        below = np.nonzero(curve[1:] < limit[1:])[0]  # ring 0 is the mean
        if below.size == 0:
            return None
        i = below[0] + 1
        f0, f1 = self.frequency[i - 1], self.frequency[i]
        d0, d1 = curve[i - 1] - limit[i - 1], curve[i] - limit[i]
        return float(f0 + (f1 - f0) * d0 / (d0 - d1)) if d0 != d1 else float(f1)

    def resolution(self, threshold: str = "1/7") -> float | None:
        """The resolved period ``1 / f`` in nm (or pixels without a pixel size)."""
        f = self.crossing(threshold)
        if f is None or f <= 0:
            return None
        return (1 / f) * (self.pixel_size or 1.0)

    def summary(self) -> dict[str, float | int | None]:
        """Resolution at both thresholds (with the SD over draws of an average), for reports."""
        unit = "nm" if self.pixel_size else "px"
        out: dict[str, float | int | None] = {}
        for t in THRESHOLDS:
            key = f"resolution_{t}_{unit}"
            out[key] = self.resolution(t)
            if len(self.per_draw) > 1:
                values = [d[key] for d in self.per_draw if d[key] is not None]
                out[f"{key}_sd"] = sample_sd(values) if len(values) > 1 else None
        if self.per_draw:
            out["draws"] = len(self.per_draw)
        return out


def average(curves: Sequence[FRCCurve]) -> FRCCurve:
    """The mean curve of several repeat pairs, keeping each pair's resolutions."""
    first = curves[0]
    return FRCCurve(
        first.frequency,
        np.mean([c.correlation for c in curves], axis=0),
        first.half_bit,
        first.pixel_size,
        tuple(c.summary() for c in curves),
    )


def shifted_repeats(
    first: np.ndarray, second: np.ndarray, shift: int, pixel_size: float | None = None
) -> FRCCurve:
    """FRC of two outputs whose scans' grids were offset by ``shift`` HR pixels in y and x.

    ``second`` shows the field ``shift`` pixels further on: its pixel (y, x) is the
    first's (y + shift, x + shift). Both are cropped to the common field (whole pixels,
    no interpolation) before the FRC.
    """
    a = np.asarray(first)
    h, w = a.shape
    return frc(a[shift:, shift:], np.asarray(second)[: h - shift, : w - shift], pixel_size)


def _tukey(n: int, alpha: float = 0.25) -> np.ndarray:
    """A Tukey window: flat in the middle, cosine edges (avoids the edge cross)."""
    x = np.linspace(0, 1, n)
    w = np.ones(n)
    edge = x < alpha / 2
    w[edge] = 0.5 * (1 + np.cos(2 * np.pi / alpha * (x[edge] - alpha / 2)))
    edge = x > 1 - alpha / 2
    w[edge] = 0.5 * (1 + np.cos(2 * np.pi / alpha * (x[edge] - 1 + alpha / 2)))
    return w


def frc(
    first: np.ndarray, second: np.ndarray, pixel_size: float | None = None, rings: int | None = None
) -> FRCCurve:
    """Fourier ring correlation of two 2-D images of the same field.

    Parameters
    ----------
    first, second : ndarray
        Same shape; cropped to a centred square.
    pixel_size : float, optional
        nm per pixel.
    rings : int, optional
        Number of frequency rings between 0 and 0.5 cycles/pixel (default: side / 2).

    Returns
    -------
    FRCCurve

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(size=(128, 128))
    >>> float(frc(a, a).correlation[1:].min()) > 0.999
    True
    """
    a, b = np.asarray(first, np.float64), np.asarray(second, np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise InputError(f"FRC needs two 2-D images of one shape, got {a.shape} and {b.shape}.")
    n = min(a.shape)
    if n < 16:
        raise InputError(f"FRC needs images of at least 16 x 16 pixels, got {a.shape}.")
    y0, x0 = (a.shape[0] - n) // 2, (a.shape[1] - n) // 2
    window = np.outer(_tukey(n), _tukey(n))
    fa = np.fft.fftshift(np.fft.fft2((a[y0 : y0 + n, x0 : x0 + n] - a.mean()) * window))
    fb = np.fft.fftshift(np.fft.fft2((b[y0 : y0 + n, x0 : x0 + n] - b.mean()) * window))
    k = np.fft.fftshift(np.fft.fftfreq(n))
    radius = np.hypot(*np.meshgrid(k, k, indexing="ij"))
    rings = rings or n // 2
    which = np.floor(radius / 0.5 * rings).astype(int)
    inside = which < rings
    which, fa, fb = which[inside], fa[inside], fb[inside]
    cross = np.bincount(which, (fa * np.conj(fb)).real, rings)
    power_a = np.bincount(which, np.abs(fa) ** 2, rings)
    power_b = np.bincount(which, np.abs(fb) ** 2, rings)
    count = np.bincount(which, minlength=rings)
    correlation = cross / np.sqrt(np.maximum(power_a * power_b, 1e-300))
    # van Heel & Schatz (2005), half-bit information threshold for a ring of n_r pixels.
    root = np.sqrt(np.maximum(count, 1))
    half_bit = (0.2071 + 1.9102 / root) / (1.2071 + 0.9102 / root)
    frequency = (np.arange(rings) + 0.5) * 0.5 / rings
    return FRCCurve(frequency, correlation, half_bit, pixel_size)
