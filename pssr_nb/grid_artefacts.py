"""Periodic texture at the LR sampling period: does the acquisition grid show through?

A network (or an interpolation) that works on the LR grid can leave a texture with the
LR pixel period in its output: pixel-shuffle layers whose sub-pixel filters differ, or
an interpolation's spectral replicas. It is invisible in PSNR and plain as a grid to the
eye. Its signature is a spike in the power spectrum at the LR sampling frequency and its
harmonics, ``(k_y, k_x) / scale`` cycles per HR pixel (``k`` = 0 .. scale-1, not both 0).

:func:`grid_spike_db` measures how far the power at those frequencies stands above the
power of the frequencies around them, and :func:`grid_excess_db` compares that with the
reference's. A spike, not a level: an output with more broadband detail or noise than the
reference has more power everywhere, at the lattice too, without any grid; and
interpolation kernels that reproduce constants have spectral zeros exactly at the
lattice, so a level compared with the reference would rank every output with residual
noise as "more grid" than a plain interpolation.
"""

from __future__ import annotations

import numpy as np

from .metrics import care_normalize

__all__ = ["PEAK", "RING", "grid_excess_db", "grid_spike_db"]

#: Chebyshev distance in FFT bins: the lattice bin and its neighbours up to ``PEAK``
#: (the Hann window spreads a pure tone over them), and the ring ``PEAK + 2 .. RING`` they
#: are compared with.
PEAK, RING = 1, 5


def grid_spike_db(image: np.ndarray, scale: int) -> float:
    """Power at the sampling-lattice frequencies over the power around them, in dB.

    The image is cropped to a multiple of ``scale`` (so the lattice frequencies fall on
    FFT bins), its mean removed and a Hann window applied; powers are summed over all
    lattice points before the ratio is taken. About 0 dB for a smooth spectrum.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> noise = rng.normal(size=(128, 128))
    >>> lattice = np.indices((128, 128)).sum(0) % 4 == 0
    >>> abs(grid_spike_db(noise, 4)) < 1, grid_spike_db(noise + lattice, 4) > 10
    (True, True)
    """
    h, w = (n // scale * scale for n in np.shape(image))
    a = np.asarray(image, np.float64)[:h, :w]
    a = (a - a.mean()) * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(a)) ** 2
    dy, dx = np.meshgrid(np.arange(-RING, RING + 1), np.arange(-RING, RING + 1), indexing="ij")
    distance = np.maximum(abs(dy), abs(dx))
    peak = around = 0.0
    for ky in range(scale):
        for kx in range(scale):
            if ky == kx == 0:
                continue
            block = power[(ky * h // scale + dy) % h, (kx * w // scale + dx) % w]
            peak += float(block[distance <= PEAK].mean())
            around += float(block[distance >= PEAK + 2].mean())
    return float(10 * np.log10(max(peak, 1e-30) / max(around, 1e-30)))


def grid_excess_db(output: np.ndarray, reference: np.ndarray, scale: int) -> float:
    """How much more the LR sampling lattice stands out in ``output`` than in ``reference``.

    :func:`grid_spike_db` of the output (fitted to the percentile-normalised reference,
    CARE, so a gain or offset does not count) minus that of the reference, in dB.
    0: the lattice stands out no more than in the reference; positive: a grid texture
    added; negative: the output is smoother at the lattice than around it.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=(64, 64))
    >>> grid = truth + 0.5 * (np.indices((64, 64)).sum(0) % 4 == 0)  # a 4-pixel lattice
    >>> abs(grid_excess_db(truth, truth, 4)) < 1e-9, grid_excess_db(grid, truth, 4) > 3
    (True, True)
    """
    if scale < 2:
        return 0.0
    fitted, target = care_normalize(output, reference)
    return grid_spike_db(fitted, scale) - grid_spike_db(target, scale)
