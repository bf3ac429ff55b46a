"""Numbers for the teaching cells: sampling and shot noise on a phantom whose truth is known.

Notebook 01 uses these to show *why* a fast scan is worse: its pixels are
larger than the optics need (undersampling), and each pixel collects fewer
photons or electrons (shot noise). On a phantom both can be measured against
the noiseless truth.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .phantoms import PhantomSet, acquire, physical_normalization

__all__ = ["NYQUIST_PIXELS_PER_FWHM", "sampling_table", "shot_noise_table"]

#: Nyquist sampling of a Gaussian PSF needs about this many pixels per FWHM.
NYQUIST_PIXELS_PER_FWHM = 2.3


def sampling_table(phantom: PhantomSet) -> list[dict[str, Any]]:
    """Pixels per PSF width for the HR and LR scans, and whether each meets Nyquist.

    Examples
    --------
    >>> from pssr_nb.phantoms import simulate
    >>> rows = sampling_table(simulate("em", (64, 64), 4))
    >>> [(r["scan"], r["pixel_nm"], r["nyquist"]) for r in rows]
    [('HR', 4.0, False), ('LR', 16.0, False)]
    """
    fwhm = phantom.microscope.psf_fwhm
    rows = []
    for scan, pixel in (("HR", phantom.pixel_size), ("LR", phantom.lr_pixel_size)):
        per_fwhm = fwhm / pixel
        rows.append(
            {
                "scan": scan,
                "pixel_nm": pixel,
                "psf_fwhm_nm": fwhm,
                "pixels_per_fwhm": round(per_fwhm, 2),
                "nyquist": per_fwhm >= NYQUIST_PIXELS_PER_FWHM,
                "undersampling": round(max(NYQUIST_PIXELS_PER_FWHM / per_fwhm, 1.0), 2),
            }
        )
    return rows


def shot_noise_table(
    phantom: PhantomSet, dwells_us: Sequence[float], seed: int = 0
) -> tuple[list[dict[str, Any]], dict[str, np.ndarray]]:
    """Scan the phantom's truth at several dwell times and measure the SNR of bright pixels.

    Returns
    -------
    rows : list of dict
        Per dwell: photons per pixel at intensity 1, the SNR expected from
        Poisson statistics (``sqrt(photons)``, read noise ignored), and the SNR
        measured against the truth in the brightest decile.
    scans : dict
        The scans, by a label such as ``"2 µs"``, for display.
    """
    m = phantom.microscope
    truth = phantom.truth if phantom.truth.ndim == 2 else phantom.truth[phantom.truth.shape[0] // 2]
    rng = np.random.default_rng(seed)
    bright = truth >= np.percentile(truth, 90)
    level = float(truth[bright].mean())
    rows, scans = [], {}
    for dwell in dwells_us:
        scan = acquire(truth, m, 1, dwell, rng)
        signal = physical_normalization(m, dwell).apply(scan)
        error = (signal - truth)[bright]
        photons = m.photons(dwell)
        rows.append(
            {
                "dwell_us": dwell,
                "photons_at_1": round(photons, 1),
                "expected_snr": round(float(np.sqrt(photons * level)), 1),
                "measured_snr": round(level / float(error.std()), 1),
            }
        )
        scans[f"{dwell:g} µs"] = scan
    return rows, scans
