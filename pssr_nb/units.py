"""The network's input units: one definition, shared by training and prediction.

A network only works on inputs in the units it was trained on. Prediction cannot
borrow the units of the high-resolution image (there is none); it can only measure
the LR image it is given. So the units are defined by a measurement of an LR image,
:func:`input_normalization`, and training applies that same measurement to what it
feeds the network:

- **prediction**: a real LR image is mapped to ``(x - low) / (high - low)`` with
  ``low``/``high`` from :func:`input_normalization` of the whole image;
- **training**: every HR source is crappified once as a whole, in its own units, with
  the crappifier's typical noise (:meth:`~pssr_nb.crappify.Crappifier.typical`);
  :func:`training_units` measures that LR the same way, and each crappified tile and
  its target are mapped by the result.

The measurement is the 0.1/99.9 percentiles of the image after a Gaussian smoothing
of one LR pixel. Plain percentiles of a noisy scan widen with the noise (the 99.9th
percentile of a low-dose SEM scan lies far above the brightest structure), so units
measured on a noisier scan than the training's would change contrast and black level;
the smoothing takes most of the noise out of the measurement, and applying the same
measurement at training makes whatever bias is left the same on both sides.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np
import torch
from scipy import ndimage

from .crappify import Crappifier
from .data import Source
from .errors import InputError
from .normalize import DEFAULT_PERCENTILES, Normalization

__all__ = [
    "INPUT_SMOOTHING",
    "MAX_PLANES",
    "MAX_SIDE",
    "input_normalization",
    "planes_of",
    "smoothed_percentiles",
    "source_units",
    "to_units",
    "training_units",
]

#: Gaussian smoothing (in pixels of the image measured) before its percentiles are taken.
INPUT_SMOOTHING = 1.0
#: At most this many planes of a stack, and crops of this side of a large plane, are measured.
MAX_PLANES, MAX_SIDE = 8, 1024


def planes_of(data: np.ndarray, max_planes: int = MAX_PLANES) -> Iterator[np.ndarray]:
    """Up to ``max_planes`` evenly spaced 2-D planes of an array whose last axes are YX.

    A lazily chunked array (dask) stays lazy: only the planes taken are read later.
    """
    data = data if hasattr(data, "reshape") and hasattr(data, "ndim") else np.asarray(data)
    stack = data.reshape(-1, *data.shape[-2:]) if data.ndim > 2 else data[None]
    for i in np.unique(np.linspace(0, len(stack) - 1, min(max_planes, len(stack))).astype(int)):
        yield stack[i]


def _crops(plane: np.ndarray, side: int = MAX_SIDE) -> Iterator[np.ndarray]:
    """The plane, or for a large plane four ``side x side`` crops around its quadrant centres."""
    h, w = plane.shape
    if h * w <= side * side:
        yield plane
        return
    for cy in (h // 4, 3 * h // 4):
        for cx in (w // 4, 3 * w // 4):
            y0, x0 = max(0, min(h - side, cy - side // 2)), max(0, min(w - side, cx - side // 2))
            yield plane[y0 : y0 + side, x0 : x0 + side]


def smoothed_percentiles(
    planes: Iterable[np.ndarray],
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    sigma: float = INPUT_SMOOTHING,
) -> tuple[float, float]:
    """Percentiles of 2-D planes after a Gaussian smoothing of ``sigma`` pixels.

    Non-finite pixels are left out (they are replaced by the plane's median before
    smoothing, so they do not spread).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> clean = np.repeat(np.linspace(0, 1, 64)[None], 64, axis=0)
    >>> noisy = clean + rng.normal(0, 0.2, clean.shape)
    >>> [round(v, 2) for v in smoothed_percentiles([noisy])]  # plain percentiles: -0.42, 1.39
    [-0.12, 1.1]
    """
    values = []
    for plane in planes:
        plane = plane if hasattr(plane, "shape") and hasattr(plane, "ndim") else np.asarray(plane)
        for crop in _crops(plane):  # of a lazy plane, only the crops are read
            crop = np.asarray(crop, np.float64)
            finite = np.isfinite(crop)
            if not finite.any():
                continue
            if not finite.all():
                crop = np.where(finite, crop, np.median(crop[finite]))
            smooth = ndimage.gaussian_filter(crop, sigma, mode="reflect") if sigma > 0 else crop
            values.append(smooth[finite].ravel())
    if not values:
        raise InputError(
            "The image holds no finite pixel value (all NaN or Inf).",
            fix="Check the export settings of the acquisition software.",
        )
    low, high = np.percentile(np.concatenate(values), percentiles)
    return float(low), float(high if high > low else low + 1.0)


def input_normalization(
    data: np.ndarray,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    sigma: float = INPUT_SMOOTHING,
) -> Normalization:
    """The network input units of an LR image or stack (last two axes YX), in its file units.

    Examples
    --------
    >>> lr = np.full((32, 32), 100, np.uint16); lr[8:24, 8:24] = 300
    >>> norm = input_normalization(lr)
    >>> norm.dtype, round(norm.low), round(norm.high)
    ('uint16', 100, 300)
    """
    low, high = smoothed_percentiles(planes_of(data), percentiles, sigma)
    return Normalization(low, high, str(np.dtype(data.dtype)), *percentiles)


def training_units(
    planes: Iterable[np.ndarray],
    crappifier: Crappifier,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    sigma: float = INPUT_SMOOTHING,
    seed: int = 0,
) -> tuple[float, float]:
    """``(low, span)`` of the input units of one training image, in its normalised HR units.

    The HR ``planes`` (normalised) are crappified whole with the crappifier's typical
    parameters and measured as :func:`input_normalization` measures a real LR image.
    """
    typical = crappifier.typical()
    hr_crops = (crop for plane in planes for crop in _crops(plane, MAX_SIDE * crappifier.scale))
    lr_crops = (
        typical(np.ascontiguousarray(crop, np.float32), seed=seed + i)
        for i, crop in enumerate(hr_crops)
    )
    low, high = smoothed_percentiles(lr_crops, percentiles, sigma)
    return low, high - low


def source_units(sources: Sequence[Source], crappifier: Crappifier, seed: int = 0) -> torch.Tensor:
    """:func:`training_units` of every training source: ``(n_sources, 2)`` float32."""
    return torch.tensor(
        [
            training_units(
                (s.normalization.apply(plane) for plane in planes_of(s.data)), crappifier, seed=seed
            )
            for s in sources
        ],
        dtype=torch.float32,
    )


def to_units(x: torch.Tensor, units: torch.Tensor) -> torch.Tensor:
    """Map a batch ``(N, C, H, W)`` into per-sample units ``(N, 2)`` of ``(low, span)``."""
    return (x - units[:, :1, None, None]) / units[:, 1:, None, None]
