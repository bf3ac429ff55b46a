"""Periodic texture at the LR sampling period: does the acquisition grid show through?

A network (or an interpolation) that works on the LR grid can leave a texture with the
LR pixel period in its output: pixel-shuffle layers that are not yet smooth, or an
interpolation's spectral replicas. It is invisible in PSNR and plain as a grid to the eye.
Its signature is power at the LR sampling frequency and its harmonics, the spatial
frequencies ``(k_y, k_x) / scale`` cycles per HR pixel (``k`` = 0 .. scale-1, not both 0).
:func:`grid_excess_db` compares an output's power there with the reference's.
"""

from __future__ import annotations

import numpy as np

from .metrics import care_normalize


def lattice_power(image: np.ndarray, scale: int) -> float:
    """Power of a 2-D image at the sampling-lattice frequencies (``±1`` bin, Hann window).

    The image is cropped to a multiple of ``scale``, so the lattice frequencies fall on
    FFT bins; the mean is removed, so the zero frequency does not count.
    """
    h, w = (n // scale * scale for n in np.shape(image))
    a = np.asarray(image, np.float64)[:h, :w]
    a = (a - a.mean()) * np.outer(np.hanning(h), np.hanning(w))
    power = np.abs(np.fft.fft2(a)) ** 2
    total = 0.0
    for ky in range(scale):
        for kx in range(scale):
            if ky == kx == 0:
                continue
            cy, cx = ky * h // scale, kx * w // scale
            rows = [(cy + d) % h for d in (-1, 0, 1)]
            cols = [(cx + d) % w for d in (-1, 0, 1)]
            total += float(power[np.ix_(rows, cols)].sum())
    return total


def grid_excess_db(output: np.ndarray, reference: np.ndarray, scale: int) -> float:
    """Power at the LR sampling lattice of ``output`` over that of ``reference``, in dB.

    The output is first fitted to the percentile-normalised reference (CARE), so a gain
    or offset does not count. 0 dB: no more lattice power than the reference has;
    positive: a grid texture (or replicas) added; negative: the output is smoother there.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> truth = rng.normal(size=(64, 64))
    >>> grid = truth + 0.5 * (np.indices((64, 64)).sum(0) % 4 == 0)  # a 4-pixel lattice
    >>> round(grid_excess_db(truth, truth, 4), 1), grid_excess_db(grid, truth, 4) > 3
    (0.0, True)
    """
    if scale < 2:
        return 0.0
    fitted, target = care_normalize(output, reference)
    return float(
        10 * np.log10(lattice_power(fitted, scale) / max(lattice_power(target, scale), 1e-30))
    )
