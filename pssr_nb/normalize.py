"""Percentile normalisation that remembers how to map back.

Images enter the library in their own units (8-bit, 16-bit, float, signed)
and are mapped to float32 with ``(x - low) / (high - low)``, where ``low`` and
``high`` are percentiles of the image. The mapping is recorded in a
:class:`Normalization` that travels with the data and with the model, so
predictions can be written back in the input's range and dtype.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from .errors import InputError

__all__ = ["DEFAULT_PERCENTILES", "Normalization", "percentile_normalization"]

#: Default percentiles: robust to a few hot or dead pixels, keeps almost all contrast.
DEFAULT_PERCENTILES = (0.1, 99.9)


@dataclasses.dataclass(frozen=True)
class Normalization:
    """An affine map from file units to the library's float32 units.

    Parameters
    ----------
    low, high : float
        Values (in file units) that map to 0 and 1.
    dtype : str
        The dtype of the source data, used by :meth:`invert` by default.
    p_low, p_high : float, optional
        The percentiles ``low`` and ``high`` came from, for the record.

    Examples
    --------
    >>> norm = Normalization(low=10.0, high=210.0, dtype="uint8")
    >>> norm.apply(np.array([10, 110, 210], dtype=np.uint8))
    array([0. , 0.5, 1. ], dtype=float32)
    >>> norm.invert(np.array([0.0, 0.5, 1.2], dtype=np.float32))
    array([ 10, 110, 250], dtype=uint8)
    """

    low: float
    high: float
    dtype: str = "float32"
    p_low: float | None = None
    p_high: float | None = None

    @property
    def span(self) -> float:
        """``high - low``, never zero."""
        return self.high - self.low

    def apply(self, x: np.ndarray) -> np.ndarray:
        """Map file units to float32 library units.

        NaN pixels become 0 (the low percentile: background) and infinities 0 or 1,
        so one bad pixel cannot spread through a network.
        """
        y = (np.asarray(x, dtype=np.float32) - np.float32(self.low)) / np.float32(self.span)
        if not np.isfinite(y).all():
            y = np.nan_to_num(y, nan=0.0, posinf=1.0, neginf=0.0)
        return y.astype(np.float32, copy=False)

    def invert(self, y: np.ndarray, dtype: str | np.dtype | None = None) -> np.ndarray:
        """Map library units back to file units.

        Integer outputs are rounded and clipped to the dtype's range, so a
        bright prediction saturates rather than wrapping around.
        """
        out_dtype = np.dtype(dtype or self.dtype)
        y = np.asarray(y)
        integer = out_dtype.kind in "iu"
        # float32 holds every 8/16-bit value exactly; wider types need float64
        work = np.float64 if out_dtype.itemsize > (2 if integer else 4) else np.float32
        out = np.empty(y.shape, out_dtype)
        flat_in, flat_out = y.reshape(-1), out.reshape(-1)
        chunk = 1 << 22  # bounded temporaries for large images
        for i in range(0, flat_in.size, chunk):
            x = flat_in[i : i + chunk].astype(work) * work(self.span) + work(self.low)
            if integer:
                x = np.clip(np.rint(x), np.iinfo(out_dtype).min, np.iinfo(out_dtype).max)
            flat_out[i : i + chunk] = x
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready representation."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalization:
        """Inverse of :meth:`to_dict`."""
        return cls(**d)


def percentile_normalization(
    data: np.ndarray,
    percentiles: tuple[float, float] = DEFAULT_PERCENTILES,
    max_samples: int = 1 << 22,
) -> Normalization:
    """Measure a :class:`Normalization` from an image's percentiles.

    Parameters
    ----------
    data : ndarray
        Image or stack of any dtype (memory maps are read only in part).
    percentiles : (float, float)
        Lower and upper percentile, mapped to 0 and 1.
    max_samples : int
        Large stacks are measured on an evenly strided subset of this many pixels.

    Returns
    -------
    Normalization

    Raises
    ------
    InputError
        If the image holds no finite value.
    """
    p_low, p_high = percentiles
    if not 0 <= p_low < p_high <= 100:
        raise InputError(
            f"Percentiles must satisfy 0 <= low < high <= 100, got {percentiles}.",
            fix="Use for example (0.1, 99.9).",
        )
    flat = np.asarray(data).reshape(-1)
    step = max(1, flat.size // max_samples)
    sample = np.asarray(flat[::step], dtype=np.float64)
    finite = sample[np.isfinite(sample)]
    if finite.size == 0:
        raise InputError(
            "The image holds no finite pixel value (all NaN or Inf).",
            fix="Check the export settings of the acquisition software.",
        )
    low, high = np.percentile(finite, [p_low, p_high])
    if high <= low:
        # A constant (or nearly constant) image: keep the offset, use unit span.
        high = low + 1.0
    return Normalization(float(low), float(high), str(np.dtype(data.dtype)), p_low, p_high)
