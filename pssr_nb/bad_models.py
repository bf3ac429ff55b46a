"""Deliberately bad "models" that prove each check can fail.

A check that never fails says nothing. Each of these damages an output in one way a
network can, and each must be caught by the check meant for it (the tests and
``benchmarks/bench_invented.py`` show that it is):

- :func:`paint`: adds lines and objects of another field of the same specimen, at the
  specimen's contrast: invented structure (the traced lines, the flat field);
- :func:`over_sharpen`: an unsharp mask and a gamma curve: crisper-looking lines and
  amplified noise (the traced lines; the two-point test is not fooled by the gamma);
- :func:`blur`: a Gaussian: lost resolution (the two-point test, lost objects).

Each takes an image on the HR grid and returns the damaged image in the same units.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .metrics import care_normalize
from .normalize import DEFAULT_PERCENTILES
from .phantoms import simulate

__all__ = ["UNSHARP_SIGMA", "blur", "over_sharpen", "paint", "specimen_detail"]

#: The radius of :func:`over_sharpen`'s unsharp mask, in HR pixels.
UNSHARP_SIGMA = 2.0


def specimen_detail(
    specimen: str, shape: tuple[int, int], seed: int, microscope: str
) -> np.ndarray:
    """The fine structure (lines, objects) of a phantom field, on a 0-1 contrast scale."""
    other = simulate(specimen, shape, 4, seed=seed, microscope=microscope).truth
    other = care_normalize(other, other)[1]
    return other - ndimage.gaussian_filter(other, 6)


def paint(image: np.ndarray, detail: np.ndarray, contrast: float | None = None) -> np.ndarray:
    """``image`` with ``detail`` (:func:`specimen_detail`) added at ``contrast``.

    By default at the image's own contrast (its 0.1-99.9 percentile span); on a flat field,
    whose span is only noise, give the specimen's (1 in the normalised units).
    """
    if contrast is None:
        lo, hi = np.percentile(image, DEFAULT_PERCENTILES)
        contrast = float(hi - lo) or 1.0
    return image + contrast * detail[: image.shape[-2], : image.shape[-1]]


def over_sharpen(image: np.ndarray, amount: float = 1.5, gamma: float = 2.2) -> np.ndarray:
    """An unsharp mask of ``amount`` (Gaussian of :data:`UNSHARP_SIGMA`), then a gamma curve."""
    image = np.asarray(image, np.float64)
    sharp = image + amount * (image - ndimage.gaussian_filter(image, UNSHARP_SIGMA))
    lo, hi = np.percentile(sharp, [0.5, 99.5])
    return np.clip((sharp - lo) / (hi - lo or 1.0), 0, 1) ** gamma


def blur(image: np.ndarray, sigma: float = 2.0) -> np.ndarray:
    """A Gaussian blur of ``sigma`` pixels."""
    return ndimage.gaussian_filter(np.asarray(image, np.float64), sigma)
