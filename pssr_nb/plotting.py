"""Figures for notebooks and reports (the only core module that draws)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def display_range(
    image: np.ndarray, percentiles: tuple[float, float] = (0.5, 99.5)
) -> tuple[float, float]:
    """Contrast limits from percentiles of the finite pixels."""
    finite = np.asarray(image, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = np.percentile(finite, percentiles)
    return float(lo), float(hi if hi > lo else lo + 1)


def image_grid(
    images: Mapping[str, np.ndarray],
    ncols: int = 3,
    size: float = 3.2,
    same_extent: bool = True,
):
    """Show 2-D images side by side with titles, each with its own contrast.

    Parameters
    ----------
    images : mapping of title to 2-D array
        Images of different pixel counts are drawn over the same field of view
        when ``same_extent`` is True (an LR image covers the same area as its HR image).
    ncols : int
        Images per row.
    size : float
        Panel size in inches.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows), squeeze=False)
    extent = None
    for ax, (title, image) in zip(axes.flat, images.items(), strict=False):
        if same_extent and extent is None:
            extent = (0, image.shape[1], image.shape[0], 0)
        lo, hi = display_range(image)
        ax.imshow(image, cmap="gray", vmin=lo, vmax=hi, interpolation="nearest", extent=extent)
        ax.set_title(f"{title}\n{image.shape[0]}x{image.shape[1]} {image.dtype}", fontsize=9)
        ax.set_axis_off()
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
